"""Wrappers that count what passes through a port (metrics, `Health`), so that no handler, sender or
manager needs to know about metrics: the composition root puts them around the real GitHub, batch
system, object store and delivery processor.
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, TypeVar

from eessi_bot.ports.clock import Clock
from eessi_bot.ports.github import GitHub, NotFound, RateLimited, Rejected, Transient
from eessi_bot.ports.object_store import ObjectInfo, ObjectStore
from eessi_bot.ports.scheduler import JobStatus, Scheduler, SchedulerUnavailable, Submission, SubmitError, Tracked
from eessi_bot.ports.store import Claimed
from eessi_bot.service.metrics import Metrics
from eessi_bot.service.workers import DeliveryProcessor

T = TypeVar("T")
WRITE_PREFIXES = ("create_", "edit_", "add_", "remove_", "update_", "delete_")
"""GitHub port methods that write (whatever methods the port grows, their names say it)."""


def error_kind(exc: Exception) -> str:
    """The `kind` label of a failed GitHub call."""
    for cls, kind in ((RateLimited, "rate_limited"), (Transient, "transient"), (NotFound, "not_found"),
                      (Rejected, "rejected")):
        if isinstance(exc, cls):
            return kind
    return "other"


class ObservedGitHub:
    """Any GitHub port: every call counted by name, every failure by kind, rate limits and how writes
    fare told to `Health`. A failed write sets the `degraded` clock, a successful one stops it; a
    write to a comment that is gone (not found) is no failure of GitHub (the outbox makes it again)."""

    def __init__(self, inner: GitHub, metrics: Metrics, clock: Clock) -> None:
        self._inner = inner
        self._metrics = metrics
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self._metrics.github_calls.labels(call=name).inc()
            try:
                result = attribute(*args, **kwargs)
            except Exception as exc:
                self._failed(name, exc)
                raise
            if inspect.isgenerator(result):
                return self._iterate(name, result)
            self._done(name)
            return result

        return call

    def _iterate(self, name: str, items: Iterator[Any]) -> Iterator[Any]:
        try:
            yield from items
        except Exception as exc:
            self._failed(name, exc)
            raise
        self._done(name)

    def _done(self, name: str) -> None:
        self._note_rate()
        if name.startswith(WRITE_PREFIXES):
            self._metrics.health.write_ok(self._clock.now())

    def _failed(self, name: str, exc: Exception) -> None:
        self._note_rate()
        kind = error_kind(exc)
        self._metrics.github_errors.labels(call=name, kind=kind).inc()
        if kind == "rate_limited":
            limit = "primary" if "api rate limit exceeded" in str(exc).lower() else "secondary"
            self._metrics.rate_limit_waits.labels(limit=limit).inc()
        write = name.startswith(WRITE_PREFIXES) and kind != "not_found"
        self._metrics.health.github_failed(self._clock.now(), name, kind, str(exc), write)

    def _note_rate(self) -> None:
        """The adapter keeps the rate limit GitHub's last answer reported (fakes may not)."""
        rate = getattr(self._inner, "rate_limit", None)
        if isinstance(rate, tuple):
            self._metrics.health.rate_limit(*rate)


class ObservedScheduler:
    """The batch system, with its failed queries counted and the last one told to `Health`."""

    def __init__(self, inner: Scheduler, metrics: Metrics, clock: Clock) -> None:
        self._inner = inner
        self._metrics = metrics
        self._clock = clock

    def _call(self, query: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except (SchedulerUnavailable, SubmitError) as exc:
            self._metrics.scheduler_errors.labels(query=query).inc()
            if isinstance(exc, SchedulerUnavailable):
                self._metrics.health.scheduler_failed(self._clock.now(), query, str(exc))
            raise

    def submit(self, submission: Submission) -> str:
        return self._call("submit", lambda: self._inner.submit(submission))

    def find(self, submission: Submission) -> Optional[str]:
        return self._call("find", lambda: self._inner.find(submission))

    def poll(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        return self._call("poll", lambda: self._inner.poll(jobs))

    def end_states(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        return self._call("end_states", lambda: self._inner.end_states(jobs))

    def release(self, job: Tracked) -> None:
        self._call("release", lambda: self._inner.release(job))

    def cancel(self, job: Tracked) -> None:
        self._call("cancel", lambda: self._inner.cancel(job))


class ObservedObjectStore:
    """The object store (S3), with the objects put and their bytes counted."""

    def __init__(self, inner: ObjectStore, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def _count(self, size: int, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception:
            self._metrics.upload_objects.labels(result="error").inc()
            raise
        self._metrics.upload_objects.labels(result="ok").inc()
        self._metrics.upload_bytes.inc(size)

    def put_file(self, bucket: str, key: str, path: Path, sha256: str,
                 metadata: Optional[Mapping[str, str]] = None) -> None:
        self._count(path.stat().st_size, lambda: self._inner.put_file(bucket, key, path, sha256, metadata))

    def put_bytes(self, bucket: str, key: str, data: bytes, sha256: str) -> None:
        self._count(len(data), lambda: self._inner.put_bytes(bucket, key, data, sha256))

    def head(self, bucket: str, key: str) -> Optional[ObjectInfo]:
        return self._inner.head(bucket, key)


class TimedProcessor(DeliveryProcessor):
    """The delivery processor, with each delivery timed and counted by event and outcome (`done`,
    `retry`, `failed`, as its inbox row says after the attempt)."""

    def __init__(self, metrics: Metrics, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    def process(self, claimed: Claimed) -> str:
        started = time.perf_counter()
        outcome = super().process(claimed)
        event = claimed.delivery.event
        self.metrics.handler_seconds.labels(event=event).observe(time.perf_counter() - started)
        state = self.store.overview.delivery_state(claimed.delivery.id) or "done"
        self.metrics.handled.labels(event=event, outcome=_OUTCOMES.get(state, "retry")).inc()
        return outcome


_OUTCOMES: Dict[str, str] = {"done": "done", "failed": "failed"}
