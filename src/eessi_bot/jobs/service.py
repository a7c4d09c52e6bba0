"""This instance's jobs as commands and events see them: build, list, cancel, and a check run's re-run."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Dict, List, Optional, Sequence

from eessi_bot.core.build_report import BuildReport
from eessi_bot.core.check_runs import check_key
from eessi_bot.core.jobs import FOLLOWED, CancelReport, Job, JobView
from eessi_bot.core.targets import Target
from eessi_bot.jobs.build import BuildService
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.jobs import Request
from eessi_bot.ports.scheduler import Scheduler
from eessi_bot.ports.store import Store
from eessi_bot.ports.wakeup import Wakeup

log = logging.getLogger(__name__)


class JobService:
    """`ports.jobs.Jobs` over the store and the scheduler; wakes the job manager (`jobs_changed`)
    when jobs were submitted or cancelled or a PR closed, so it looks at them now."""

    def __init__(self, builder: BuildService, store: Store, scheduler: Scheduler, clock: Clock,
                 jobs_changed: Wakeup, cancel_on_close: bool = False) -> None:
        self.builder = builder
        self.cancel_on_close = cancel_on_close
        self.store = store
        self.scheduler = scheduler
        self.clock = clock
        self.jobs_changed = jobs_changed

    def build(self, request: Request, targets: Sequence[Target], exports: Sequence[str]) -> BuildReport:
        report = self.builder.build(request, targets, exports)
        self.jobs_changed.notify()
        return report

    def for_pr(self, repo: str, pr_number: int) -> List[JobView]:
        uploads: Dict[str, List[str]] = {}
        for upload in self.store.uploads.for_pr(repo, pr_number):
            uploads.setdefault(upload.job_key, []).append(upload.state.value)
        views = []
        for job in self.store.jobs.for_pr(repo, pr_number):
            if job.job_id is None:
                continue
            pin = self.store.jobs.pin(job.build_key)
            url = self.store.outbox.comment_url(job.comment_key)
            states = tuple(uploads.get(job.key, ()))
            views.append(JobView(job, pin.checkout.head_sha if pin else "", url, states))
        return views

    def cancel(self, repo: str, pr_number: int, job_ids: Optional[Sequence[str]], sender: str) -> CancelReport:
        jobs = {job.job_id: job for job in self.store.jobs.for_pr(repo, pr_number) if job.job_id}
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
                self.store.jobs.set_cancelled_by(job.key, sender, self.clock.now())
                self.scheduler.cancel(job.tracked())
                cancelled.append(replace(job, cancelled_by=sender))
                log.info("job %s cancelled by %s", job_id, sender, extra={"job_id": job_id})
        if cancelled:
            self.jobs_changed.notify()
        return CancelReport(tuple(cancelled), tuple(refused))

    def close_pr(self, repo: str, pr_number: int, delivery_id: str, merged: bool, sender: str) -> CancelReport:
        report = CancelReport()
        if self.cancel_on_close:
            report = self.cancel(repo, pr_number, None, f"{sender} (PR closed)")
        self.store.jobs.close_pr(repo, pr_number, delivery_id, merged, sender, self.clock.now())
        self.jobs_changed.notify()
        return report

    def reopen_pr(self, repo: str, pr_number: int) -> None:
        self.store.jobs.reopen_pr(repo, pr_number)

    def check_run_job(self, repo: str, check_run_id: int, external_id: str) -> Optional[Job]:
        job = self.store.jobs.get(external_id) if external_id else None
        if job is None or job.repo != repo:
            return None
        written = self.store.outbox.get(check_key(job.key))
        if written is not None and written.result_id is not None and written.result_id != check_run_id:
            return None
        return job

    def rerun(self, job: Job, request: Request) -> BuildReport:
        report = self.builder.rebuild(job, request)
        self.jobs_changed.notify()
        return report

    def abandon(self, delivery_id: str) -> None:
        reason = (f"the command was given up (see the bot's log for delivery {delivery_id}); a job submitted "
                  "meanwhile would carry this command's key as its Slurm comment")
        if self.store.jobs.abandon(delivery_id, reason, self.clock.now()):
            log.warning("jobs of delivery %s were never submitted and are marked failed", delivery_id,
                        extra={"delivery_id": delivery_id})
