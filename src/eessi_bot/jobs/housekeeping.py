"""Retention (`[clean_up] keep_deliveries_days`, `keep_jobs_days`, `keep_trash_days`; 0 keeps forever).

Disk quotas filled up under the EESSI bot (software-layer #1006, #1071): its event logs, finished
links and job directories grew for ever. Here old handled deliveries and finished job records leave
the database, and trashed job directories leave the disk, once they are older than configured
(`core/retention.py` decides the cutoffs).

The job manager's thread runs a round once a day, the first at its start: the limits are counted in
days, so nothing stays more than a day longer than asked. `eessi-bot gc` runs the same round at once
(`sweep`), or only counts what it would remove (`dry_run`), and prints the same report.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Tuple

from eessi_bot.core.config import Config
from eessi_bot.core.retention import DAY, Cutoffs, cutoffs, human_size, trash_day_end
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.store import Store

log = logging.getLogger(__name__)

EVERY = DAY
"""Seconds between two rounds of housekeeping in the bot."""
LOGGED_FAILURES = 10
"""Entries that could not be removed, named one per log line; the rest are counted."""


@dataclass(frozen=True)
class TrashDir:
    """A trash day directory `trash_bin_dir/OWNER/REPO/YYYY.MM.DD` and its disk usage (as `du` counts it)."""

    path: Path
    size: int


@dataclass
class Report:
    """What one round forgot and removed (with `dry_run`: what it would have)."""

    cutoffs: Cutoffs
    dry_run: bool = False
    deliveries: int = 0
    jobs: int = 0
    trash: List[TrashDir] = field(default_factory=list)
    """Day directories removed whole (with `dry_run`: those that would be)."""
    freed: int = 0
    """Bytes of the trash freed (with `dry_run`: that would be), partly removed directories included."""
    failures: List[Tuple[Path, str]] = field(default_factory=list)
    """Entries that could not be removed (or listed), and why."""

    def summary(self) -> str:
        """One line: the bot's log line and the last line of `eessi-bot gc`."""
        deliveries = _count(self.deliveries, "delivery", "deliveries")
        jobs = _count(self.jobs, "finished job", "finished jobs")
        dirs = _count(len(self.trash), "trash directory", "trash directories")
        if self.dry_run:
            return (f"dry run: would forget {deliveries} and {jobs}, would remove {dirs}, would free "
                    f"{human_size(self.freed)}; nothing changed")
        line = f"forgot {deliveries} and {jobs}, removed {dirs}, freed {human_size(self.freed)}"
        if self.failures:
            line += f"; {_count(len(self.failures), 'entry', 'entries')} could not be removed"
        return line


