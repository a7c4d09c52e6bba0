"""How long a job waited in the queue and how long it ran, read from its comment rows (pure).

The rows are the truth the bot already keeps (each carries the time the bot saw the step, in the EESSI
date format), so the status page and the metrics agree with the PR comment and need no new column.
Times have the resolution of the manager's poll: a job is seen `running` at the first poll after it
started. A job that ended between two polls has no `running` row: its run is counted from its release
(an upper bound), since it cannot have started before that.
"""

from __future__ import annotations

from calendar import timegm
from dataclasses import dataclass
from typing import Optional, Tuple

from eessi_bot.core.jobs import Job

_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_QUEUED = ("submitted",)
_STARTED = ("running",)
_RELEASED = ("released", "received")
_ENDED = ("finished",)


def parse_comment_date(text: str) -> Optional[float]:
    """Epoch seconds of a row date (`Mar 01 12:00:05 UTC 2024`), None for anything else. Locale-free,
    as `core.job_comment.comment_date` writes it."""
    parts = text.split()
    if len(parts) != 5 or parts[3] != "UTC" or parts[0] not in _MONTHS:
        return None
    clock = parts[2].split(":")
    numbers = [parts[1], parts[4], *clock]
    if len(clock) != 3 or not all(n.isascii() and n.isdigit() for n in numbers):
        return None
    day, year, hour, minute, second = (int(n) for n in numbers)
    if not (1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    return float(timegm((year, _MONTHS[parts[0]], day, hour, minute, second, 0, 0, 0)))


@dataclass(frozen=True)
class JobTimes:
    """When the bot saw the job submitted, start and end (None: not seen, or not yet)."""

    submitted: Optional[float]
    started: Optional[float]
    ended: Optional[float]

    def queued_seconds(self, now: float) -> Optional[float]:
        """From submission to start (or end, for a job that never ran; or now, while it waits)."""
        if self.submitted is None:
            return None
        until = self.started if self.started is not None else self.ended if self.ended is not None else now
        return max(0.0, until - self.submitted)

    def run_seconds(self, now: float) -> Optional[float]:
        """From start to end (or now, while it runs); None for a job that has not started."""
        if self.started is None:
            return None
        return max(0.0, (self.ended if self.ended is not None else now) - self.started)


def job_times(job: Job) -> JobTimes:
    def first(statuses: Tuple[str, ...]) -> Optional[float]:
        return next((when for row in job.rows if row.status in statuses
                     and (when := parse_comment_date(row.date)) is not None), None)

    ended = first(_ENDED)
    started = first(_STARTED)
    if started is None and ended is not None:
        started = first(_RELEASED)
    return JobTimes(submitted=first(_QUEUED), started=started, ended=ended)


def duration(seconds: Optional[float]) -> str:
    """`42 s`, `3 min 05 s`, `2 h 07 min`, `3 d 04 h`; an em dash when unknown."""
    if seconds is None:
        return "\u2014"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86400} d {whole % 86400 // 3600:02d} h"
