"""jobs/build.py on fakes: one fetch per command, one job per target, submitted once even when
the command is handled again, and every failure a plain answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from eessi_bot.core.jobs import JobState
from eessi_bot.ports.git import GitError
from eessi_bot.ports.scheduler import SchedulerUnavailable
from tests.fakes.git import HEAD_SHA
from tests.fakes.job_site import PR, JobSite


@pytest.fixture
def site(tmp_path: Path) -> JobSite:
    return JobSite(tmp_path)


def test_one_held_job_per_target_from_one_fetch(site: JobSite) -> None:
    report = site.build()
    assert [(j.node_type, j.repo_id) for j in report.submitted] == [
        ("cpu_zen2", "eessi.io-2023.06-compat"), ("cpu_zen2", "eessi.io-2023.06-software"),
        ("cpu_zen4", "eessi.io-2023.06-software")]
    assert report.failed == [] and report.download_error is None
    assert len(site.git.prepared) == 1, "the PR is fetched once per command"
    assert site.git.prepared[0] == ("https://git.example/eessi/software-layer.git", "main", PR, HEAD_SHA,
                                    site.github.git_token())
    submissions = list(site.scheduler.submissions.values())
    assert all(s.hold and s.begin_delay is None for s in submissions)
    assert [s.options[-2:] for s in submissions] == [("-p", "zen2"), ("-p", "zen2"), ("-p", "zen4")]
    assert all(dict(s.environment) == {"PATH": "/usr/bin", "HOME": str(site.root)} for s in submissions)
    for job in site.jobs():
        directory = Path(job.job_dir)
        assert job.state is JobState.SUBMITTED and job.rows[0].status == "submitted"
        assert (directory / "cfg" / "job.cfg").is_file() and (directory / f"{PR}.diff").is_file()
        assert (directory / f"_bot_job{job.job_id}.metadata").is_file()
        assert Path(job.symlink or "").resolve() == directory.resolve()
        body = site.comment_body(job)
        assert f"Job dir: `{job.symlink}`" in body and f"Commit SHA: {HEAD_SHA}" in body
        assert f"|submitted|job id `{job.job_id}` awaits release by job manager|" in body


def test_the_same_command_again_submits_nothing_new(site: JobSite) -> None:
    request = site.request()
    first = site.build(request=request)
    again = site.build(request=request)
    assert [j.job_id for j in again.submitted] == [j.job_id for j in first.submitted]
    assert site.scheduler.count("submit") == 3 and len(site.git.prepared) == 1
    assert len(site.jobs()) == 3


def test_a_lost_sbatch_answer_is_found_not_repeated(site: JobSite) -> None:
    request = site.request()
    site.scheduler.lose_answer = True
    with pytest.raises(SchedulerUnavailable):
        site.build("cpu_zen4", request=request)
    (pending,) = site.jobs()
    assert pending.state is JobState.SUBMITTING
    report = site.build("cpu_zen4", request=request)
    assert site.scheduler.count("submit") == 1 and site.scheduler.count("find") == 1
    assert [j.job_id for j in report.submitted] == ["1000"]


def test_a_refused_submission_is_answered_and_the_others_go_on(site: JobSite) -> None:
    site.scheduler.refuse = "sbatch: error: invalid partition specified: zen4"
    report = site.build("cpu_zen4")
    ((target, message),) = report.failed
    assert target.node.name == "cpu_zen4" and "invalid partition" in message
    (job,) = site.jobs()
    assert job.state is JobState.SUBMIT_FAILED and job.error == message
    assert site.comment(job.comment_key) is None, "a job that never got an id has no comment"


@pytest.mark.parametrize(("stage", "text"), [
    ("clone", "Unable to download or merge changes between the source branch and the destination branch"),
    ("apply", "Unable to download or merge changes between the source branch and the destination branch"),
], ids=["clone", "conflict"])
def test_a_pr_that_cannot_be_prepared_submits_nothing(site: JobSite, stage: str, text: str) -> None:
    site.git.fail = GitError(stage, f"{stage} failed", stderr="CONFLICT (content): Merge conflict in easystack.yml")
    report = site.build()
    assert report.submitted == [] and site.scheduler.calls == [] and site.jobs() == []
    assert report.download_error is not None and f"{stage} failed" in report.download_error
    assert "CONFLICT (content)" in report.download_error


def test_export_variables_reach_the_job(site: JobSite) -> None:
    site.build("cpu_zen4", exports=("SKIP_TESTS=yes",))
    (job,) = site.jobs()
    assert (Path(job.job_dir) / "cfg" / "export_vars.sh").read_text() == "export SKIP_TESTS=yes"


def test_summary_mode_makes_one_comment_per_command(tmp_path: Path) -> None:
    site = JobSite(tmp_path, buildenv_extra="job_comment_mode = summary")
    site.build()
    keys = {job.comment_key for job in site.jobs()}
    assert len(keys) == 1 and next(iter(keys)).startswith("jobs:")
    body = site.comment_body(site.jobs()[0])
    assert all(f"{job.job_id}" in body for job in site.jobs())


def test_incognito_builds_without_comments(tmp_path: Path) -> None:
    """Only the jobs' check runs wait in the outbox: they are the PR's checks, not chat (`[github]
    check_runs = false` turns them off)."""
    site = JobSite(tmp_path, chatlevel="incognito")
    assert len(site.build().submitted) == 3
    assert [site.comment(job.comment_key) for job in site.jobs()] == [None, None, None]
    assert site.store.outbox.counts() == {"pending": 3, "failed": 0, "sent": 0}


def test_clone_via_ssh_fetches_the_ssh_url(tmp_path: Path) -> None:
    site = JobSite(tmp_path, buildenv_extra="clone_git_repo_via = ssh")
    site.build("cpu_zen4")
    assert site.git.prepared[0][0] == "git@git.example:eessi/software-layer.git"
    assert site.git.prepared[0][4] is None, "no token for ssh"
