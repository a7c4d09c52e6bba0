"""What this process knows about itself that the database does not: who it is, since when, and how
GitHub and the batch system answered lately. In memory, per process (the status page and `/healthz`
of `event-handler` show what that process sees; the job manager's half is then "another process").

Degraded: GitHub writes count as failing from the first failed write (an error, a rate limit) after
the last successful one. `/healthz` says `degraded` once they have failed for DEGRADED_AFTER seconds
while writes are still waiting: long enough that a GitHub hiccup or one secondary-limit pause (60 s)
passes unnoticed, short enough that an admin hears of it before the PR authors do.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from eessi_bot import __version__
from eessi_bot.core.job_times import duration

DEGRADED_AFTER = 300.0
"""Seconds of failing GitHub writes (with writes waiting) before `/healthz` says `degraded`."""


@dataclass(frozen=True)
class Site:
    """What the status page shows of the configuration (and the token that guards it)."""

    instance: str = ""
    intake: str = "webhook"
    backend: str = ""
    jobs_dir: Optional[Path] = None
    trash_dir: Optional[Path] = None
    status_token: str = field(default="", repr=False)
    version: str = __version__


@dataclass(frozen=True)
class Failure:
    """A failed call: when, which call, what kind of failure, what was said."""

    at: float
    call: str
    kind: str
    message: str


@dataclass(frozen=True)
class Cycle:
    """The job manager's last cycle."""

    at: float
    seconds: float
    tracked: int
    reachable: Optional[bool]
    """Whether the batch system answered (None: no job to ask about)."""


@dataclass(frozen=True)
class Snapshot:
    site: Site
    started_at: float
    roles: str
    rate_remaining: Optional[int]
    rate_limit: Optional[int]
    last_error: Optional[Failure]
    last_write_at: Optional[float]
    failing_since: Optional[float]
    cycle: Optional[Cycle]
    scheduler_error: Optional[Failure]
    """The batch system's last failed query (`call` names it)."""


class Health:
    """Thread-safe: written by the outbox sender, the workers and the job manager, read by the web."""

    def __init__(self, site: Optional[Site] = None, started_at: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._state = Snapshot(site=site or Site(), started_at=started_at, roles="", rate_remaining=None,
                               rate_limit=None, last_error=None, last_write_at=None, failing_since=None, cycle=None,
                               scheduler_error=None)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._state

    def _change(self, **changes: object) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)  # type: ignore[arg-type]

    def started(self, roles: str) -> None:
        self._change(roles=roles)

    def rate_limit(self, remaining: int, limit: int) -> None:
        self._change(rate_remaining=remaining, rate_limit=limit)

    def write_ok(self, now: float) -> None:
        self._change(last_write_at=now, failing_since=None)

    def github_failed(self, now: float, call: str, kind: str, message: str, write: bool) -> None:
        error = Failure(now, call, kind, message[:300])
        with self._lock:
            failing = self._state.failing_since
            if write and failing is None:
                failing = now
            self._state = replace(self._state, last_error=error, failing_since=failing)

    def cycle(self, cycle: Cycle) -> None:
        self._change(cycle=cycle)

    def scheduler_failed(self, now: float, query: str, message: str) -> None:
        self._change(scheduler_error=Failure(now, query, "unavailable", message[:300]))


def degraded_reason(snapshot: Snapshot, pending_writes: int, now: float) -> Optional[str]:
    """Why `/healthz` says `degraded`, or None when it says `ok`: no GitHub write has succeeded since one
    failed DEGRADED_AFTER seconds ago, and writes still wait, or failures went on for that long (writes
    GitHub refuses for good, e.g. a permission taken from the App, leave no write waiting)."""
    since = snapshot.failing_since
    if since is None or now - since < DEGRADED_AFTER:
        return None
    error = snapshot.last_error
    went_on = error is not None and error.at - since >= DEGRADED_AFTER
    if pending_writes == 0 and not went_on:
        return None
    last = f" (last error: {error.call}: {error.message})" if error is not None else ""
    return f"GitHub writes have failed for {duration(now - since)}; {pending_writes} writes wait{last}"
