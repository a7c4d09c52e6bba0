"""An in-memory `ports.store.Store`: the same contract as the SQLite store (tests/unit/test_store.py
runs one suite against both), so jobs/ and service/ are unit-tested without files or sleeps.

One lock serialises everything; a transaction works on the live state and restores a snapshot
taken at its start if its block raises.
"""

from __future__ import annotations

import copy
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Dict, Iterator, List, Optional, Tuple

from eessi_bot.core.effects import CommentEffect, Effects, ReactionEffect
from eessi_bot.core.jobs import FOLLOWED, UNFINISHED, BuildPin, Job, JobState
from eessi_bot.core.webhook import Delivery
from eessi_bot.ports.store import COMMENT, REACTION, Claimed, ClosedPr, DeliveryRecord, OutboxItem

_PRE_SUBMIT = tuple(s for s in UNFINISHED if s not in FOLLOWED)


@dataclass
class _Delivery:
    delivery: Delivery
    received_at: float
    order: int
    state: str = "pending"
    attempts: int = 0
    next_attempt_at: float = 0.0
    finished_at: Optional[float] = None
    outcome: Optional[str] = None


@dataclass
class _Write:
    item: OutboxItem
    done_version: int = 0
    failed: bool = False
    next_attempt_at: float = 0.0
    created_at: float = 0.0
    updated_at: float = 0.0
    order: int = 0

    @property
    def pending(self) -> bool:
        return self.item.version > self.done_version and not self.failed


@dataclass
class _Closed:
    delivery_id: str
    closed_at: float
    done_at: Optional[float] = None


@dataclass
class _State:
    deliveries: Dict[str, _Delivery] = field(default_factory=dict)
    writes: Dict[str, _Write] = field(default_factory=dict)
    jobs: Dict[str, Tuple[int, Job]] = field(default_factory=dict)
    """key → (insertion order, job)."""
    pins: Dict[str, BuildPin] = field(default_factory=dict)
    pinned_at: Dict[str, float] = field(default_factory=dict)
    metadata_comment_ids: Dict[str, int] = field(default_factory=dict)
    closed: Dict[Tuple[str, int], _Closed] = field(default_factory=dict)
    meta: Dict[str, str] = field(default_factory=dict)
    counter: int = 0
    local_ids: int = 0

    def next(self) -> int:
        self.counter += 1
        return self.counter


class _Part:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    @property
    def _s(self) -> _State:
        return self._store.state


class MemoryInbox(_Part):
    def store(self, delivery: Delivery, now: float) -> bool:
        with self._store.lock:
            if delivery.id in self._s.deliveries:
                return False
            self._s.deliveries[delivery.id] = _Delivery(delivery, now, self._s.next())
            return True

    def claim(self, worker: str, now: float) -> Optional[Claimed]:
        with self._store.lock:
            rows = sorted(self._s.deliveries.values(), key=lambda d: (d.received_at, d.order))
            for row in rows:
                if row.state != "pending" or row.next_attempt_at > now or self._blocked(row, rows):
                    continue
                row.state = "processing"
                row.attempts += 1
                return Claimed(row.delivery, row.attempts, row.received_at)
            return None

    @staticmethod
    def _blocked(row: _Delivery, rows: List[_Delivery]) -> bool:
        subject = row.delivery.subject
        if subject is None:
            return False
        return any(other.delivery.subject == subject and (
            other.state == "processing" or (other.state == "pending" and (other.received_at, other.order)
                                            < (row.received_at, row.order))) for other in rows)

    def retry(self, delivery_id: str, reason: str, at: float) -> None:
        with self._store.lock:
            row = self._s.deliveries[delivery_id]
            row.state, row.next_attempt_at, row.outcome = "pending", at, reason[:500]

    def fail(self, delivery_id: str, reason: str, now: float) -> None:
        with self._store.lock:
            row = self._s.deliveries[delivery_id]
            row.state, row.finished_at, row.outcome = "failed", now, reason[:500]

    def requeue_unfinished(self) -> int:
        with self._store.lock:
            rows = [row for row in self._s.deliveries.values() if row.state == "processing"]
            for row in rows:
                row.state = "pending"
            return len(rows)

    def next_ready_at(self) -> Optional[float]:
        with self._store.lock:
            times = [row.next_attempt_at for row in self._s.deliveries.values() if row.state == "pending"]
            return min(times) if times else None

    def counts(self) -> Dict[str, int]:
        with self._store.lock:
            counts: Dict[str, int] = {}
            for row in self._s.deliveries.values():
                counts[row.state] = counts.get(row.state, 0) + 1
            return counts

    def prune(self, before: float) -> int:
        with self._store.lock:
            gone = [key for key, row in self._s.deliveries.items() if row.state in ("done", "failed")
                    and row.finished_at is not None and row.finished_at < before]
            for key in gone:
                del self._s.deliveries[key]
            return len(gone)

    def get(self, delivery_id: str) -> Optional[DeliveryRecord]:
        with self._store.lock:
            row = self._s.deliveries.get(delivery_id)
            if row is None:
                return None
            return DeliveryRecord(id=delivery_id, event=row.delivery.event, action=row.delivery.action,
                                  state=row.state, attempts=row.attempts, outcome=row.outcome)