class Housekeeping:
    def __init__(self, config: Config, store: Store, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._last = 0.0

    def due(self) -> bool:
        return self.clock.now() - self._last >= EVERY

    def run(self) -> Report:
        """The bot's daily round: `sweep`, then one log line (and one per entry that stayed)."""
        self._last = self.clock.now()
        report = self.sweep()
        log.info("retention: %s", report.summary())
        for path, why in report.failures[:LOGGED_FAILURES]:
            log.warning("retention: cannot remove %s: %s", path, why)
        if len(report.failures) > LOGGED_FAILURES:
            log.warning("retention: %d more entries of the trash could not be removed",
                        len(report.failures) - LOGGED_FAILURES)
        return report

    def sweep(self, dry_run: bool = False) -> Report:
        """Forget and remove what is older than the cutoffs now; with `dry_run` only count it (the
        store is then only read: a read-only one will do)."""
        report = Report(cutoffs(self.config, self.clock.now()), dry_run)
        inbox, jobs = report.cutoffs.deliveries, report.cutoffs.jobs
        if inbox is not None:
            report.deliveries = self.store.inbox.prunable(inbox) if dry_run else self.store.inbox.prune(inbox)
        if jobs is not None and dry_run:
            report.jobs = self.store.jobs.prunable(jobs)
        elif jobs is not None:
            with self.store.transaction() as tx:
                report.jobs = tx.prune_jobs(jobs)
        if report.cutoffs.trash is not None:
            self._empty_trash(report.cutoffs.trash, report)
        return report

    def _empty_trash(self, before: float, report: Report) -> None:
        """Day directories whose day ended before `before`; the OWNER/REPO directories stay (the bot
        may be moving a closed PR's directories into a new day there now)."""
        for day in trash_days(self.config.clean_up.trash_bin_dir, report.failures):
            end = trash_day_end(day.name)
            if end is None or end >= before:
                continue
            size = disk_usage(day)
            if report.dry_run:
                report.trash.append(TrashDir(day, size))
                report.freed += size
                continue
            failures = remove_tree(day)
            report.freed += size - disk_usage(day)
            report.failures.extend(failures)
            if not failures:
                report.trash.append(TrashDir(day, size))


def trash_days(trash_bin_dir: Path, failures: List[Tuple[Path, str]]) -> List[Path]:
    """The day directories `OWNER/REPO/YYYY.MM.DD` of the trash, in order; a link is never followed
    and other names are left alone. A directory that cannot be listed goes to `failures`."""
    return [day for owner in _subdirs(trash_bin_dir, failures) for repo in _subdirs(owner, failures)
            for day in _subdirs(repo, failures) if trash_day_end(day.name) is not None]


def _subdirs(path: Path, failures: List[Tuple[Path, str]]) -> List[Path]:
    try:
        with os.scandir(path) as entries:
            return sorted(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []
    except OSError as exc:
        failures.append((path, exc.strerror or str(exc)))
        return []


def disk_usage(top: Path) -> int:
    """Bytes on disk below `top`, links not followed (`du -s`); 0 once it is gone."""
    try:
        total = top.lstat().st_blocks * 512
    except FileNotFoundError:
        return 0
    for root, dirs, files in os.walk(top):
        for name in (*dirs, *files):
            with suppress(OSError):
                total += Path(root, name).lstat().st_blocks * 512
    return total


def remove_tree(top: Path) -> List[Tuple[Path, str]]:
    """Remove `top` with everything below it, read-only directories (as builds leave them) included.
    A link is removed, never followed. Returns what could not be removed (or listed), and why."""
    failures: List[Tuple[Path, str]] = []
    try:
        if not stat.S_ISDIR(top.lstat().st_mode):
            _remove(top, failures)
            return failures
    except FileNotFoundError:
        return failures
    _open_up(top)
    for root, dirs, files in os.walk(top, topdown=False, onerror=lambda exc: _failed(exc, failures)):
        for name in (*files, *dirs):
            _remove(Path(root, name), failures)
    _remove(top, failures)
    return failures


def _open_up(top: Path) -> None:
    """Give the owner rwx on `top` and every directory below it (not through a link), each before it is
    listed, so that all of it can be emptied."""
    _owner_rwx(top)
    for root, dirs, _ in os.walk(top):
        for name in dirs:
            _owner_rwx(Path(root, name))


def _owner_rwx(path: Path) -> None:
    with suppress(OSError):
        info = path.lstat()
        if stat.S_ISDIR(info.st_mode) and info.st_mode & 0o700 != 0o700:
            path.chmod(stat.S_IMODE(info.st_mode) | 0o700)


def _remove(path: Path, failures: List[Tuple[Path, str]]) -> None:
    try:
        if stat.S_ISDIR(path.lstat().st_mode):
            path.rmdir()
        else:
            path.unlink()
    except FileNotFoundError:
        return  # gone meanwhile (another round of housekeeping, or gc beside the bot)
    except OSError as exc:
        if exc.errno != errno.ENOTEMPTY or not failures:  # not empty: an entry below it was named already
            failures.append((path, exc.strerror or str(exc)))


def _failed(exc: OSError, failures: List[Tuple[Path, str]]) -> None:
    failures.append((Path(str(exc.filename)), exc.strerror or str(exc)))


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"
