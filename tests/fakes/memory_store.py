"""An in-memory `ports.store.Store`: the same contract as the SQLite store (tests/unit/test_store.py
runs one suite against both), so jobs/ and service/ are unit-tested without files or sleeps.

One lock serialises everything; a transaction works on the live state and restores a snapshot
taken at its start if its block raises.
"""

from __future__ import annotations

import copy
import threading
from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator, List, Optional

from eessi_bot.core.check_runs import check_key
from eessi_bot.core.effects import CHECK_RUN, CheckRunEffect, CommentEffect, Effects, ReactionEffect
from eessi_bot.core.jobs import Job, JobState
from eessi_bot.core.uploads import Upload
from eessi_bot.ports.store import COMMENT, REACTION, OutboxItem
from tests.fakes.memory_overview import MemoryOverview
from tests.fakes.memory_queues import MemoryInbox, MemoryOutbox
from tests.fakes.memory_records import MemoryJobs, MemoryUploads
from tests.fakes.memory_state import Part, State, WriteRow


class MemoryTransaction(Part):
    def save_job(self, job: Job, now: float) -> None:
        existing = self._s.jobs.get(job.key)
        if existing is None:
            self._s.jobs[job.key] = (self._s.next(), replace(job, cancelled_by=job.cancelled_by, created_at=now,
                                                             updated_at=now))
        else:
            order, old = existing
            self._s.jobs[job.key] = (order, replace(job, cancelled_by=old.cancelled_by, created_at=old.created_at,
                                                    updated_at=now))

    def jobs_of_build(self, build_key: str) -> List[Job]:
        return [job for _, job in sorted(self._s.jobs.values(), key=lambda item: item[0])
                if job.build_key == build_key]

    def put(self, effects: Effects, now: float, delivery_id: Optional[str] = None) -> None:
        for effect in effects.items:
            write = self._s.writes.get(effect.key)
            if isinstance(effect, (CommentEffect, CheckRunEffect)):
                kind = CHECK_RUN if isinstance(effect, CheckRunEffect) else COMMENT
                if write is None:
                    self._add(OutboxItem(effect.key, kind, effect.repo, effect.issue_number, None, effect.body, 1,
                                         None, None, False, 0, delivery_id), now)
                elif write.item.body != effect.body:
                    write.item = replace(write.item, body=effect.body, version=write.item.version + 1, attempts=0,
                                         delivery_id=delivery_id or write.item.delivery_id)
                    write.failed, write.next_attempt_at, write.updated_at = False, 0.0, now
            elif isinstance(effect, ReactionEffect) and write is None:
                self._add(OutboxItem(effect.key, REACTION, effect.repo, None, effect.comment_id, effect.content, 1,
                                     None, None, False, 0, delivery_id), now)

    def _add(self, item: OutboxItem, now: float) -> None:
        self._s.writes[item.key] = WriteRow(item, created_at=now, updated_at=now, order=self._s.next())

    def finish_delivery(self, delivery_id: str, outcome: str, now: float) -> None:
        row = self._s.deliveries[delivery_id]
        row.state, row.finished_at, row.outcome = "done", now, outcome[:500]

    def adopt_comment(self, key: str, repo: str, issue_number: int, comment_id: int, body: str, now: float) -> None:
        if key not in self._s.writes:
            self._add(OutboxItem(key, COMMENT, repo, issue_number, None, body, 1, comment_id, None, False, 0, None),
                      now)
            self._s.writes[key].done_version = 1

    def closed_done(self, repo: str, pr_number: int, now: float) -> None:
        closed = self._s.closed.get((repo, pr_number))
        if closed is not None:
            closed.done_at = now

    def save_upload(self, upload: Upload, now: float) -> None:
        existing = self._s.uploads.get(upload.key)
        if existing is None:
            self._s.uploads[upload.key] = (self._s.next(), replace(upload, created_at=now, updated_at=now))
        else:
            order, old = existing
            self._s.uploads[upload.key] = (order, replace(upload, created_at=old.created_at, updated_at=now))

    def uploads_of_deploy(self, deploy_key: str) -> List[Upload]:
        return [u for _, u in sorted(self._s.uploads.values(), key=lambda item: (item[1].created_at, item[0]))
                if u.deploy_key == deploy_key]

    def prune_jobs(self, before: float) -> int:
        gone = [key for key, (_, job) in self._s.jobs.items()
                if job.state in (JobState.FINISHED, JobState.SUBMIT_FAILED) and job.updated_at < before]
        for key in gone:
            del self._s.jobs[key]
        comment_keys = {key for _, job in self._s.jobs.values() for key in (job.comment_key, check_key(job.key))}
        for key in [k for k, w in self._s.writes.items() if w.item.version <= w.done_version
                    and w.updated_at < before and k not in comment_keys]:
            del self._s.writes[key]
        orphans = [k for k, (_, u) in self._s.uploads.items()
                   if u.updated_at < before and u.job_key not in self._s.jobs]
        for key in orphans:
            del self._s.uploads[key]
        build_keys = {job.build_key for _, job in self._s.jobs.values()}
        for key in [k for k, at in self._s.pinned_at.items() if at < before and k not in build_keys]:
            del self._s.pins[key]
            del self._s.pinned_at[key]
        return len(gone)


class MemoryStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.state = State()
        self.inbox = MemoryInbox(self)
        self.outbox = MemoryOutbox(self)
        self.jobs = MemoryJobs(self)
        self.uploads = MemoryUploads(self)
        self.overview = MemoryOverview(self)

    @contextmanager
    def transaction(self) -> Iterator[MemoryTransaction]:
        with self.lock:
            snapshot = copy.deepcopy(self.state)
            try:
                yield MemoryTransaction(self)
            except BaseException:
                self.state = snapshot
                raise

    def get_meta(self, key: str) -> Optional[str]:
        with self.lock:
            return self.state.meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.state.meta[key] = value