class MemoryOutbox(_Part):
    def due(self, now: float, limit: int = 50) -> List[OutboxItem]:
        with self._store.lock:
            ready = [w for w in self._s.writes.values() if w.pending and w.next_attempt_at <= now]
            ready.sort(key=lambda w: (w.next_attempt_at, w.created_at, w.order))
            return [w.item for w in ready[:limit]]

    def next_due_at(self) -> Optional[float]:
        with self._store.lock:
            times = [w.next_attempt_at for w in self._s.writes.values() if w.pending]
            return min(times) if times else None

    def get(self, key: str) -> Optional[OutboxItem]:
        with self._store.lock:
            write = self._s.writes.get(key)
            return None if write is None else write.item

    def mark_in_flight(self, key: str, now: float) -> None:
        self._update(key, now, in_flight=True)

    def record_created(self, key: str, comment_id: int, url: str, version: int, now: float) -> None:
        with self._store.lock:
            write = self._s.writes[key]
            write.done_version = max(write.done_version, version)
            self._update(key, now, result_id=comment_id, result_url=url, in_flight=False, attempts=0)

    def record_adopted(self, key: str, comment_id: int, url: str, now: float) -> None:
        self._update(key, now, result_id=comment_id, result_url=url, in_flight=False)

    def record_done(self, key: str, version: int, now: float) -> None:
        with self._store.lock:
            write = self._s.writes[key]
            write.done_version = max(write.done_version, version)
            self._update(key, now, attempts=0, in_flight=False)

    def record_lost(self, key: str, now: float) -> None:
        self._update(key, now, result_id=None, result_url=None, in_flight=False)

    def record_retry(self, key: str, error: str, at: float, now: float, refused: bool = False) -> None:
        with self._store.lock:
            write = self._s.writes[key]
            write.next_attempt_at = at
            if refused:
                self._update(key, now, in_flight=False)
            else:
                self._update(key, now, attempts=write.item.attempts + 1)

    def record_failed(self, key: str, error: str, now: float) -> None:
        with self._store.lock:
            self._s.writes[key].failed = True
            self._update(key, now)

    def comment_url(self, key: str) -> Optional[str]:
        with self._store.lock:
            write = self._s.writes.get(key)
            return None if write is None else write.item.result_url

    def counts(self) -> Dict[str, int]:
        with self._store.lock:
            writes = list(self._s.writes.values())
            return {"pending": sum(w.pending for w in writes), "failed": sum(w.failed for w in writes),
                    "sent": sum(w.item.version <= w.done_version for w in writes)}

    def _update(self, key: str, now: float, **changes: object) -> None:
        with self._store.lock:
            write = self._s.writes[key]
            write.item = replace(write.item, **changes)  # type: ignore[arg-type]
            write.updated_at = now


