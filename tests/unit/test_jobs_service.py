"""jobs/service.py and jobs/trash.py on fakes: cancel, status views, PR close and reopen, abandon."""

from __future__ import annotations

from pathlib import Path

import pytest

from eessi_bot.core.jobs import JobState
from eessi_bot.jobs.comments import is_job_comment
from tests.fakes.git import HEAD_SHA
from tests.fakes.job_site import PR, REPO, JobSite


@pytest.fixture
def site(tmp_path: Path) -> JobSite:
    return JobSite(tmp_path, chatlevel="chatty", buildenv_extra="local_max_jobs = 8")


def test_cancel_all_then_the_manager_reports_who(site: JobSite) -> None:
    site.build("cpu_zen2")
    site.manager.cycle()
    report = site.service.cancel(REPO, PR, None, "alice")
    assert sorted(j.job_id or "" for j in report.cancelled) == ["1000", "1001"] and report.refused == ()
    assert site.scheduler.count("cancel") == 2
    site.manager.cycle()
    for job in site.jobs():
        assert (job.state, job.end_state, job.cancelled_by) == (JobState.FINISHED, "CANCELLED", "alice")
        assert "job ended `CANCELLED`, exit code `0:15`, cancelled by `alice`" in job.rows[-1].comment


@pytest.mark.parametrize(("ids", "refused"), [
    (["99"], [("99", "is not a job of this PR on this instance")]),
    (["1000"], [("1000", "is already finished")]),
], ids=["unknown", "finished"])
def test_cancel_refuses_what_it_cannot_cancel(site: JobSite, ids: list, refused: list) -> None:
    site.build("cpu_zen4")
    site.scheduler.end("1000")
    site.manager.cycle()
    report = site.service.cancel(REPO, PR, ids, "alice")
    assert report.cancelled == () and list(report.refused) == refused
    assert site.scheduler.count("cancel") == 0


def test_status_views_carry_the_commit_and_the_comment(site: JobSite) -> None:
    (job,) = site.build("cpu_zen4").submitted
    site.store.outbox.record_created(job.comment_key, 9, "https://github.com/c/9", 1, site.clock.now())
    (view,) = site.service.for_pr(REPO, PR)
    assert (view.job.job_id, view.head_sha, view.comment_url) == ("1000", HEAD_SHA, "https://github.com/c/9")


def test_pr_close_trashes_directories_after_the_last_job(site: JobSite) -> None:
    (job,) = site.build("cpu_zen4").submitted
    site.service.close_pr(REPO, PR, "close-1", merged=True, sender="alice")
    site.manager.cycle()
    assert Path(job.job_dir).is_dir(), "not moved while the job runs"
    site.scheduler.end("1000")
    site.manager.cycle()
    assert not Path(job.job_dir).exists()
    trash = site.config.clean_up.trash_bin_dir / REPO
    (moved,) = trash.glob(f"*/*/pr_{PR}")
    assert (moved / job.job_dir.split(f"pr_{PR}/")[1] / "cfg" / "job.cfg").is_file()
    notice = site.comment(f"closed:{REPO}#{PR}:close-1")
    assert notice is not None and str(moved) in notice.body
    assert site.store.jobs.closed_pending() == []


def test_reopen_keeps_the_directories(site: JobSite) -> None:
    (job,) = site.build("cpu_zen4").submitted
    site.service.close_pr(REPO, PR, "close-1", merged=False, sender="alice")
    site.service.reopen_pr(REPO, PR)
    site.scheduler.end("1000")
    site.manager.cycle()
    assert Path(job.job_dir).is_dir()


def test_cancel_on_close(tmp_path: Path) -> None:
    site = JobSite(tmp_path, extra="\n[clean_up]\ncancel_on_close = true\n")
    site.build("cpu_zen4")
    report = site.service.close_pr(REPO, PR, "close-1", merged=False, sender="alice")
    assert [j.job_id for j in report.cancelled] == ["1000"]
    site.manager.cycle()
    (job,) = site.jobs()
    assert job.end_state == "CANCELLED" and job.cancelled_by == "alice (PR closed)"
    assert not Path(job.job_dir).exists(), "moved to the trash once cancelled"


def test_abandon_marks_unsubmitted_jobs_failed(site: JobSite) -> None:
    request = site.request(delivery_id="dead")
    site.scheduler.lose_answer = True
    with pytest.raises(Exception, match="timed out"):
        site.build("cpu_zen4", request=request)
    site.service.abandon("dead")
    (job,) = site.jobs()
    assert job.state is JobState.SUBMIT_FAILED and "given up" in (job.error or "")
    assert site.store.jobs.unfinished_for_pr(REPO, PR) == 0, "a closed PR's trash does not wait for it"


@pytest.mark.parametrize(("site_extra", "first_rows"), [
    ({"buildenv_extra": "local_max_jobs = 8"}, ["released", "released", "released"]),
    ({"buildenv_extra": "local_max_jobs = 1"}, ["released", "submitted", "submitted"]),
    ({"backend": "slurm", "buildenv_extra": "job_handover_protocol = delayed_begin"}, ["received"] * 3),
], ids=["all-released", "held-for-a-free-slot", "delayed-begin"])
def test_the_managers_first_look_gives_each_fresh_job_comment_its_newest_state(tmp_path: Path, site_extra: dict,
                                                                              first_rows: list) -> None:
    """What the outbox sender relies on to create a job comment once (issue 15): a build leaves each job's
    comment at its first body (version 1, what the sender holds back) and wakes the job manager, whose first
    cycle stores the next row as a newer body (which ends the wait); a job still held keeps its first body."""
    site = JobSite(tmp_path, **site_extra)
    site.build()
    assert site.jobs_changed.wait(0), "the build wakes the job manager"
    jobs = sorted(site.jobs(), key=lambda j: j.job_id or "")
    for job in jobs:
        item = site.comment(job.comment_key)
        assert item is not None and is_job_comment(item.key) and (item.version, item.result_id) == (1, None)
    site.manager.cycle()
    for job, row in zip(jobs, first_rows):
        item = site.comment(job.comment_key)
        assert item is not None and item.version == (1 if row == "submitted" else 2)
        assert [r.status for r in site.job(job.job_id or "").rows][-1] == row
        assert f"|{row}|" in item.body


@pytest.mark.parametrize(("key", "expected"), [
    ("job:d1:1:cpu_zen2:eessi.io-2023.06-software", True),
    ("jobs:d1:1", True),
    ("response:eessi/software-layer:501", False),
    ("pr-opened:eessi/software-layer#7", False),
    ("closed:eessi/software-layer#7:close-1", False),
    ("reaction:eessi/software-layer:501:eyes", False),
], ids=["per-job", "summary", "answer", "node-table", "trash-notice", "reaction"])
def test_which_outbox_keys_are_job_comments(key: str, expected: bool) -> None:
    assert is_job_comment(key) is expected


@pytest.mark.parametrize("mode", ["per_job", "summary"])
def test_a_builds_comment_keys_are_job_comments(tmp_path: Path, mode: str) -> None:
    site = JobSite(tmp_path, buildenv_extra=f"job_comment_mode = {mode}")
    site.build()
    assert len(site.jobs()) == 3 and all(is_job_comment(job.comment_key) for job in site.jobs())
