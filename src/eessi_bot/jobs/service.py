"""This instance's jobs as commands and events see them: build, list, cancel."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import List, Optional, Sequence

from eessi_bot.adapters.sqlite.jobs import JobStore
from eessi_bot.core.build_report import BuildReport
from eessi_bot.core.jobs import FOLLOWED, CancelReport, Job, JobView
from eessi_bot.core.targets import Target
from eessi_bot.jobs.build import BuildService
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.jobs import Request
from eessi_bot.ports.scheduler import Scheduler

log = logging.getLogger(__name__)


class JobService:
    def __init__(self, builder: BuildService, store: JobStore, scheduler: Scheduler, clock: Clock,
                 manager_wake: Optional[threading.Event] = None, cancel_on_close: bool = False) -> None:
        self.builder = builder
        self.cancel_on_close = cancel_on_close
        self.store = store
        self.scheduler = scheduler
        self.clock = clock
        self.manager_wake = manager_wake

    def build(self, request: Request, targets: Sequence[Target], exports: Sequence[str]) -> BuildReport:
        report = self.builder.build(request, targets, exports)
        self._wake()
        return report

    def for_pr(self, repo: str, pr_number: int) -> List[JobView]:
        views = []
        for job in self.store.for_pr(repo, pr_number):
            if job.job_id is None:
                continue
            pin = self.store.pin(job.build_key)
            views.append(JobView(job, pin.checkout.head_sha if pin else "", self.store.comment_url(job.comment_key)))
        return views

    def cancel(self, repo: str, pr_number: int, job_ids: Optional[Sequence[str]], sender: str) -> CancelReport:
        jobs = {job.job_id: job for job in self.store.for_pr(repo, pr_number) if job.job_id}
        wanted = list(job_ids) if job_ids is not None else [i for i, j in jobs.items() if j.state in FOLLOWED]
        cancelled: List[Job] = []
        refused = []
        for job_id in wanted:
            job = jobs.get(job_id)
            if job is None:
                refused.append((job_id, "is not a job of this PR on this instance"))
            elif job.state not in FOLLOWED:
                refused.append((job_id, f"is already {job.state.value}"))
            else:
                self.store.set_cancelled_by(job.key, sender, self.clock.now())
                self.scheduler.cancel(job.tracked())
                cancelled.append(replace(job, cancelled_by=sender))
                log.info("job %s cancelled by %s", job_id, sender, extra={"job_id": job_id})
        if cancelled:
            self._wake()
        return CancelReport(tuple(cancelled), tuple(refused))

    def close_pr(self, repo: str, pr_number: int, delivery_id: str, merged: bool, sender: str) -> CancelReport:
        report = CancelReport()
        if self.cancel_on_close:
            report = self.cancel(repo, pr_number, None, f"{sender} (PR closed)")
        self.store.close_pr(repo, pr_number, delivery_id, merged, sender, self.clock.now())
        self._wake()
        return report

    def reopen_pr(self, repo: str, pr_number: int) -> None:
        self.store.reopen_pr(repo, pr_number)

    def abandon(self, delivery_id: str) -> None:
        reason = (f"the command was given up (see the bot's log for delivery {delivery_id}); a job submitted "
                  "meanwhile would carry this command's key as its Slurm comment")
        if self.store.abandon(delivery_id, reason, self.clock.now()):
            log.warning("jobs of delivery %s were never submitted and are marked failed", delivery_id,
                        extra={"delivery_id": delivery_id})

    def _wake(self) -> None:
        if self.manager_wake is not None:
            self.manager_wake.set()
