"""jobs/manager.py on fakes: one scheduler query per cycle, a row per state change and none on
idle cycles, results from the job directory, a batch system that fails or forgets jobs, and the
directory of end markers that wakes the manager (jobs/end_markers.py)."""

from __future__ import annotations

import configparser
import logging
import math
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from eessi_bot.core.jobs import Job, JobState, JobStatus
from eessi_bot.core.transitions import MAX_MISSING_POLLS
from eessi_bot.jobs import paths
from eessi_bot.jobs.end_markers import EndMarkers, Wakes
from eessi_bot.ports.scheduler import SchedulerUnavailable
from tests.fakes.job_site import JobSite
from tests.waiting import wait_for


@pytest.fixture
def site(tmp_path: Path) -> JobSite:
    return JobSite(tmp_path, buildenv_extra="local_max_jobs = 8")


def one_job(site: JobSite) -> Job:
    (job,) = site.build("cpu_zen4").submitted
    return job


def cycle(site: JobSite, job: Job) -> Job:
    site.manager.cycle()
    return site.store.jobs.get(job.key)  # type: ignore[return-value]


def test_a_job_from_held_to_finished(site: JobSite) -> None:
    job = one_job(site)
    assert job.job_id is not None
    versions = [site.comment(job.comment_key).version]  # type: ignore[union-attr]
    job = cycle(site, job)
    assert site.scheduler.calls[-2:] == [("poll", "1"), ("release", job.job_id)]
    site.scheduler.start(job.job_id or "")
    job = cycle(site, job)
    versions.append(site.comment(job.comment_key).version)  # type: ignore[union-attr]
    site.write_result(job, artefacts="eessi-2023.06-software-linux-x86_64-amd-zen4-1700000000.tar.gz")
    site.scheduler.end(job.job_id or "", "COMPLETED", "0:0")
    job = cycle(site, job)
    assert [r.status for r in job.rows] == ["submitted", "released", "running", "finished"]
    assert (job.state, job.end_state, job.exit_code, job.result_status) == (
        JobState.FINISHED, "COMPLETED", "0:0", "SUCCESS")
    assert job.artefacts == ("eessi-2023.06-software-linux-x86_64-amd-zen4-1700000000.tar.gz",)
    assert "|finished|built GCC<br/>tests passed<br/>job ended `COMPLETED`, exit code `0:0`|" in site.comment_body(job)
    assert "job ended `COMPLETED`, exit code `0:0`" in job.rows[-1].comment
    assert site.comment(job.comment_key).version == 4, "one new body per state change"  # type: ignore[union-attr]
    links = site.config.job_manager.job_ids_dir
    assert (links / "finished" / str(job.job_id)).is_symlink() and not (links / "submitted" / str(job.job_id)).exists()


def test_idle_cycles_ask_once_and_write_nothing(site: JobSite) -> None:
    job = one_job(site)
    cycle(site, job)
    site.scheduler.start(job.job_id or "")
    cycle(site, job)
    before = site.comment(job.comment_key)
    polls = site.scheduler.count("poll")
    for _ in range(5):
        site.clock.advance(60)
        stats = site.manager.cycle()
        assert (stats.tracked, stats.changed) == (1, 0)
    assert site.scheduler.count("poll") == polls + 5, "one query per cycle"
    assert site.comment(job.comment_key) == before, "idle cycles write nothing"


def test_many_jobs_one_query(site: JobSite) -> None:
    for _ in range(4):
        site.build()
    site.scheduler.calls.clear()
    stats = site.manager.cycle()
    assert stats.tracked == 12
    assert [verb for verb, _ in site.scheduler.calls].count("poll") == 1
    assert site.scheduler.count("release") == 8, "local_max_jobs = 8"


def test_an_unreachable_batch_system_changes_nothing(site: JobSite) -> None:
    job = site.store.jobs.get(one_job(site).key)
    site.scheduler.unavailable = True
    with pytest.raises(SchedulerUnavailable):
        site.manager.cycle()
    assert job is not None and site.store.jobs.get(job.key) == job


def test_a_job_the_batch_system_forgot_is_reported_after_several_polls(site: JobSite) -> None:
    job = one_job(site)
    site.scheduler.vanish(job.job_id or "")
    for _ in range(MAX_MISSING_POLLS - 1):
        job = cycle(site, job)
        assert job.state is JobState.SUBMITTED, "one missing answer is not an end"
    job = cycle(site, job)
    assert job.state is JobState.FINISHED and job.end_state == "UNKNOWN"
    assert "the batch system no longer knows this job" in job.rows[-1].comment


