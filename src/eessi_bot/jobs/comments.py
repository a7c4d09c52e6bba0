"""A job's PR comment and check run follow its row: each save re-renders them into the outbox, in one
transaction."""

from __future__ import annotations

from dataclasses import replace
from typing import List

from eessi_bot.core.check_runs import CHECK_PREFIX, check_key, check_run
from eessi_bot.core.config import ChatLevel, Config
from eessi_bot.core.effects import Effects
from eessi_bot.core.job_comment import render_job_comment, render_summary
from eessi_bot.core.jobs import Job
from eessi_bot.jobs.check_runs import CheckRunSwitch
from eessi_bot.ports.store import Store, Transaction

JOB_PREFIX = "job:"
SUMMARY_PREFIX = "jobs:"
"""Outbox keys of job comments: one per job (`job:<job key>`) or one per command (`jobs:<build key>`)."""


def is_job_comment(key: str) -> bool:
    """Whether an outbox key is a job's comment or check run (the outbox sender lets a fresh one wait
    for the job manager's first look, see `service/outbox_sender.py`)."""
    return key.startswith((JOB_PREFIX, SUMMARY_PREFIX, CHECK_PREFIX))


class JobComments:
    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.check_runs = CheckRunSwitch(config.github, store)

    def save(self, job: Job, now: float) -> Job:
        """Store `job` and, once it has a job id, the new body of its comment (per job, or the
        command's summary rendered from its jobs as they stand after this save)."""
        head_sha = self.head_sha(job)
        with self.store.transaction() as tx:
            return self.stage(tx, job, now, head_sha)

    def head_sha(self, job: Job) -> str:
        """The PR head the job built (read before a transaction, which must stay short)."""
        pin = self.store.jobs.pin(job.build_key) if job.job_id else None
        return pin.checkout.head_sha if pin is not None else ""

    def stage(self, tx: Transaction, job: Job, now: float, head_sha: str) -> Job:
        """`save` inside the caller's transaction (a deploy saves a job's rows with its upload). The
        job's check run is staged with its comment (check runs do not follow chatlevel: they are the
        PR's checks, turned off with `[github] check_runs = false`)."""
        saved = replace(job, updated_at=now)
        tx.save_job(saved, now)
        if not job.job_id:
            return saved
        effects = Effects()
        commented = self.config.bot_control.chatlevel > ChatLevel.INCOGNITO
        if commented:
            self._comment(effects, saved, tx.jobs_of_build(job.build_key), head_sha)
        run = check_run(self.config.instance, saved, head_sha, saved.comment_key if commented else None)
        if run is not None and self.check_runs.on(now):
            effects.check_run(check_key(saved.key), saved.repo, saved.pr_number, run.encode())
        if effects.items:
            tx.put(effects, now)
        return saved

    def _comment(self, effects: Effects, job: Job, siblings: List[Job], head_sha: str) -> None:
        if job.comment_key.startswith(SUMMARY_PREFIX):
            body = render_summary(self.config.instance, [j for j in siblings if j.job_id], head_sha)
        else:
            body = render_job_comment(self.config.templates, self.config.instance, job, head_sha)
        effects.comment(job.comment_key, job.repo, job.pr_number, body)
