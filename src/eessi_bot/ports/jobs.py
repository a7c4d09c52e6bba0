"""This instance's jobs, as commands and events see them: build, list, cancel, close.

`eessi_bot.jobs.service.JobService` implements it over the store, git and the scheduler; commands
and event handlers only know this Protocol, so they are tested with a recording fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Protocol, Sequence

from eessi_bot.core.build_report import BuildReport
from eessi_bot.core.jobs import CancelReport, Job, JobView
from eessi_bot.core.targets import Target


@dataclass(frozen=True)
class Request:
    """Where a command came from. `delivery_id`, `line` and `comment_id` key its effects and jobs."""

    repo: str
    number: int
    sender: str
    comment_id: int
    comment_url: str
    delivery_id: str
    line: int
    received_at: float
    """When the delivery arrived (it dates the job directories, so a retry finds the same ones)."""


class Jobs(Protocol):
    def build(self, request: Request, targets: Sequence[Target], exports: Sequence[str]) -> BuildReport:
        """Prepare and submit one job per target; `exports` (`NAME=value`) go to `cfg/export_vars.sh`."""
        ...

    def for_pr(self, repo: str, pr_number: int) -> List[JobView]: ...

    def cancel(self, repo: str, pr_number: int, job_ids: Optional[Sequence[str]], sender: str) -> CancelReport:
        """Cancel the PR's unfinished jobs (all of them when `job_ids` is None)."""
        ...

    def close_pr(self, repo: str, pr_number: int, delivery_id: str, merged: bool, sender: str) -> CancelReport:
        """The PR was closed: its directories go to the trash when its jobs are done (cancelled first
        with `[clean_up] cancel_on_close`)."""
        ...

    def reopen_pr(self, repo: str, pr_number: int) -> None: ...

    def abandon(self, delivery_id: str) -> None:
        """The delivery will not be tried again: its jobs that never got submitted are marked failed."""
        ...

    def check_run_job(self, repo: str, check_run_id: int, external_id: str) -> Optional[Job]:
        """The job behind a check run this instance wrote: its `external_id` is the job's key, and the
        check run id stored with the job must match (a `check_run` event of a fork's PR names no PR).
        None for any other check run."""
        ...

    def rerun(self, job: Job, request: Request) -> BuildReport:
        """`job`'s target submitted again as a new job keyed by `request` (a re-run's own delivery),
        with the same commits and `exportvariable:`s; RerunRefused when that cannot be done."""
        ...


class RerunRefused(Exception):
    """A job that cannot be submitted again as it was; the message says why, for the PR."""
