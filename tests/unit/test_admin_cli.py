"""`eessi-bot jobs` and `eessi-bot cleanup`: an admin's view of the database and the replacement of the
EESSI bot's `scripts/cleanup_pr.sh` on this bot's job-directory layout."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from eessi_bot.adapters.sqlite.store import SqliteStore
from eessi_bot.cli.cleanup import human
from eessi_bot.cli.main import main
from eessi_bot.core.jobs import Job, JobState
from tests.fakes.site import write_site

ARTEFACT = "eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.gz"
TMP_STORAGE = "EESSI-tmp-1700000001.tgz"
ZEN2 = "x86_64/amd/zen2/cpu_zen2/eessi.io-2023.06-software"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Site:
    cfg: Path
    root: Path
    jobs: Path
    trash: Path

    def job_dir(self, month: str, repo: str, pr_number: int, event: str) -> Path:
        return self.jobs / month / repo / f"pr_{pr_number}" / f"event_{event}" / "run_000" / ZEN2


def make_job(job_id: Optional[str], repo: str, pr_number: int, state: JobState, job_dir: Path,
             **changes: object) -> Job:
    made = Job(key=f"d{job_id}:0:cpu_zen2:eessi.io-2023.06-software", build_key=f"d{job_id}:0", repo=repo,
               pr_number=pr_number, node_type="cpu_zen2", repo_id="eessi.io-2023.06-software",
               software_subdir="x86_64/amd/zen2", accelerator=None, on_arch="x86_64/amd/zen2", on_accelerator=None,
               job_dir=str(job_dir), backend="local", comment_key=f"job:{job_id}", state=state, job_id=job_id)
    return replace(made, **changes)  # type: ignore[arg-type]


def fill(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """A data_dir with jobs of o/r#7 (finished, two months, one trashed), o/r#8 (running, preparing) and
    other/repo#7 (finished), and job directories holding what EESSI's bot/*.sh leave."""
    root = tmp_path / "site"
    cfg = write_site(root, extra=f"\n[clean_up]\ntrash_bin_dir = {root}/trash\n")
    made = Site(cfg, root, root / "jobs", root / "trash")
    may = made.job_dir("2024.05", "o/r", 7, "d1")
    june = made.job_dir("2024.06", "o/r", 7, "d2")
    running = made.job_dir("2024.06", "o/r", 8, "d3")
    other = made.job_dir("2024.05", "other/repo", 7, "d4")
    jobs = [
        make_job("101", "o/r", 7, JobState.FINISHED, may, result_status="SUCCESS", end_state="COMPLETED",
                 artefacts=(ARTEFACT, "stack.sqfs")),
        make_job("102", "o/r", 7, JobState.FINISHED, june, result_status="FAILURE", end_state="TIMEOUT"),
        make_job("103", "o/r", 8, JobState.RUNNING, running),
        make_job("104", "other/repo", 7, JobState.FINISHED, other, result_status="SUCCESS"),
        make_job(None, "o/r", 8, JobState.PREPARING, running.with_name("cpu_zen4"), key="d5:0:cpu_zen4:x"),
    ]
    store = SqliteStore.in_dir(root / "state")
    with store.transaction() as tx:
        for number, job in enumerate(jobs):
            tx.save_job(job, 1_700_000_000.0 + number)
    store.close()
    for directory, job_id in ((may, "101"), (june, "102"), (running, "103"), (other, "104")):
        (directory / "cfg").mkdir(parents=True)
        (directory / f"slurm-{job_id}.out").write_text("build log\n")
        (directory / f"_bot_job{job_id}.result").write_text("[RESULT]\nstatus = SUCCESS\n")
        fill(directory / ARTEFACT, MIB)
        fill(directory / TMP_STORAGE, MIB // 2)
        (directory.parents[6] / job_id).symlink_to(directory)
    fill(may / "stack.sqfs", 64 * 1024)
    fill(may / "eessi.io-cfg_files.tgz", 8 * 1024)
    fill(tmp_path / "outside.tar.gz", 4096)
    (may / "link.tar.gz").symlink_to(tmp_path / "outside.tar.gz")
    fill(made.trash / "o/r/2024.06.30/2024.04/pr_7/event_d0/run_000" / ZEN2 / "old-1600000000.tar.zst", MIB // 4)
    return made


def invoke(argv: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, str, str]:
    """What a user sees: the exit status and both streams (argparse's refusals exit, main returns)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(str(exc.code))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def tree(top: Path) -> List[Tuple[str, str]]:
    """Every entry below `top` with what identifies its content (links not followed)."""
    listed = []
    for path in sorted(top.rglob("*")):
        info = path.lstat()
        what = f"-> {os.readlink(path)}" if path.is_symlink() else f"{info.st_size} {info.st_mtime_ns}"
        listed.append((str(path.relative_to(top)), what))
    return listed


def files_of(site: Site) -> List[Tuple[str, str]]:
    """What cleanup could change: the job tree, the trash, the file a link there points to, and the
    database's bytes (a read-only reader may leave SQLite's `-wal` and `-shm` beside a stopped bot's
    database, which the bot uses at its next start)."""
    outside = site.root.parent / "outside.tar.gz"
    database = site.root / "state" / "eessi-bot.sqlite3"
    return [*tree(site.jobs), *tree(site.trash), ("outside", outside.read_text(errors="replace")),
            ("database", hashlib.sha256(database.read_bytes()).hexdigest())]


def du(path: Path) -> int:
    """Disk usage in bytes as `du` reports it (the figure cleanup_pr.sh showed)."""
    out = subprocess.run(["du", "-s", "--block-size=1", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


# -- eessi-bot jobs ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "expected"), [
    ([], ["101", "102", "103", "104", None]),
    (["--pr", "7"], ["101", "102", "104"]),
    (["--pr", "7", "--repo", "o/r"], ["101", "102"]),
    (["--repo", "o/r"], ["101", "102", "103", None]),
    (["--state", "running,preparing"], ["103", None]),
    (["--state", "finished", "--state", "running", "--repo", "o/r"], ["101", "102", "103"]),
    (["--state", "submitted"], []),
    (["--repo", "o/none"], []),
], ids=["all", "pr-in-every-repo", "pr-of-one-repo", "one-repo", "comma-states", "repeated-state", "no-match",
        "unknown-repo"])
def test_jobs_lists_what_the_filters_ask_for(site: Site, capsys: pytest.CaptureFixture[str], args: List[str],
                                             expected: List[Optional[str]]) -> None:
    code, out, err = invoke(["jobs", "-c", str(site.cfg), "--json", *args], capsys)
    assert (code, err) == (0, "")
    assert [job["job_id"] for job in json.loads(out)] == expected


def test_jobs_json_names_state_result_pr_target_and_dir(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["jobs", "-c", str(site.cfg), "--json", "--pr", "7", "--repo", "o/r"], capsys)
    first, second = json.loads(out)
    assert code == 0
    assert {k: first[k] for k in ("job_id", "state", "result", "repo", "pr_number", "target", "repo_id")} == {
        "job_id": "101", "state": "finished", "result": "SUCCESS", "repo": "o/r", "pr_number": 7,
        "target": "x86_64/amd/zen2", "repo_id": "eessi.io-2023.06-software"}
    assert first["job_dir"] == str(site.job_dir("2024.05", "o/r", 7, "d1"))
    assert (second["end_state"], first["created_at"]) == ("TIMEOUT", "2023-11-14T22:13:20+00:00")


def test_jobs_table_is_aligned_for_humans(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["jobs", "-c", str(site.cfg)], capsys)
    header, *rows = out.splitlines()
    assert code == 0 and len(rows) == 5
    assert header.split("  ")[0] == "JOB ID" and header.index("STATE") == rows[0].index("finished")
    assert rows[0].split() == ["101", "finished", "SUCCESS", "o/r#7", "x86_64/amd/zen2", "eessi.io-2023.06-software",
                               str(site.job_dir("2024.05", "o/r", 7, "d1"))]
    assert rows[1].split()[:3] == ["102", "finished", "FAILURE(TIMEOUT)"]
    assert rows[4].split()[:4] == ["-", "preparing", "-", "o/r#8"]
    assert len({row.index("x86_64") for row in rows}) == 1, "targets start in one column"


@pytest.mark.parametrize(("args", "expected"), [
    (["--pr", "99"], "no jobs of PR #99 (any repository) in the database of "),
    (["--repo", "o/r", "--pr", "99", "--state", "running"], "no jobs of o/r#99 in state running in the database of "),
], ids=["pr", "repo-pr-state"])
def test_jobs_says_when_nothing_matches(site: Site, capsys: pytest.CaptureFixture[str], args: List[str],
                                        expected: str) -> None:
    code, out, _ = invoke(["jobs", "-c", str(site.cfg), *args], capsys)
    assert code == 0 and out.startswith(expected) and out.rstrip().endswith(str(site.root / "state"))


def test_jobs_reads_while_the_bot_writes_and_never_holds_it_up(site: Site,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The bot holds its write lock (a transaction under way): the listing answers at once, from the last
    commit, and the bot's commit goes through; the database file is never written by the listing."""
    bot = SqliteStore.in_dir(site.root / "state")
    try:
        with bot.transaction() as tx:
            tx.save_job(make_job("105", "o/r", 9, JobState.SUBMITTED, site.jobs / "x"), 1_800_000_000.0)
            started = time.monotonic()
            code, out, _ = invoke(["jobs", "-c", str(site.cfg), "--json", "--pr", "9"], capsys)
            assert time.monotonic() - started < 2.0, "the listing did not wait for the bot's lock"
            assert (code, json.loads(out)) == (0, [])
        assert [j.job_id for j in bot.jobs.list("o/r", 9)] == ["105"]
    finally:
        bot.close()
    mtime = (site.root / "state" / "eessi-bot.sqlite3").stat().st_mtime_ns
    code, out, _ = invoke(["jobs", "-c", str(site.cfg), "--json", "--pr", "9"], capsys)
    assert code == 0 and [job["job_id"] for job in json.loads(out)] == ["105"]
    assert (site.root / "state" / "eessi-bot.sqlite3").stat().st_mtime_ns == mtime


# -- eessi-bot cleanup -------------------------------------------------------------------------------

def expected_removals(site: Site) -> List[Path]:
    may, june = site.job_dir("2024.05", "o/r", 7, "d1"), site.job_dir("2024.06", "o/r", 7, "d2")
    return sorted([may / ARTEFACT, may / TMP_STORAGE, may / "stack.sqfs", june / ARTEFACT, june / TMP_STORAGE,
                   site.trash / "o/r/2024.06.30/2024.04/pr_7/event_d0/run_000" / ZEN2 / "old-1600000000.tar.zst"])


def pr7_dirs(site: Site) -> List[Path]:
    return [site.jobs / "2024.05/o/r/pr_7", site.jobs / "2024.06/o/r/pr_7", site.trash / "o/r/2024.06.30/2024.04/pr_7"]


def test_cleanup_removes_tarballs_of_a_finished_pr_and_shows_disk_usage(site: Site,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    before = {d: du(d) for d in pr7_dirs(site)}
    sizes = {p: du(p) for p in expected_removals(site)}
    kept_elsewhere = tree(site.jobs / "2024.05/other") + tree(site.jobs / "2024.06/o/r/pr_8")
    code, out, err = invoke(["cleanup", "--pr", "7", "--repo", "o/r", "-c", str(site.cfg)], capsys)
    assert (code, err) == (0, "")
    assert not any(path.exists() for path in expected_removals(site))
    may = site.job_dir("2024.05", "o/r", 7, "d1")
    for kept in ("slurm-101.out", "_bot_job101.result", "eessi.io-cfg_files.tgz", "cfg"):
        assert (may / kept).exists(), f"{kept} stays, as cleanup_pr.sh left it"
    assert (may / "link.tar.gz").is_symlink() and (site.root.parent / "outside.tar.gz").is_file()
    assert (site.jobs / "2024.05/o/r/pr_7/101").is_symlink()
    assert tree(site.jobs / "2024.05/other") + tree(site.jobs / "2024.06/o/r/pr_8") == kept_elsewhere
    lines = out.splitlines()
    assert sorted(line for line in lines if line.startswith("removed ")) == sorted(
        f"removed {path} ({human(size)})" for path, size in sizes.items())
    assert human(sizes[may / ARTEFACT]) == "1.0M"
    table = [line.split() for line in lines[[x.split()[0] for x in lines].index("DIRECTORY"):-1]]
    assert table[0] == ["DIRECTORY", "BEFORE", "AFTER"]
    assert table[1:4] == [[str(d), human(before[d]), human(du(d))] for d in pr7_dirs(site)]
    assert all(du(d) < before[d] - 200 * 1024 for d in pr7_dirs(site))
    assert table[4] == ["total", human(sum(before.values())), human(sum(du(d) for d in pr7_dirs(site)))]
    assert lines[-1].startswith("6 file(s) removed, ") and lines[-1].endswith(" freed")


def test_cleanup_dry_run_changes_nothing_and_says_what_it_would_do(site: Site,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    before = files_of(site)
    code, out, _ = invoke(["cleanup", "--pr", "7", "--repo", "o/r", "--dry-run", "-c", str(site.cfg)], capsys)
    assert code == 0
    assert files_of(site) == before
    would = sorted(line.split()[2] for line in out.splitlines() if line.startswith("would remove "))
    assert would == [str(p) for p in expected_removals(site)]
    header = next(line for line in out.splitlines() if line.startswith("DIRECTORY"))
    assert header.split() == ["DIRECTORY", "BEFORE", "WOULD", "BE"]
    assert out.splitlines()[-1].startswith("dry run: 6 file(s) would be removed, ")


def test_cleanup_json_reports_every_directory_and_file(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["cleanup", "--pr", "7", "--repo", "o/r", "--json", "-c", str(site.cfg)], capsys)
    report = json.loads(out)
    assert code == 0 and (report["repo"], report["pr_number"], report["dry_run"], report["failed"]) == (
        "o/r", 7, False, [])
    assert sorted(r["path"] for r in report["removed"]) == [str(p) for p in expected_removals(site)]
    assert [d["path"] for d in report["directories"]] == [str(d) for d in pr7_dirs(site)]
    assert all(d["after"] == du(Path(d["path"])) < d["before"] for d in report["directories"])


def test_cleanup_refuses_while_a_job_of_the_pr_has_not_finished(site: Site,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    before = files_of(site)
    code, out, err = invoke(["cleanup", "--pr", "8", "-c", str(site.cfg)], capsys)
    assert (code, out) == (3, "")
    assert err.startswith("eessi-bot cleanup: refused: 2 job(s) of o/r#8 have not finished")
    assert [line.split()[:2] for line in err.splitlines()[2:]] == [["103", "running"], ["-", "preparing"]]
    assert files_of(site) == before
    code, out, _ = invoke(["cleanup", "--pr", "8", "--dry-run", "--json", "-c", str(site.cfg)], capsys)
    assert code == 3 and [job["state"] for job in json.loads(out)["refused"]] == ["running", "preparing"]


def test_cleanup_of_adopted_jobs_visits_only_their_own_directories(site: Site,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The EESSI bot's `YYYY.MM/pr_N` holds every repository's PR N: only the adopted job's directory is cleaned."""
    adopted = site.jobs / "2024.03/pr_5/event_x/run_000/x86_64/amd/zen2"
    stranger = site.jobs / "2024.03/pr_5/event_y/run_000/x86_64/amd/zen2"
    fill(adopted / ARTEFACT, 4096)
    fill(stranger / ARTEFACT, 4096)
    store = SqliteStore.in_dir(site.root / "state")
    with store.transaction() as tx:
        tx.save_job(make_job("900", "o/r", 5, JobState.FINISHED, adopted, key="eessi:900"), 1.0)
    store.close()
    code, out, _ = invoke(["cleanup", "--pr", "5", "-c", str(site.cfg)], capsys)
    assert code == 0 and not (adopted / ARTEFACT).exists() and (stranger / ARTEFACT).exists()
    assert f"removed {adopted / ARTEFACT} (" in out


@pytest.mark.parametrize(("pr", "expected"), [
    ("7", "eessi-bot cleanup: PR #7 is in several repositories (o/r, other/repo); name one with --repo"),
    ("55", "nothing to clean up: no directories of PR #55 in "),
], ids=["ambiguous", "unknown"])
def test_cleanup_without_repo_needs_one_repository(site: Site, capsys: pytest.CaptureFixture[str], pr: str,
                                                   expected: str) -> None:
    code, out, err = invoke(["cleanup", "--pr", pr, "-c", str(site.cfg)], capsys)
    if pr == "7":
        assert (code, out, err) == (2, "", expected + "\n")
    else:
        assert (code, err) == (0, "") and out.startswith(expected + str(site.jobs))


def test_cleanup_names_files_it_cannot_remove(site: Site, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    real_unlink = pathlib.Path.unlink

    def unlink(path: Path, missing_ok: bool = False) -> None:
        if path.name == TMP_STORAGE:
            raise PermissionError(13, "Permission denied")
        real_unlink(path, missing_ok)

    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    code, out, err = invoke(["cleanup", "--pr", "7", "--repo", "o/r", "-c", str(site.cfg)], capsys)
    may = site.job_dir("2024.05", "o/r", 7, "d1")
    assert code == 1
    assert f"eessi-bot cleanup: cannot remove {may / TMP_STORAGE}: Permission denied" in err.splitlines()
    assert (may / TMP_STORAGE).exists() and not (may / ARTEFACT).exists()
    assert out.splitlines()[-1].startswith("4 file(s) removed, ")


# -- wrong invocations -------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "code", "expected"), [
    (["cleanup"], 2, "eessi-bot cleanup: error: the following arguments are required: --pr"),
    (["cleanup", "--pr", "x"], 2, "eessi-bot cleanup: error: argument --pr: 'x' is not a PR number"),
    (["jobs", "--state", "bogus"], 2, "eessi-bot jobs: error: argument --state: unknown state 'bogus' (states: "
     "preparing, prepared, submitting, submit_failed, submitted, released, running, finished)"),
    (["jobs", "--repo", "../etc"], 2, "eessi-bot jobs: error: argument --repo: '../etc' is not OWNER/REPO"),
    (["jobs", "-c", "@missing"], 2, "cannot read the configuration file: No such file or directory"),
    (["cleanup", "--pr", "7", "-c", "@missing"], 2, "cannot read the configuration file: No such file or directory"),
    (["jobs", "-c", "@fresh"], 2, "eessi-bot jobs: no database at @state/eessi-bot.sqlite3: has the bot run with this "
     "configuration ([bot] data_dir)?"),
], ids=["cleanup-without-pr", "cleanup-bad-pr", "unknown-state", "bad-repo", "jobs-unreadable-config",
        "cleanup-unreadable-config", "no-database"])
def test_wrong_invocations_are_answered_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                args: List[str], code: int, expected: str) -> None:
    fresh = write_site(tmp_path / "fresh")
    places = {"@missing": str(tmp_path / "nope.cfg"), "@fresh": str(fresh), "@state": str(tmp_path / "fresh/state")}
    named = [places["@missing"]] if "@missing" in args else []
    for name, value in places.items():
        args = [arg.replace(name, value) for arg in args]
        expected = expected.replace(name, value)
    got, out, err = invoke(args, capsys)
    assert (got, out) == (code, "")
    assert len(err.splitlines()) <= 2 and "Traceback" not in err, err
    assert any(expected in line for line in err.splitlines()) and all(path in err for path in named), err
    assert not (tmp_path / "fresh/state/eessi-bot.sqlite3").exists(), "a reader never creates the database"


def test_exit_statuses_of_the_installed_command(site: Site) -> None:
    """Through `python -m eessi_bot`: what a shell script sees, and what `--help` documents."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "eessi_bot", *args], capture_output=True, text=True, check=False)

    assert run("cleanup", "-c", str(site.cfg)).returncode == 2
    assert run("cleanup", "--pr", "8", "-c", str(site.cfg)).returncode == 3
    assert run("jobs", "--pr", "8", "-c", str(site.cfg)).returncode == 0
    read_end, write_end = os.pipe()
    os.close(read_end)
    closed = subprocess.run([sys.executable, "-m", "eessi_bot", "jobs", "-c", str(site.cfg)], stdout=write_end,
                            stderr=subprocess.PIPE, text=True, check=False)
    os.close(write_end)
    assert (closed.returncode, closed.stderr) == (1, ""), "a reader that went away (| head) is no traceback"
    helped = run("cleanup", "--help")
    assert helped.returncode == 0 and "3  refused: jobs of the PR have not finished" in helped.stdout
    assert "2  wrong invocation" in run("jobs", "--help").stdout
