"""Retention cutoffs (`[clean_up] keep_deliveries_days`, `keep_jobs_days`, `keep_trash_days`).

The daily housekeeping of `serve`/`job-manager` and `eessi-bot gc` forget or remove exactly what is
older than these cutoffs, so both take them from `cutoffs`, the one place that decides. Deliveries are
kept at least as long as recovery can bring them back (`_deliveries`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from eessi_bot.core.config import Config

DAY = 86400.0
HOUR = 3600.0
RECOVERY_MARGIN = HOUR
"""Kept beyond the recovery window, for clocks that differ (the bot's and GitHub's)."""
_DAY_NAME = re.compile(r"[0-9]{4}\.[0-9]{2}\.[0-9]{2}")


@dataclass(frozen=True)
class Cutoffs:
    """What is older than these goes (seconds since the epoch); None keeps that kind forever."""

    deliveries: Optional[float]
    """Handled deliveries that finished before this."""
    jobs: Optional[float]
    """Finished jobs last changed before this."""
    trash: Optional[float]
    """Trash day directories whose day ended before this."""


def cutoffs(config: Config, now: float) -> Cutoffs:
    """The cutoffs of `config` at `now`; a `keep_*_days` of 0 keeps that kind forever."""
    keep = config.clean_up
    return Cutoffs(deliveries=_deliveries(config, now), jobs=_before(keep.keep_jobs_days, now),
                   trash=_before(keep.keep_trash_days, now))


def _deliveries(config: Config, now: float) -> Optional[float]:
    """Deliveries are kept `keep_deliveries_days` after they were handled (their ids, to drop repeats),
    and never less than `[github] recover_deliveries_hours` plus `RECOVERY_MARGIN`: recovery takes up a
    failed delivery of that window unless its id is in the inbox, so forgetting it sooner would handle
    it twice. A delivery is handled after GitHub sent it, so one handled before the cutoff was sent
    before it too, outside the window."""
    days = _before(config.clean_up.keep_deliveries_days, now)
    hours = config.github.recover_deliveries_hours
    if days is None or not hours:
        return days
    return min(days, now - hours * HOUR - RECOVERY_MARGIN)


def _before(days: int, now: float) -> Optional[float]:
    return None if days == 0 else now - days * DAY


def trash_day_end(name: str) -> Optional[float]:
    """When the UTC day a trash directory is named after (`YYYY.MM.DD`, the day its PR's directories
    were moved there) ended; None for any other name, which retention leaves alone.

    A directory goes once its whole day is older than the cutoff: everything in it was in the trash
    for at least `keep_trash_days`."""
    if _DAY_NAME.fullmatch(name) is None:
        return None
    try:
        start = datetime.strptime(name, "%Y.%m.%d").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return start.timestamp() + DAY


def human_size(size: int) -> str:
    """Bytes as `du -h` shows them (0, 512B, 4.0K, 12M, 1.5G), as `eessi-bot cleanup` prints them."""
    if size < 1024:
        return f"{size}B" if size else "0"
    value, unit = float(size), "B"
    for unit in ("K", "M", "G", "T"):  # noqa: B007
        value /= 1024
        if value < 1024:
            break
    return f"{math.ceil(value * 10) / 10:.1f}{unit}" if value < 10 else f"{math.ceil(value)}{unit}"
