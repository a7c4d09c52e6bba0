"""`eessi-bot try` with real local jobs (issue 14): the login it comments as, an exit status for each
outcome, and a job tree per run, so a run's jobs that go on after --timeout are never touched by the
next run."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

import pytest

from eessi_bot.cli.main import main
from tests.fakes.site import write_site
from tests.fakes.upstream import git
from tests.slurm import SlurmSession
from tests.waiting import wait_for

BUILD_SH = """#!/bin/bash
echo "building $(cat what)"
sleep "$(cat seconds 2>/dev/null || echo 0)"
"""
CHECK_BUILD_SH = """#!/bin/bash
status=$(cat outcome 2>/dev/null || echo SUCCESS)
printf '[RESULT]\\ncomment_description = built %s: %s\\nstatus = %s\\nartefacts =\\n' "$(cat what)" "$status" \\
    "$status" > "_bot_job${SLURM_JOB_ID}.result"
"""
BRANCHES = {"good": {"what": "zlib"}, "bad": {"what": "GCC", "outcome": "FAILURE"},
            "slow": {"what": "slow", "seconds": "4"}}
BUILD = "bot: build for:arch=x86_64/amd/zen2 repo:eessi.io-2023.06-software"
TARGET = "x86_64/amd/zen2/cpu_zen2/eessi.io-2023.06-software"
DEFAULT_LOGIN = ("try: commenting as maintainer, the first login of [buildenv] build_permission; --as LOGIN chooses "
                 "another")


def checkout(root: Path) -> Path:
    """A target repository: `main` with the bot's scripts, a branch per kind of build."""
    repo = root / "checkout"
    (repo / "bot").mkdir(parents=True)
    (repo / "bot" / "build.sh").write_text(BUILD_SH)
    (repo / "bot" / "check-build.sh").write_text(CHECK_BUILD_SH)
    (repo / "what").write_text("nothing\n")
    for script in (repo / "bot").iterdir():
        script.chmod(0o755)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    for branch, files in BRANCHES.items():
        git(repo, "checkout", "-q", "-b", branch, "main")
        for name, content in files.items():
            (repo / name).write_text(content + "\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", branch)
    git(repo, "checkout", "-q", "main")
    return repo


@dataclass(frozen=True)
class Site:
    repo: Path
    cfg: Path
    jobs: Path


@pytest.fixture
def trial_site(tmp_path: Path) -> Site:
    cfg = write_site(tmp_path / "site", command_permission="alice maintainer", build_permission="maintainer",
                     extra="\n[job_manager]\npoll_interval = 1\n")
    return Site(checkout(tmp_path), cfg, tmp_path / "site" / "jobs")