class MemoryJobs(_Part):
    def pin(self, key: str) -> Optional[BuildPin]:
        with self._store.lock:
            return self._s.pins.get(key)

    def save_pin(self, pin: BuildPin, now: float) -> None:
        with self._store.lock:
            if pin.key not in self._s.pins:
                self._s.pins[pin.key] = pin
                self._s.pinned_at[pin.key] = now

    def get(self, key: str) -> Optional[Job]:
        with self._store.lock:
            found = self._s.jobs.get(key)
            return None if found is None else found[1]

    def active(self, backend: str) -> List[Job]:
        return [job for job in self._ordered() if job.backend == backend and job.state in FOLLOWED]

    def for_pr(self, repo: str, pr_number: int) -> List[Job]:
        return [job for job in self._ordered() if (job.repo, job.pr_number) == (repo, pr_number)]

    def unfinished_for_pr(self, repo: str, pr_number: int) -> int:
        return sum(1 for job in self.for_pr(repo, pr_number) if job.state in UNFINISHED)

    def comment_ids(self) -> List[Tuple[Job, int]]:
        with self._store.lock:
            found = []
            for job in self._ordered():
                write = self._s.writes.get(job.comment_key)
                comment_id = write.item.result_id if write is not None else None
                if job.job_id and comment_id is not None and self._s.metadata_comment_ids.get(job.key) != comment_id:
                    found.append((job, comment_id))
            return found

    def set_metadata_comment_id(self, key: str, comment_id: int) -> None:
        with self._store.lock:
            self._s.metadata_comment_ids[key] = comment_id

    def set_cancelled_by(self, key: str, sender: str, now: float) -> None:
        with self._store.lock:
            order, job = self._s.jobs[key]
            self._s.jobs[key] = (order, replace(job, cancelled_by=sender, updated_at=now))

    def abandon(self, delivery_id: str, reason: str, now: float) -> int:
        with self._store.lock:
            count = 0
            for key, (order, job) in list(self._s.jobs.items()):
                if job.build_key.startswith(delivery_id + ":") and job.state in _PRE_SUBMIT:
                    self._s.jobs[key] = (order, replace(job, state=JobState.SUBMIT_FAILED, error=reason,
                                                        updated_at=now))
                    count += 1
            return count

    def close_pr(self, repo: str, pr_number: int, delivery_id: str, merged: bool, sender: str, now: float) -> None:
        with self._store.lock:
            closed = self._s.closed.get((repo, pr_number))
            if closed is None or closed.delivery_id != delivery_id:
                self._s.closed[(repo, pr_number)] = _Closed(delivery_id, now)

    def reopen_pr(self, repo: str, pr_number: int) -> None:
        with self._store.lock:
            closed = self._s.closed.get((repo, pr_number))
            if closed is not None and closed.done_at is None:
                del self._s.closed[(repo, pr_number)]

    def closed_pending(self) -> List[ClosedPr]:
        with self._store.lock:
            pending = sorted(((c.closed_at, key, c) for key, c in self._s.closed.items() if c.done_at is None),
                             key=lambda item: item[0])
            return [ClosedPr(repo, number, c.delivery_id) for _, (repo, number), c in pending]

    def counts(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for job in self._ordered():
            counts[job.state.value] = counts.get(job.state.value, 0) + 1
        return counts

    def next_local_id(self, now: float) -> str:
        with self._store.lock:
            self._s.local_ids += 1
            return str(self._s.local_ids)

    def _ordered(self) -> List[Job]:
        with self._store.lock:
            return [job for _, job in sorted(self._s.jobs.values(), key=lambda item: (item[1].created_at, item[0]))]


class MemoryTransaction(_Part):
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
            if isinstance(effect, CommentEffect):
                if write is None:
                    self._add(OutboxItem(effect.key, COMMENT, effect.repo, effect.issue_number, None, effect.body, 1,
                                         None, None, False, 0, delivery_id), now)
                elif write.item.body != effect.body:
                    write.item = replace(write.item, body=effect.body, version=write.item.version + 1, attempts=0,
                                         delivery_id=delivery_id or write.item.delivery_id)
                    write.failed, write.next_attempt_at, write.updated_at = False, 0.0, now
            elif isinstance(effect, ReactionEffect) and write is None:
                self._add(OutboxItem(effect.key, REACTION, effect.repo, None, effect.comment_id, effect.content, 1,
                                     None, None, False, 0, delivery_id), now)

    def _add(self, item: OutboxItem, now: float) -> None:
        self._s.writes[item.key] = _Write(item, created_at=now, updated_at=now, order=self._s.next())

    def finish_delivery(self, delivery_id: str, outcome: str, now: float) -> None:
        row = self._s.deliveries[delivery_id]
        row.state, row.finished_at, row.outcome = "done", now, outcome[:500]

    def closed_done(self, repo: str, pr_number: int, now: float) -> None:
        closed = self._s.closed.get((repo, pr_number))
        if closed is not None:
            closed.done_at = now

    def prune_jobs(self, before: float) -> int:
        gone = [key for key, (_, job) in self._s.jobs.items()
                if job.state in (JobState.FINISHED, JobState.SUBMIT_FAILED) and job.updated_at < before]
        for key in gone:
            del self._s.jobs[key]
        comment_keys = {job.comment_key for _, job in self._s.jobs.values()}
        for key in [k for k, w in self._s.writes.items() if w.item.version <= w.done_version
                    and w.updated_at < before and k not in comment_keys]:
            del self._s.writes[key]
        build_keys = {job.build_key for _, job in self._s.jobs.values()}
        for key in [k for k, at in self._s.pinned_at.items() if at < before and k not in build_keys]:
            del self._s.pins[key]
            del self._s.pinned_at[key]
        return len(gone)


class MemoryStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.state = _State()
        self.inbox = MemoryInbox(self)
        self.outbox = MemoryOutbox(self)
        self.jobs = MemoryJobs(self)

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