def test_accounting_failure_does_not_count_as_missing(site: JobSite) -> None:
    job = one_job(site)
    site.scheduler.vanish(job.job_id or "")
    original = site.scheduler.end_states

    def failing(jobs):
        raise SchedulerUnavailable("sacct: slurmdbd down")

    site.scheduler.end_states = failing  # type: ignore[method-assign]
    for _ in range(MAX_MISSING_POLLS + 2):
        job = cycle(site, job)
    assert job.state is JobState.SUBMITTED and job.missing_polls == 0
    site.scheduler.end_states = original  # type: ignore[method-assign]
    site.scheduler.end(job.job_id or "", "FAILED", "1:0")
    job = cycle(site, job)
    assert job.end_state == "FAILED" and job.exit_code == "1:0"


def test_a_vanished_job_directory_and_junk_results_are_reported(site: JobSite) -> None:
    first, second = site.build("cpu_zen2").submitted
    (Path(second.job_dir) / f"_bot_job{second.job_id}.result").write_bytes(b"\x00\xff not an ini [[[")
    shutil.rmtree(first.job_dir)
    for job in (first, second):
        site.scheduler.end(job.job_id or "")
    site.manager.cycle()
    gone, junk = (site.store.jobs.get(j.key) for j in (first, second))
    assert gone is not None and junk is not None
    assert f"job directory `{first.job_dir}` no longer exists" in gone.rows[-1].comment
    assert (gone.result_status, junk.result_status) == ("UNKNOWN", "UNKNOWN")
    assert f"`_bot_job{second.job_id}.result`" in junk.rows[-1].comment


def test_local_backend_releases_at_most_local_max_jobs(tmp_path: Path) -> None:
    site = JobSite(tmp_path, buildenv_extra="local_max_jobs = 1")
    site.build("cpu_zen2")
    site.manager.cycle()
    assert [j.state for j in site.jobs()] == [JobState.RELEASED, JobState.SUBMITTED]
    first = site.jobs()[0]
    site.scheduler.end(first.job_id or "")
    site.manager.cycle()
    assert [j.state for j in site.jobs()] == [JobState.FINISHED, JobState.SUBMITTED]
    site.manager.cycle()
    assert [j.state for j in site.jobs()] == [JobState.FINISHED, JobState.RELEASED], "the freed slot is used"


def test_the_metadata_names_the_comment_once_it_exists(site: JobSite) -> None:
    job = one_job(site)
    site.store.outbox.record_created(job.comment_key, 4242, "https://github.com/c/4242", 1, site.clock.now())
    site.manager.cycle()
    metadata = configparser.ConfigParser()
    metadata.read(Path(job.job_dir) / f"_bot_job{job.job_id}.metadata")
    assert metadata["PR"]["pr_comment_id"] == "4242"
    assert site.store.jobs.comment_ids() == []


def test_a_job_changed_notifies_the_sender(site: JobSite) -> None:
    one_job(site)
    assert site.jobs_changed.wait(0), "a build wakes the manager"
    site.manager.cycle()
    assert site.writes_waiting.wait(0), "a changed row wakes the outbox sender"
    site.manager.cycle()
    assert not site.writes_waiting.wait(0), "an idle cycle does not"


# ---------------------------------------------------------------- ends that need no wait for accounting

@pytest.mark.parametrize(("state", "marker", "finished", "exit_code"), [
    ("COMPLETED", None, True, "0:0"),
    ("COMPLETED", "0", True, "0:0"),
    ("FAILED", "3", True, "3:0"),
    ("FAILED", None, False, None),
    ("FAILED", "0", False, None),
    ("CANCELLED", "143", False, None),
    ("TIMEOUT", "143", False, None),
], ids=["completed", "completed-with-marker", "failed-with-marker", "failed-without-marker",
        "failed-marker-says-0", "cancelled", "timeout"])
def test_an_end_the_queue_settles_is_reported_without_accounting(site: JobSite, state: str, marker: Optional[str],
                                                                  finished: bool, exit_code: Optional[str]) -> None:
    """Slurm's accounting lags its queue by up to seconds: an end whose exit code the queue already settles
    (COMPLETED is 0:0; FAILED is the exit code the job script wrote) is reported in the same cycle;
    the others wait for sacct's exit code."""
    job = one_job(site)
    cycle(site, job)
    site.scheduler.start(job.job_id or "")
    job = cycle(site, job)
    if marker is not None:
        (Path(job.job_dir) / f"_bot_job{job.job_id}.done").write_text(marker + "\n")
    site.scheduler.queue[job.job_id or ""] = JobStatus(state)  # ended in the queue, not yet in accounting
    site.scheduler.calls.clear()
    job = cycle(site, job)
    assert (job.state is JobState.FINISHED) is finished
    if finished:
        assert site.scheduler.count("end_states") == 0, "no sacct for an end the queue settles"
        assert job.exit_code == exit_code and job.rows[-1].comment.endswith(f"exit code `{exit_code}`")
    else:
        assert site.scheduler.count("end_states") == 1 and job.ending_since is not None