def trial(site: Site, capsys: pytest.CaptureFixture[str], branch: str, *args: str) -> Tuple[int, List[str]]:
    code = main(["try", "--repo", str(site.repo), "--branch", branch, "--config", str(site.cfg), *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err and captured.err == "", captured.err
    return code, captured.out.splitlines()


def tree_of(lines: List[str]) -> Path:
    (tree,) = [line.split(" is ", 1)[1] for line in lines if line.startswith("try: this run's job tree is ")]
    return Path(tree)


def job_dir(tree: Path) -> Path:
    (event,) = (tree / next(tree.glob("2*")).name / "try" / "repository" / "pr_1").glob("event_*")
    return event / "run_000" / TARGET


def result_lines(lines: List[str]) -> List[str]:
    """The report after the printed comments: one line per job, then the verdict."""
    last_blank = len(lines) - 1 - lines[::-1].index("")
    return lines[last_blank + 1:]


OUTCOMES = [
    # (id, branch, arguments, exit status, first line, each job's outcome, the last line, in the output)
    ("succeeds", "good", [BUILD], 0, DEFAULT_LOGIN, ["SUCCESS"], "try: every job succeeded",
     "finished: built zlib: SUCCESS"),
    ("fails", "bad", [BUILD], 1, DEFAULT_LOGIN, ["FAILURE"], "try: 1 of 1 job(s) failed",
     "finished: built GCC: FAILURE"),
    ("may-not-send-commands", "good", ["--as", "stranger", BUILD], 3, "try: commenting as stranger, given with --as",
     [], "try: refused: stranger may not send commands ([bot_control] command_permission: alice, maintainer); "
     "--as LOGIN comments as someone else", "account `stranger` has NO permission to send commands to the bot"),
    ("may-not-build", "good", ["--as", "alice", BUILD], 3, "try: commenting as alice, given with --as", [],
     "try: refused: alice may not build ([buildenv] build_permission: maintainer); --as LOGIN comments as someone "
     "else", "account `alice` has NO permission to submit build jobs"),
    ("no-node-type-matches", "good", ["bot: build for:arch=aarch64/neoverse_v1"], 4, DEFAULT_LOGIN, [],
     "try: no job was submitted and the bot stays silent (see above); instance:test-bot in the command makes it "
     "say why", "nothing for this instance: build for:architecture=aarch64/neoverse_v1"),
    ("addressed-no-match-says-why", "good", ["bot: build for:arch=aarch64/neoverse_v1 instance:test-bot"], 4,
     DEFAULT_LOGIN, [], "try: no job was submitted; the bot's answer above says why",
     "no jobs were submitted: no node type of this instance matches"),
    ("not-a-build", "good", ["bot: help"], 4, DEFAULT_LOGIN, [],
     "try: no job was submitted; the bot's answer above says why", "bot: build"),
]


@pytest.mark.parametrize(("branch", "args", "status", "first", "outcomes", "last", "shown"),
                         [o[1:] for o in OUTCOMES], ids=[o[0] for o in OUTCOMES])
def test_exit_status_says_what_happened(trial_site: Site, capsys: pytest.CaptureFixture[str], branch: str,
                                        args: List[str], status: int, first: str, outcomes: List[str], last: str,
                                        shown: str) -> None:
    code, lines = trial(trial_site, capsys, branch, "--timeout", "60", *args)
    assert code == status, "\n".join(lines)
    assert lines[0] == first
    tree = tree_of(lines)
    assert tree.parent == trial_site.jobs / "try"
    expected = [f"try: job 1 (cpu_zen2, eessi.io-2023.06-software): {o}; {job_dir(tree)}" for o in outcomes]
    assert result_lines(lines) == [*expected, last]
    assert any(shown in line for line in lines), "\n".join(lines)


def test_a_run_after_timeout_leaves_the_first_runs_job_alone(trial_site: Site,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The first run's job goes on after --timeout; a second run gets a tree of its own, and the first
    job ends in its own directory with its own result."""
    code, first = trial(trial_site, capsys, "slow", "--timeout", "1", BUILD)
    assert code == 5, "\n".join(first)
    slow_tree = tree_of(first)
    slow_job = job_dir(slow_tree)
    assert result_lines(first) == [
        f"try: job 1 (cpu_zen2, eessi.io-2023.06-software): released, not seen running yet; {slow_job}",
        "try: 1 job(s) not finished after 1 s; they go on, and their directories will hold their results"]
    assert not (slow_job / "_bot_local.exit").exists(), "the job still runs"

    code, second = trial(trial_site, capsys, "good", "--timeout", "60", BUILD)
    assert code == 0, "\n".join(second)
    good_tree = tree_of(second)
    assert good_tree != slow_tree and good_tree.parent == slow_tree.parent
    assert re.fullmatch(r"\d{8}-\d{6}-\d+(-\d+)?", good_tree.name)
    assert [p for p in job_dir(good_tree).parts if p.startswith("event_")] == [f"event_try-{good_tree.name}-1"]

    wait_for(lambda: (slow_job / "_bot_local.exit").exists(), timeout=30)
    assert (slow_job / "_bot_local.exit").read_text().split() == ["0", "COMPLETED"]
    assert "built slow: SUCCESS" in (slow_job / "_bot_job1.result").read_text()
    assert "\nbuilding slow\n" in (slow_job / "slurm-1.out").read_text()
    assert "building zlib" in (job_dir(good_tree) / "slurm-1.out").read_text()


def test_held_jobs_are_cancelled_at_timeout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With one job at a time, the second job is still held at --timeout: nobody would release it
    after try, so it is cancelled; the running one goes on."""
    cfg = write_site(tmp_path / "site", buildenv_extra="local_max_jobs = 1",
                     extra="\n[job_manager]\npoll_interval = 1\n")
    site = Site(checkout(tmp_path), cfg, tmp_path / "site" / "jobs")
    code, lines = trial(site, capsys, "slow", "--timeout", "1", "bot: build for:arch=x86_64/amd/zen2")
    assert code == 5, "\n".join(lines)
    assert "try: cancelled held job(s) 2: nobody would release them once try has ended" in lines
    tree = tree_of(lines)
    (event,) = (tree / next(tree.glob("2*")).name / "try" / "repository" / "pr_1").glob("event_*")
    held = event / "run_000" / "x86_64/amd/zen2/cpu_zen2/eessi.io-2023.06-software"
    running = event / "run_000" / "x86_64/amd/zen2/cpu_zen2/eessi.io-2023.06-compat"
    assert result_lines(lines) == [
        f"try: job 1 (cpu_zen2, eessi.io-2023.06-compat): released, not seen running yet; {running}",
        f"try: job 2 (cpu_zen2, eessi.io-2023.06-software): cancelled while held; {held}",
        "try: 1 job(s) not finished after 1 s; they go on, and their directories will hold their results"]
    wait_for(lambda: (held / "_bot_local.exit").exists(), timeout=10)
    assert (held / "_bot_local.exit").read_text().split() == ["130", "CANCELLED"]
    assert not (held / "slurm-2.out").exists(), "the held job never started"
    wait_for(lambda: (running / "_bot_local.exit").exists(), timeout=30)


NO_CONFIG = [
    # (id, branch, --timeout, exit status, is the directory kept)
    ("done-removed", "good", "60", 0, False),
    ("jobs-go-on-kept", "slow", "1", 5, True),
]


@pytest.mark.parametrize(("branch", "timeout", "status", "kept"), [n[1:] for n in NO_CONFIG],
                         ids=[n[0] for n in NO_CONFIG])
def test_without_config_the_embedded_one_in_a_directory_of_its_own(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, branch: str,
        timeout: str, status: int, kept: bool) -> None:
    """The embedded configuration and its job tree go to a temporary directory, removed at the end
    unless jobs go on there; the bot's state directory is removed in any case."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    repo = checkout(tmp_path)
    code = main(["try", "--repo", str(repo), "--branch", branch, "--timeout", timeout,
                 "bot: build for:arch=x86_64/amd/zen2"])
    lines = capsys.readouterr().out.splitlines()
    assert code == status, "\n".join(lines)
    assert lines[0] == DEFAULT_LOGIN
    tree = tree_of(lines)
    root = tree.parents[2]
    assert root.parent == tmp_path / "tmp" and root.name.startswith("eessi-bot-try-")
    if kept:
        assert lines[-1] == f"try: kept {root} (the embedded configuration and the job tree): the jobs go on there"
        assert [p.name for p in (tmp_path / "tmp").iterdir()] == [root.name], "the state directory is removed"
        wait_for(lambda: (job_dir(tree) / "_bot_local.exit").exists(), timeout=30)
    else:
        assert lines[-2:] == ["try: every job succeeded", f"try: removed {root} (the embedded configuration and the "
                              "job tree); with --config the job tree stays"]
        assert list((tmp_path / "tmp").iterdir()) == []


def test_on_slurm_with_eessi_texts(slurm: SlurmSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`try` with a Slurm site: the job runs on the cluster and its rows keep EESSI's Slurm texts."""
    nodes = ('{"cpu_zen2": {"os": "linux", "cpu_subdir": "x86_64/amd/zen2", "slurm_params": "-p zen2", '
             '"repo_targets": ["eessi.io-2023.06-software"]}}')
    cfg = write_site(tmp_path / "site", backend="slurm", node_type_map=nodes, buildenv_extra=f"job_name = {slurm.name}",
                     extra="\n[job_manager]\npoll_interval = 1\n")
    site = Site(checkout(tmp_path), cfg, tmp_path / "site" / "jobs")
    code, lines = trial(site, capsys, "good", "--timeout", "120", BUILD)
    assert code == 0, "\n".join(lines)
    assert lines[0] == DEFAULT_LOGIN
    (job_id,) = {m.group(1) for line in lines for m in [re.match(r"  job (\d+) \(cpu_zen2", line)] if m}
    assert f"  job {job_id} (cpu_zen2, eessi.io-2023.06-software): released: job awaits launch by Slurm scheduler" \
        in lines
    assert result_lines(lines) == [f"try: job {job_id} (cpu_zen2, eessi.io-2023.06-software): SUCCESS; "
                                   f"{job_dir(tree_of(lines))}", "try: every job succeeded"]
