"""jobs/manager.py on fakes: one scheduler query per cycle, a row per state change and none on
idle cycles, results from the job directory, and a batch system that fails or forgets jobs."""

from __future__ import annotations

import configparser
import shutil
from pathlib import Path

import pytest

from eessi_bot.core.jobs import Job, JobState
from eessi_bot.core.transitions import MAX_MISSING_POLLS
from eessi_bot.ports.scheduler import SchedulerUnavailable
from tests.fakes.job_site import JobSite


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
