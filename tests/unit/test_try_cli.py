"""`eessi-bot try`: wrong invocations answered in plain lines with status 2, the login it comments as
and why, its own job tree per run, and what its exit status says about the jobs (issue 14).

Runs with real jobs are in tests/integration/test_try.py.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from eessi_bot.adapters.config_files import load_config
from eessi_bot.cli import try_cmd
from eessi_bot.cli.main import main
from eessi_bot.core.config import Config, Severity
from eessi_bot.core.jobs import Job, JobState
from tests.fakes.site import write_site
from tests.fakes.upstream import git


@pytest.fixture
def places(tmp_path: Path) -> Dict[str, str]:
    """A checkout with `main` and `feature`, and wrong things to give instead."""
    repo = tmp_path / "checkout"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "base")
    git(repo, "branch", "feature")
    (tmp_path / "plain").mkdir()
    (tmp_path / "file.txt").write_text("not a checkout\n")
    broken = write_site(tmp_path / "broken", extra="\n[bot_control]\nchatlevel = loud\n")
    return {"@repo": str(repo), "@plain": str(tmp_path / "plain"), "@file": str(tmp_path / "file.txt"),
            "@missing": str(tmp_path / "nope"), "@broken": str(broken), "@nocfg": str(tmp_path / "nope.cfg")}


def fill(text: str, places: Dict[str, str]) -> str:
    for name in sorted(places, key=len, reverse=True):
        text = text.replace(name, places[name])
    return text


def first_error(cfg: str) -> str:
    """How load_config words the first error of `cfg` (its wording is check-config's business)."""
    _, problems = load_config(Path(cfg))
    return next(p for p in problems if p.severity is Severity.ERROR).render()


BUILD = "bot: build for:arch=x86_64/amd/zen2"
HINT = "give a local checkout of the target repository"
MISTAKES = [
    # (id, arguments after `try`, stderr's lines)
    ("branch-missing", ["--repo", "@repo", "--branch", "nope", BUILD],
     ["--branch nope: no such branch or commit in @repo; 'git -C @repo branch -a' lists the branches"]),
    ("branch-like-an-option", ["--repo", "@repo", "--branch=--all", BUILD],
     ["--branch --all: no such branch or commit in @repo; 'git -C @repo branch -a' lists the branches"]),
    ("base-missing", ["--repo", "@repo", "--branch", "feature", "--base", "trunk", BUILD],
     ["--base trunk: no such branch or commit in @repo; give the PR's base branch with --base"]),
    ("repo-missing", ["--repo", "@missing", "--branch", "feature", BUILD],
     [f"--repo @missing: no such directory; {HINT}"]),
    ("repo-is-a-file", ["--repo", "@file", "--branch", "feature", BUILD], [f"--repo @file is not a directory; {HINT}"]),
    ("repo-not-git", ["--repo", "@plain", "--branch", "feature", BUILD],
     [f"--repo @plain is not a git checkout (not a git repository (or any of the parent directories): .git); {HINT}"]),
    ("timeout-zero", ["--repo", "@repo", "--branch", "feature", "--timeout", "0", BUILD],
     ["--timeout 0: give the seconds to follow the jobs, a number above 0"]),
    ("timeout-negative", ["--repo", "@repo", "--branch", "feature", "--timeout=-5", BUILD],
     ["--timeout -5: give the seconds to follow the jobs, a number above 0"]),
    ("timeout-nan", ["--repo", "@repo", "--branch", "feature", "--timeout", "nan", BUILD],
     ["--timeout nan: give the seconds to follow the jobs, a number above 0"]),
    ("as-a-bot", ["--repo", "@repo", "--branch", "feature", "--as", "dependabot[bot]", BUILD],
     ["--as 'dependabot[bot]' is not a GitHub login (letters, digits and single hyphens, at most 39)"]),
    ("as-empty", ["--repo", "@repo", "--branch", "feature", "--as", "", BUILD],
     ["--as '' is not a GitHub login (letters, digits and single hyphens, at most 39)"]),
    ("as-too-long", ["--repo", "@repo", "--branch", "feature", "--as", "a-" * 20, BUILD],
     [f"--as '{'a-' * 20}' is not a GitHub login (letters, digits and single hyphens, at most 39)"]),
    ("as-two-logins", ["--repo", "@repo", "--branch", "feature", "--as", "alice,bob", BUILD],
     ["--as 'alice,bob' is not a GitHub login (letters, digits and single hyphens, at most 39)"]),
    ("config-with-errors", ["--repo", "@repo", "--branch", "feature", "--config", "@broken", BUILD],
     ["@first-error", "the configuration has 1 error(s); 'eessi-bot check-config --config @broken' lists them all"]),
    ("config-missing", ["--repo", "@repo", "--branch", "feature", "--config", "@nocfg", BUILD],
     ["@first-error", "the configuration has 1 error(s); 'eessi-bot check-config --config @nocfg' lists them all"]),
]


@pytest.mark.parametrize(("args", "expected"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_wrong_invocation_is_status_2_in_plain_lines(places: Dict[str, str], capsys: pytest.CaptureFixture[str],
                                                     args: List[str], expected: List[str]) -> None:
    argv = ["try", *(fill(a, places) for a in args)]
    config = next((argv[i + 1] for i, a in enumerate(argv) if a == "--config"), None)
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = [fill(line, places).replace("@first-error", first_error(config) if config else "")
             for line in expected]
    assert captured.err.splitlines() == [f"eessi-bot try: {lines[0]}", *lines[1:]]
    assert captured.out == ""


def site(tmp_path: Path, build: str, command: str) -> Tuple[Config, Path]:
    cfg = write_site(tmp_path, build_permission=build, command_permission=command)
    config, problems = load_config(cfg)
    assert config is not None, [p.render() for p in problems]
    return config, cfg


AGAIN = "; --as LOGIN chooses another"
LOGINS = [
    # (id, build_permission, command_permission, --as, login, why)
    ("first-builder", "maintainer alice", "alice maintainer", None, "maintainer",
     f"the first login of [buildenv] build_permission{AGAIN}"),
    ("app-cfg-order-not-alphabetical", "zed alice", "*", None, "zed",
     f"the first login of [buildenv] build_permission{AGAIN}"),
    ("first-builder-who-may-command", "alice maintainer", "maintainer", None, "maintainer",
     f"the first login of [buildenv] build_permission that may also send commands{AGAIN}"),
    ("no-builder-may-command", "bob carol", "alice", None, "bob",
     f"the first login of [buildenv] build_permission{AGAIN}"),
    ("everyone-builds", "*", "alice bob", None, "alice",
     f"the first login of [bot_control] command_permission ([buildenv] build_permission allows everyone){AGAIN}"),
    ("nobody-builds", "", "alice", None, "alice", "the first login of [bot_control] command_permission "
     f"([buildenv] build_permission is empty: nobody may build){AGAIN}"),
    ("everyone-everything", "*", "*", None, "try-user", "a stand-in ([buildenv] build_permission allows everyone, "
     f"[bot_control] command_permission allows everyone){AGAIN}"),
    ("nobody-anything", "", "", None, "try-user", "a stand-in ([buildenv] build_permission is empty: nobody may "
     f"build, [bot_control] command_permission is empty: nobody may send commands){AGAIN}"),
    ("as-given", "maintainer", "maintainer", "carol", "carol", "given with --as"),
]


@pytest.mark.parametrize(("build", "command", "as_login", "login", "why"), [c[1:] for c in LOGINS],
                         ids=[c[0] for c in LOGINS])
def test_the_login_it_comments_as(tmp_path: Path, build: str, command: str, as_login: Optional[str], login: str,
                                  why: str) -> None:
    config, cfg = site(tmp_path, build, command)
    assert try_cmd.choose_login(config, cfg, as_login) == (login, why)


REFUSALS = [
    # (id, build_permission, command_permission, login, comment, why the bot refuses, or None)
    ("may-build", "maintainer", "maintainer", "maintainer", BUILD, None),
    ("no-command-permission", "maintainer", "maintainer", "stranger", BUILD,
     "stranger may not send commands ([bot_control] command_permission: maintainer)"),
    ("no-build-permission", "maintainer", "alice maintainer", "alice", BUILD,
     "alice may not build ([buildenv] build_permission: maintainer)"),
    ("cancel-needs-build-permission", "", "alice", "alice", "bot: cancel",
     "alice may not build ([buildenv] build_permission: nobody)"),
    ("help-needs-no-build-permission", "", "alice", "alice", "bot: help", None),
    ("not-a-command", "maintainer", "maintainer", "stranger", "just a remark", None),
    ("another-instance", "maintainer", "maintainer", "stranger", f"{BUILD} instance:elsewhere", None),
]


@pytest.mark.parametrize(("build", "command", "login", "comment", "why"), [c[1:] for c in REFUSALS],
                         ids=[c[0] for c in REFUSALS])
def test_refusal(tmp_path: Path, build: str, command: str, login: str, comment: str, why: Optional[str]) -> None:
    config, _ = site(tmp_path, build, command)
    assert try_cmd.refusal(config, login, comment) == why


JOB = Job(key="k", build_key="b", repo="try/repository", pr_number=1, node_type="cpu_zen2",
          repo_id="eessi.io-2023.06-software", software_subdir="x86_64/amd/zen2", accelerator=None,
          on_arch="x86_64/amd/zen2", on_accelerator=None, job_dir="/jobs/try/x/job", backend="local", comment_key="c",
          state=JobState.FINISHED, job_id="1", result_status="SUCCESS", end_state="COMPLETED")
OK = JOB
FAILURE = replace(JOB, result_status="FAILURE", end_state="FAILED")
TIMED_OUT = replace(JOB, end_state="TIMEOUT")
TESTS_FAILED = replace(JOB, test_status="FAILURE")
NO_TESTS = replace(JOB, test_status="UNKNOWN")
NO_RESULT = replace(JOB, result_status="UNKNOWN", end_state="NODE_FAIL")
CANCELLED = replace(JOB, result_status="UNKNOWN", end_state="CANCELLED")
NOT_SUBMITTED = replace(JOB, state=JobState.SUBMIT_FAILED, job_id=None, result_status=None, end_state=None,
                        error="invalid partition")
RUNNING = replace(JOB, state=JobState.RUNNING, result_status=None, end_state=None)
HELD_CANCELLED = replace(JOB, state=JobState.SUBMITTED, result_status=None, end_state=None, cancelled_by="try")

VERDICTS = [
    # (id, job, verdict, in words)
    ("success", OK, try_cmd.Verdict.SUCCEEDED, "SUCCESS"),
    ("failure", FAILURE, try_cmd.Verdict.FAILED, "FAILURE(FAILED)"),
    ("success-but-timeout", TIMED_OUT, try_cmd.Verdict.FAILED, "SUCCESS(TIMEOUT)"),
    ("tests-failed", TESTS_FAILED, try_cmd.Verdict.FAILED, "SUCCESS, tests FAILURE"),
    ("no-test-file-is-no-failure", NO_TESTS, try_cmd.Verdict.SUCCEEDED, "SUCCESS"),
    ("no-result-file", NO_RESULT, try_cmd.Verdict.FAILED, "UNKNOWN(NODE_FAIL)"),
    ("cancelled", CANCELLED, try_cmd.Verdict.FAILED, "UNKNOWN(CANCELLED)"),
    ("not-submitted", NOT_SUBMITTED, try_cmd.Verdict.FAILED, "could not be submitted: invalid partition"),
    ("running", RUNNING, try_cmd.Verdict.UNFINISHED, "still running"),
    ("released", replace(RUNNING, state=JobState.RELEASED), try_cmd.Verdict.UNFINISHED,
     "released, not seen running yet"),
    ("submitted", replace(RUNNING, state=JobState.SUBMITTED), try_cmd.Verdict.UNFINISHED,
     "submitted, not released yet"),
    ("held-and-cancelled", HELD_CANCELLED, try_cmd.Verdict.UNFINISHED, "cancelled while held"),
]


@pytest.mark.parametrize(("job", "verdict", "words"), [v[1:] for v in VERDICTS], ids=[v[0] for v in VERDICTS])
def test_verdict_of_a_job(job: Job, verdict: try_cmd.Verdict, words: str) -> None:
    assert try_cmd.verdict(job) == (verdict, words)


STATUSES = [
    # (id, jobs, refusal, did the bot post anything, exit status, the last line of the report)
    ("every-job-succeeded", [OK, NO_TESTS], None, True, 0, "try: every job succeeded"),
    ("one-failed", [OK, FAILURE], None, True, 1, "try: 1 of 2 job(s) failed"),
    ("failed-beats-running", [FAILURE, RUNNING], None, True, 1, "try: 1 of 2 job(s) failed"),
    ("submission-failed", [NOT_SUBMITTED], None, True, 1, "try: 1 of 1 job(s) failed"),
    ("refused", [], "x may not build ([buildenv] build_permission: maintainer)", True, 3,
     "try: refused: x may not build ([buildenv] build_permission: maintainer); --as LOGIN comments as someone else"),
    ("nothing-submitted", [], None, True, 4, "try: no job was submitted; the bot's answer above says why"),
    ("nothing-submitted-quietly", [], None, False, 4, "try: no job was submitted and the bot stays silent (see "
     "above); instance:test-bot in the command makes it say why"),
    ("still-running", [OK, RUNNING], None, True, 5,
     "try: 1 job(s) not finished after 30 s; they go on, and their directories will hold their results"),
    ("only-held-ones-left", [OK, HELD_CANCELLED], None, True, 5,
     "try: jobs did not finish within 30 s; the held ones were cancelled"),
]


@pytest.mark.parametrize(("jobs", "refused", "answered", "status", "last"), [s[1:] for s in STATUSES],
                         ids=[s[0] for s in STATUSES])
def test_exit_status_and_its_line(jobs: List[Job], refused: Optional[str], answered: bool, status: int,
                                  last: str) -> None:
    out = io.StringIO()
    assert try_cmd.report(jobs, refused, 30.0, out, answered, "test-bot") == status
    lines = out.getvalue().splitlines()
    assert lines[-1] == last
    assert lines[1:-1] == [f"try: job {j.job_id or '-'} (cpu_zen2, eessi.io-2023.06-software): "
                           f"{try_cmd.verdict(j)[1]}; /jobs/try/x/job" for j in jobs]


def test_each_run_gets_a_job_tree_of_its_own(tmp_path: Path) -> None:
    first = try_cmd.make_run_tree(tmp_path / "jobs")
    second = try_cmd.make_run_tree(tmp_path / "jobs")
    assert first.parent == second.parent == tmp_path / "jobs" / "try"
    assert first.name.endswith(f"-{os.getpid()}") and second.name == f"{first.name}-2"
    assert sorted(p.name for p in first.parent.iterdir()) == sorted([first.name, second.name])


def test_a_run_keeps_to_its_tree(tmp_path: Path) -> None:
    config, _ = site(tmp_path, "maintainer", "maintainer")
    tree = tmp_path / "jobs" / "try" / "20250828-100000-1"
    run = try_cmd.for_run(config, tree, tmp_path / "state")
    assert (run.buildenv.jobs_base_dir, run.job_manager.job_ids_dir, run.clean_up.trash_bin_dir,
            run.bot.data_dir) == (tree, tree / "job_ids", tree / "trash_bin", tmp_path / "state" / "state")


def test_help_documents_the_exit_statuses() -> None:
    result = subprocess.run([sys.executable, "-m", "eessi_bot", "try", "--help"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    for line in ("  0    every job succeeded: result SUCCESS, ended COMPLETED, and no test result FAILURE",
                 "  3    the command was refused: the login may not send commands or may not build (see --as)",
                 "  4    no job was submitted: no build command for this instance, no node type matches, or an error",
                 "  5    jobs still run at --timeout: they go on in the job tree printed (held jobs are cancelled)"):
        assert line in lines
