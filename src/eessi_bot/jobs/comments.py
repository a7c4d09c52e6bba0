"""A job's PR comment follows its row: each save re-renders it into the outbox, in one transaction."""

from __future__ import annotations

from dataclasses import replace
from typing import List

from eessi_bot.core.config import ChatLevel, Config
from eessi_bot.core.effects import Effects
from eessi_bot.core.job_comment import render_job_comment, render_summary
from eessi_bot.core.jobs import Job
from eessi_bot.ports.store import Store, Transaction

JOB_PREFIX = "job:"
SUMMARY_PREFIX = "jobs:"
"""Outbox keys of job comments: one per job (`job:<job key>`) or one per command (`jobs:<build key>`)."""


def is_job_comment(key: str) -> bool:
    """Whether an outbox key is a job's comment (the outbox sender lets a fresh one wait for the job
    manager's first look, see `service/outbox_sender.py`)."""
    return key.startswith((JOB_PREFIX, SUMMARY_PREFIX))


class JobComments:
    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store

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
        """`save` inside the caller's transaction (a deploy saves a job's rows with its upload)."""
        saved = replace(job, updated_at=now)
        tx.save_job(saved, now)
        if job.job_id and self.config.bot_control.chatlevel > ChatLevel.INCOGNITO:
            tx.put(self._comment(saved, tx.jobs_of_build(job.build_key), head_sha), now)
        return saved

    def _comment(self, job: Job, siblings: List[Job], head_sha: str) -> Effects:
        if job.comment_key.startswith(SUMMARY_PREFIX):
            body = render_summary(self.config.instance, [j for j in siblings if j.job_id], head_sha)
        else:
            body = render_job_comment(self.config.templates, self.config.instance, job, head_sha)
        effects = Effects()
        effects.comment(job.comment_key, job.repo, job.pr_number, body)
        return effects
