"""Retention (`[clean_up] keep_deliveries_days`, `keep_jobs_days`, `keep_trash_days`; 0 keeps forever).

Disk quotas filled up under the EESSI bot (software-layer #1006, #1071): its event logs, finished
links and job directories grew for ever. Here old handled deliveries and finished job records leave
the database, and trashed job directories leave the disk, once they are older than configured.
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path

from eessi_bot.core.config import Config
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.store import Store

log = logging.getLogger(__name__)

DAY = 86400.0
EVERY = 3600.0
"""Seconds between two rounds of housekeeping."""


class Housekeeping:
    def __init__(self, config: Config, store: Store, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._last = 0.0

    def due(self) -> bool:
        return self.clock.now() - self._last >= EVERY

    def run(self) -> None:
        now = self.clock.now()
        self._last = now
        keep = self.config.clean_up
        if keep.keep_deliveries_days:
            removed = self.store.inbox.prune(now - keep.keep_deliveries_days * DAY)
            if removed:
                log.info("forgot %d deliveries older than %d days", removed, keep.keep_deliveries_days)
        if keep.keep_jobs_days:
            with self.store.transaction() as tx:
                removed = tx.prune_jobs(now - keep.keep_jobs_days * DAY)
            if removed:
                log.info("forgot %d finished jobs older than %d days", removed, keep.keep_jobs_days)
        if keep.keep_trash_days:
            self._empty_trash(now - keep.keep_trash_days * DAY)

    def _empty_trash(self, before: float) -> None:
        """Day directories `trash_bin_dir/OWNER/REPO/YYYY.MM.DD` older than `before`."""
        for day in self.config.clean_up.trash_bin_dir.glob("*/*/[0-9][0-9][0-9][0-9].[0-9][0-9].[0-9][0-9]"):
            if _day_start(day) < before:
                shutil.rmtree(day, ignore_errors=True)
                log.info("removed %s from the trash", day)


def _day_start(path: Path) -> float:
    try:
        return datetime.strptime(path.name, "%Y.%m.%d").replace(tzinfo=timezone.utc).timestamp() + DAY
    except ValueError:
        return float("inf")