# ---------------------------------------------------------------- the directory of end markers

def ended_dir(site: JobSite) -> Path:
    return paths.ended_dir(site.config.buildenv.jobs_base_dir, site.config.github.app_name)


def test_a_job_directory_names_the_directory_of_end_markers(site: JobSite) -> None:
    job = one_job(site)
    assert (Path(job.job_dir) / "cfg" / "end_dir").read_text() == f"{ended_dir(site)}\n"
    assert ended_dir(site).is_dir() and ended_dir(site) == site.root / "jobs" / ".ended" / "test-bot"


def test_a_cycle_removes_the_markers_of_reported_jobs_and_strays(site: JobSite) -> None:
    first, second = site.build("cpu_zen2").submitted
    site.manager.cycle()
    ended = ended_dir(site)
    for name in (first.job_id, second.job_id, "99999", "junk"):
        (ended / str(name)).write_text("0\n")
    site.scheduler.end(first.job_id or "")
    site.manager.cycle()
    assert site.store.jobs.get(first.key).state is JobState.FINISHED  # type: ignore[union-attr]
    assert sorted(p.name for p in ended.iterdir()) == [second.job_id], "a followed job's marker stays until reported"


def test_a_marker_being_written_survives_a_cycle(site: JobSite) -> None:
    """Its age is told by the file's wall-clock time, not by the bot's clock (here far ahead of it)."""
    job = one_job(site)
    writing = ended_dir(site) / f".{job.job_id}.AbCdEf1234"
    writing.write_text("0\n")
    site.clock.advance(10 * 24 * 3600)
    site.manager.cycle()
    assert writing.exists()


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str
    """file, link, dir or old-temp (a `.`-name whose writer died long ago)."""
    listed: bool
    kept: bool


ENTRIES = [
    Entry("1001", "file", listed=True, kept=True),
    Entry("1002", "link", listed=False, kept=False),
    Entry("2002", "file", listed=True, kept=False),
    Entry("2003", "link", listed=False, kept=False),
    Entry("1003", "dir", listed=False, kept=True),
    Entry(".1001.AbCdEf1234", "file", listed=False, kept=True),
    Entry(".1004.AbCdEf1234", "old-temp", listed=False, kept=False),
]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.kind}-{e.name}")
def test_what_the_listing_shows_and_the_sweep_keeps(tmp_path: Path, entry: Entry) -> None:
    """Followed jobs are 1001-1004. Links are never followed; a `.`-name is a marker being written."""
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    directory = tmp_path / "ended"
    directory.mkdir()
    path = directory / entry.name
    if entry.kind == "link":
        path.symlink_to(victim)
    elif entry.kind == "dir":
        path.mkdir()
    else:
        path.write_text("0\n")
        if entry.kind == "old-temp":
            os.utime(path, (1_000_000, 1_000_000))
    markers = EndMarkers(directory, tmp_path)
    assert markers.names() == ([entry.name] if entry.listed else [])
    assert markers.sweep({"1001", "1002", "1003", "1004"}, time.time()) == (0 if entry.kept else 1)
    assert (os.path.lexists(path)) is entry.kept
    assert victim.read_text() == "keep me\n"


def test_a_missing_directory_lists_nothing(tmp_path: Path) -> None:
    markers = EndMarkers(tmp_path / ".ended" / "bot", tmp_path)
    assert markers.names() == [] and markers.sweep({"1"}, 0.0) == 0


