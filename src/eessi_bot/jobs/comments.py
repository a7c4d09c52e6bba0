"""A job's PR comment follows its row: every save re-renders it into the outbox, in one transaction."""

from __future__ import annotations

from dataclasses import replace
from typing import List

from eessi_bot.adapters.sqlite.jobs import JobStore
from eessi_bot.core.config import ChatLevel, Config
from eessi_bot.core.effects import Effects
from eessi_bot.core.job_comment import render_job_comment, render_summary
from eessi_bot.core.jobs import Job

SUMMARY_PREFIX = "jobs:"


class JobComments:
    def __init__(self, config: Config, store: JobStore) -> None:
        self.config = config
        self.store = store

    def save(self, job: Job, now: float) -> Job:
        """Store `job` and the new body of its comment (per job, or the command's summary)."""
        saved = replace(job, updated_at=now)
        if not job.job_id or self.config.bot_control.chatlevel <= ChatLevel.INCOGNITO:
            self.store.save(saved, now)
            return saved
        pin = self.store.pin(job.build_key)
        head_sha = pin.checkout.head_sha if pin is not None else ""

        def render(siblings: List[Job]) -> Effects:
            if job.comment_key.startswith(SUMMARY_PREFIX):
                body = render_summary(self.config.instance, [j for j in siblings if j.job_id], head_sha)
            else:
                body = render_job_comment(self.config.templates, self.config.instance, job, head_sha)
            effects = Effects()
            effects.comment(job.comment_key, job.repo, job.pr_number, body)
            return effects

        self.store.save(saved, now, render)
        return saved
