"""A recording fake of the `Jobs` port: commands and event handlers tested without store, git or processes.

It keeps the PR's jobs as a list of `JobView`s, answers `for_pr` from it and cancels as
`eessi_bot.jobs.service.JobService` does (same refusal reasons); `build` turns each target into a
submitted job unless the test made its submission fail or made the PR fail to download. Every call is
recorded in `calls`, so a test can assert what the command asked of the jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

from eessi_bot.core.build_report import BuildReport
from eessi_bot.core.jobs import FOLLOWED, CancelReport, Job, JobState, JobView, Row
from eessi_bot.core.targets import Target
from eessi_bot.ports.jobs import Request, RerunRefused

NOT_OURS = "is not a job of this PR on this instance"
"""JobService's reason for an id it does not know."""


@dataclass(frozen=True)
class Call:
    """One call of the port: the method's name and its arguments (sequences as tuples)."""

    method: str
    args: Tuple[object, ...]


def make_job(node_type: str, repo_id: str, job_id: Optional[str], *, software_subdir: str = "x86_64/amd/zen2",
             accelerator: Optional[str] = None, state: JobState = JobState.SUBMITTED, created_at: float = 0.0,
             rows: Tuple[Row, ...] = (), repo: str = "EESSI/software-layer", pr_number: int = 42) -> Job:
    """A job row with the fields commands show; the rest is plausible filler."""
    key = f"delivery:1:{node_type}:{repo_id}"
    on_arch = "-".join(software_subdir.split("/")[1:]) or software_subdir
    return Job(key=key, build_key="delivery:1", repo=repo, pr_number=pr_number, node_type=node_type,
               repo_id=repo_id, software_subdir=software_subdir, accelerator=accelerator, on_arch=on_arch,
               on_accelerator=None, job_dir=f"/jobs/{key}", backend="local", comment_key=f"job:{key}",
               state=state, job_id=job_id, rows=rows, created_at=created_at, updated_at=created_at)


@dataclass
class FakeJobs:
    views: List[JobView] = field(default_factory=list)
    """The PR's jobs, as `for_pr` returns them."""
    submit_errors: Dict[Tuple[str, str], str] = field(default_factory=dict)
    """(node type, repo id) → the scheduler's message, for targets whose submission fails."""
    download_error: Optional[str] = None
    """When set, `build` reports that the PR could not be prepared (and submits nothing)."""
    first_job_id: int = 1234567
    calls: List[Call] = field(default_factory=list)
    check_runs: Dict[int, Job] = field(default_factory=dict)
    """Check run id → the job it was written for (`check_run_job` also wants its key as external_id)."""
    rerun_refusal: Optional[str] = None
    """When set, `rerun` raises RerunRefused with it."""

    def build(self, request: Request, targets: Sequence[Target], exports: Sequence[str]) -> BuildReport:
        self.calls.append(Call("build", (request, tuple(targets), tuple(exports))))
        if self.download_error is not None:
            return BuildReport(download_error=self.download_error)
        report = BuildReport()
        for target in targets:
            error = self.submit_errors.get((target.node.name, target.repo_id))
            if error is not None:
                report.failed.append((target, error))
                continue
            job_id = str(self.first_job_id + len(report.submitted))
            report.submitted.append(make_job(
                target.node.name, target.repo_id, job_id, software_subdir=target.software_subdir,
                accelerator=target.accelerator, repo=request.repo, pr_number=request.number))
        return report

    def for_pr(self, repo: str, pr_number: int) -> List[JobView]:
        self.calls.append(Call("for_pr", (repo, pr_number)))
        return list(self.views)

    def cancel(self, repo: str, pr_number: int, job_ids: Optional[Sequence[str]], sender: str) -> CancelReport:
        self.calls.append(Call("cancel", (repo, pr_number, None if job_ids is None else tuple(job_ids), sender)))
        jobs = {v.job.job_id: v.job for v in self.views if v.job.job_id}
        wanted = list(job_ids) if job_ids is not None else [i for i, j in jobs.items() if j.state in FOLLOWED]
        cancelled: List[Job] = []
        refused: List[Tuple[str, str]] = []
        for job_id in wanted:
            job = jobs.get(job_id)
            if job is None:
                refused.append((job_id, NOT_OURS))
            elif job.state not in FOLLOWED:
                refused.append((job_id, f"is already {job.state.value}"))
            else:
                cancelled.append(replace(job, cancelled_by=sender))
        return CancelReport(tuple(cancelled), tuple(refused))

    def close_pr(self, repo: str, pr_number: int, delivery_id: str, merged: bool, sender: str) -> CancelReport:
        self.calls.append(Call("close_pr", (repo, pr_number, delivery_id, merged, sender)))
        return CancelReport()

    def reopen_pr(self, repo: str, pr_number: int) -> None:
        self.calls.append(Call("reopen_pr", (repo, pr_number)))

    def abandon(self, delivery_id: str) -> None:
        self.calls.append(Call("abandon", (delivery_id,)))

    def check_run_job(self, repo: str, check_run_id: int, external_id: str) -> Optional[Job]:
        self.calls.append(Call("check_run_job", (repo, check_run_id, external_id)))
        job = self.check_runs.get(check_run_id)
        return job if job is not None and (job.repo, job.key) == (repo, external_id) else None

    def rerun(self, job: Job, request: Request) -> BuildReport:
        """A new job for `job`'s target (keyed by the request), or the PR's download error."""
        self.calls.append(Call("rerun", (job.key, request)))
        if self.rerun_refusal is not None:
            raise RerunRefused(self.rerun_refusal)
        if self.download_error is not None:
            return BuildReport(download_error=self.download_error)
        return BuildReport(submitted=[make_job(job.node_type, job.repo_id, str(self.first_job_id),
                                               software_subdir=job.software_subdir, repo=job.repo,
                                               pr_number=job.pr_number)])