@pytest.mark.parametrize("linked", [".ended", ".ended/bot"], ids=["parent-is-a-link", "directory-is-a-link"])
def test_a_link_on_the_way_to_the_directory_is_not_followed(tmp_path: Path, linked: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """Without a sandbox, PR code could put a link there: the manager neither lists nor removes through it."""
    victim = tmp_path / "victim"
    (victim / "bot").mkdir(parents=True)
    for directory in (victim, victim / "bot"):
        (directory / "eessi-bot.sqlite3").write_text("keep me\n")
        (directory / "1001").write_text("0\n")
    base = tmp_path / "jobs"
    (base / linked).parent.mkdir(parents=True)
    (base / linked).symlink_to(victim / "bot" if linked.endswith("bot") else victim)
    markers = EndMarkers(base / ".ended" / "bot", base)
    assert markers.names() == []
    assert markers.sweep(set(), time.time()) == 0
    assert sorted(p.name for p in (victim / "bot").iterdir()) == ["1001", "eessi-bot.sqlite3"]
    assert [r.getMessage() for r in caplog.records if "end markers" in r.getMessage()] == [
        f"end markers: cannot list {base / '.ended' / 'bot'}: '{'bot' if linked.endswith('bot') else '.ended'}' "
        "is a link or not a directory (never followed); job ends are noticed at the regular polls"]


# ---------------------------------------------------------------- when markers wake the manager

def test_markers_wake_once_then_on_a_schedule() -> None:
    wakes = Wakes()
    followed = {"7", "8"}
    assert not wakes.listed([], followed) and wakes.next_at() == math.inf
    assert not wakes.listed(["99"], followed), "a stray wakes nobody"
    assert wakes.listed(["7"], followed), "a new marker of a followed job: a cycle now"
    assert not wakes.listed(["7"], followed), "the same marker listed again: no new cycle"
    wakes.cycled(100.0, followed, answered=False)
    assert wakes.next_at() == math.inf, "while the batch system does not answer, the run loop retries"
    schedule = []
    for started in (100.5, 101.0, 102.5, 121.5, 130.5):
        wakes.cycled(started, followed, answered=True)
        schedule.append(wakes.next_at() - started)
    assert schedule == [0.25, 0.25, 1.0, 2.0, math.inf], "measured from the first answered cycle (100.5)"
    assert wakes.listed(["7", "8"], followed), "another job's marker"
    wakes.cycled(131.0, {"8"}, answered=True)
    assert wakes.next_at() == 131.25, "the reported job's marker is forgotten, the new one is followed"


def run_manager(site: JobSite, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=site.manager.run, args=(stop,), daemon=True)
    thread.start()
    return thread


def test_an_end_marker_starts_a_cycle_within_a_second_at_any_poll_interval(tmp_path: Path) -> None:
    site = JobSite(tmp_path, extra="\n[job_manager]\npoll_interval = 600\n")
    job = one_job(site)
    stop = threading.Event()
    thread = run_manager(site, stop)
    try:
        wait_for(lambda: site.store.jobs.get(job.key).state is JobState.RELEASED)  # type: ignore[union-attr]
        site.scheduler.start(job.job_id or "")
        site.scheduler.end(job.job_id or "")
        polls = site.scheduler.count("poll")
        (ended_dir(site) / str(job.job_id)).write_text("0\n")
        wrote = time.monotonic()
        wait_for(lambda: site.store.jobs.get(job.key).state is JobState.FINISHED, timeout=5)  # type: ignore[union-attr]
        assert time.monotonic() - wrote < 2.0
        assert site.scheduler.count("poll") == polls + 1, "one cycle, not one per second"
        wait_for(lambda: not (ended_dir(site) / str(job.job_id)).exists(), timeout=5)
    finally:
        stop.set()
        site.jobs_changed.notify()
        thread.join(5)


def test_a_stray_marker_wakes_nothing(tmp_path: Path) -> None:
    site = JobSite(tmp_path, extra="\n[job_manager]\npoll_interval = 600\n")
    one_job(site)
    site.manager.cycle()
    (ended_dir(site) / "424242").write_text("0\n")
    site.jobs_changed.wait(0)  # the build's wake-up, taken
    stop = threading.Event()
    started = time.monotonic()
    site.manager._wait(stop, 2.5)
    assert time.monotonic() - started >= 2.4, "the wait ran to its end"


def test_an_unreachable_batch_system_is_asked_every_second_and_said_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    site = JobSite(tmp_path, extra="\n[job_manager]\npoll_interval = 600\n")
    job = one_job(site)
    site.manager.cycle()
    site.scheduler.start(job.job_id or "")
    site.manager.cycle()
    site.scheduler.unavailable = True
    site.scheduler.end(job.job_id or "")
    caplog.set_level(logging.INFO, logger="eessi_bot.jobs.manager")
    stop = threading.Event()
    polls = site.scheduler.count("poll")
    thread = run_manager(site, stop)
    try:
        time.sleep(3.5)
        assert 3 <= site.scheduler.count("poll") - polls <= 5, "about one attempt a second"
        site.scheduler.unavailable = False
        back = time.monotonic()
        wait_for(lambda: site.store.jobs.get(job.key).state is JobState.FINISHED, timeout=5)  # type: ignore[union-attr]
        assert time.monotonic() - back < 1.5
    finally:
        stop.set()
        site.jobs_changed.notify()
        thread.join(5)
    said = [r.getMessage() for r in caplog.records if r.name == "eessi_bot.jobs.manager"]
    assert [m for m in said if "did not answer" in m] == [
        "the batch system did not answer (slurmctld is not answering); asking again every 1 s"]
    assert any(m.startswith("the batch system answers again (after ") for m in said)
