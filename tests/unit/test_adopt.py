"""Switching from the EESSI bot: the jobs it left in `job_ids_dir` are adopted once; submitted ones
are followed and reported by editing their existing comment; finished ones are known to status,
deploy and PR close; what cannot be adopted is said."""

from __future__ import annotations

from pathlib import Path

import pytest

from eessi_bot.core.jobs import JobState, JobStatus
from eessi_bot.jobs.adopt import Adopter
from tests.fakes.eessi_jobs import SUCCESS, eessi_job
from tests.fakes.job_site import PR, REPO, JobSite
from tests.fakes.scheduler import HELD


@pytest.fixture
def site(tmp_path: Path) -> JobSite:
    return JobSite(tmp_path, chatlevel="chatty", backend="slurm")


def adopter(site: JobSite) -> Adopter:
    return Adopter(site.config, site.store, site.github, site.clock)


def make(site: JobSite, job_id: str, comment_id: int = 9001, **kwargs: object) -> Path:
    return eessi_job(site.config.buildenv.jobs_base_dir, site.config.job_manager.job_ids_dir, job_id, REPO, PR,
                     comment_id, **kwargs)  # type: ignore[arg-type]


def test_a_held_job_is_released_and_its_comment_edited(site: JobSite) -> None:
    make(site, "555")
    site.scheduler.queue["555"] = HELD
    report = adopter(site).adopt()
    (job,) = report.adopted
    assert (job.job_id, job.repo, job.pr_number, job.software_subdir, job.repo_id, job.state) == (
        "555", REPO, PR, "x86_64/amd/zen2", "eessi.io-2023.06-software", JobState.SUBMITTED)
    assert site.store.outbox.due(site.clock.now()) == [], "adopting posts and edits nothing"
    site.manager.cycle()
    assert ("release", "555") in site.scheduler.calls
    (write,) = site.store.outbox.due(site.clock.now())
    assert (write.result_id, write.kind) == (9001, "comment"), "the EESSI comment is edited"
    assert "|released|" in write.body and "|submitted|job id `555` awaits release by job manager|" in write.body
    site.scheduler.end("555")
    site.manager.cycle()
    (saved,) = site.jobs()
    assert saved.state is JobState.FINISHED and [r.status for r in saved.rows] == ["submitted", "released",
                                                                                   "finished"]
    assert adopter(site).adopt().adopted == [], "nothing is adopted twice"


def test_a_job_that_ended_during_the_switch_is_reported_from_its_results(site: JobSite) -> None:
    make(site, "556", result=SUCCESS)
    site.scheduler.accounting["556"] = JobStatus("COMPLETED", exit_code="0:0")
    adopter(site).adopt()
    site.manager.cycle()
    (job,) = site.jobs()
    assert job.state is JobState.FINISHED and job.result_status == "SUCCESS" and job.end_state == "COMPLETED"
    assert "SUCCESS built by the EESSI bot" in job.rows[-1].comment


def test_finished_jobs_are_imported_for_status_deploy_and_close(site: JobSite) -> None:
    make(site, "557", finished=True, result=SUCCESS)
    (job,) = adopter(site).adopt().adopted
    assert job.state is JobState.FINISHED and job.result_status == "SUCCESS"
    assert job.artefacts == ("eessi-2023.06-software-linux-x86_64-amd-zen2-1690000000.tar.gz",)
    assert site.store.outbox.due(site.clock.now()) == [], "its comment is left as it is"
    (view,) = site.service.for_pr(REPO, PR)
    assert view.job.job_id == "557"
    site.manager.cycle()
    assert site.scheduler.count("poll") == 0, "a finished job is not followed"


def test_a_closed_pr_moves_the_eessi_directories_too(site: JobSite) -> None:
    job_dir = make(site, "558", finished=True, result=SUCCESS)
    adopter(site).adopt()
    site.service.close_pr(REPO, PR, "close-1", merged=True, sender="maintainer")
    site.manager.cycle()
    assert not job_dir.exists()
    (moved,) = (site.config.clean_up.trash_bin_dir / REPO).glob(f"*/2026.11/pr_{PR}")
    assert (moved / "558").is_symlink()


def test_the_comment_is_found_by_job_id_when_the_metadata_has_none(site: JobSite) -> None:
    made = site.github.create_comment(REPO, PR, "New job on instance `old-bot`\n|date|job status|comment|\n"
                                      "|Nov 28 10:00:00 UTC 2026|submitted|job id `559` awaits release by job manager|")
    make(site, "559", comment_id=-1)
    site.scheduler.queue["559"] = HELD
    adopter(site).adopt()
    site.manager.cycle()
    (write,) = site.store.outbox.due(site.clock.now())
    assert write.result_id == made.id


@pytest.mark.parametrize(("broken", "reason"), [
    ("metadata", "_bot_job560.metadata is missing"),
    ("job.cfg", "job.cfg is missing"),
], ids=["no-metadata", "no-job-cfg"])
def test_what_cannot_be_adopted_is_said(site: JobSite, broken: str, reason: str) -> None:
    job_dir = make(site, "560")
    (job_dir / ("_bot_job560.metadata" if broken == "metadata" else "cfg/job.cfg")).unlink()
    report = adopter(site).adopt()
    assert report.adopted == [] and len(report.skipped) == 1
    assert report.skipped[0][0] == "560" and reason in report.skipped[0][1]


def test_a_dry_run_changes_nothing(site: JobSite) -> None:
    make(site, "561")
    report = adopter(site).adopt(dry_run=True)
    assert [j.job_id for j in report.adopted] == ["561"] and site.jobs() == []


def test_our_own_jobs_are_not_adopted(site: JobSite) -> None:
    """The bot keeps job_ids_dir/submitted links for admins too: its own jobs are known by id."""
    site.build("cpu_zen4")
    assert (site.config.job_manager.job_ids_dir / "submitted" / "1000").is_symlink()
    assert adopter(site).adopt().adopted == []


def test_a_local_backend_does_not_adopt_slurm_jobs(tmp_path: Path) -> None:
    site = JobSite(tmp_path)
    make(site, "562")
    report = adopter(site).adopt()
    assert report.adopted == [] and "job_backend is not slurm" in report.skipped[0][1]
