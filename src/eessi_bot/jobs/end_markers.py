"""End markers in one shared directory: how the job manager learns of a job's end at a cost that does
not grow with the number of jobs it follows.

A job script that ends drops a file named after its job id (content: its exit code) into this
instance's `jobs_base_dir/.ended/<instance>` (its path is in the job's `cfg/end_dir`), besides
`_bot_job<ID>.done` in its job directory. The manager lists that directory once a second: one
`os.scandir` of a directory that holds only the markers of jobs that ended and are not reported yet,
whether 10 jobs are followed or 5,000. A marker only wakes the manager: the cycle it starts asks the
batch system, which stays the truth, so a marker that PR code wrote under another job's id fakes no
end (it costs a query). Each cycle removes the markers of reported jobs and every name that is no
followed job's id; links and other odd entries are never followed or read. A name starting with `.` is
a marker being written (temp file, then a rename) and is left alone unless its writer died long ago.

Listing works on every file system, NFS included; where a shared file system shows a new file late,
the regular poll still finds the job's end.
"""

from __future__ import annotations

import errno
import logging
import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Collection, Dict, Iterable, Iterator, List, Optional, Tuple

from eessi_bot.core.transitions import END_WAIT

log = logging.getLogger(__name__)

STALE_TEMP = 3600.0
"""Seconds after which a `.`-name (a marker whose writer died between writing and renaming) is removed."""
RECHECKS: Tuple[Tuple[float, float], ...] = ((2.0, 0.25), (20.0, 1.0), (END_WAIT, 2.0))
"""(for how long, how often): seconds between the cycles a marker brings while its job is not reported,
counted from the first cycle the batch system answered after the marker appeared. Slurm shows a job's
end a moment after its script wrote the marker (0.2 s here); after a controller outage, up to 15 s after
its return (a node retries telling it every 15 s). Then the regular polls take over, so a marker written
early costs a bounded number of queries."""


class EndMarkers:
    """The directory of this instance's end markers."""

    def __init__(self, directory: Path, trusted: Path) -> None:
        """`directory` lies below `trusted` (jobs_base_dir, which the admin chose and which may be a link);
        no directory between them is followed when it is a link: a link that PR code left there leads the
        manager's listing and removals nowhere."""
        self.directory = directory
        self._trusted = trusted
        self._below = directory.relative_to(trusted).parts
        self._failing = False

    @contextmanager
    def _opened(self) -> Iterator[int]:
        fd = os.open(self._trusted, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for name in self._below:
                try:
                    inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise NotADirectoryError(f"{name!r} is a link or not a directory (never followed)") from None
                    raise
                os.close(fd)
                fd = inner
            yield fd
        finally:
            os.close(fd)

    def names(self) -> List[str]:
        """Names of the markers there now (regular files, not being written), in one listing."""
        try:
            with self._opened() as fd, os.scandir(fd) as entries:
                return [e.name for e in entries if not e.name.startswith(".") and e.is_file(follow_symlinks=False)]
        except OSError:
            return []

    def sweep(self, followed: Collection[str], now: float) -> int:
        """Remove the markers of jobs no longer followed (reported ones, strays, links) and temp files older
        than STALE_TEMP; directories stay, never entered. The number removed."""
        try:
            with self._opened() as fd:
                return self._remove(fd, followed, now)
        except FileNotFoundError:
            return 0
        except OSError as exc:
            self._warn(f"cannot list {self.directory}: {exc}")
            return 0

    def _remove(self, fd: int, followed: Collection[str], now: float) -> int:
        with os.scandir(fd) as listing:
            entries = list(listing)
        removed = 0
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) or not self._unwanted(entry, followed, now):
                continue
            try:
                os.unlink(entry.name, dir_fd=fd)
                removed += 1
            except FileNotFoundError:
                continue
            except OSError as exc:
                self._warn(f"cannot remove {entry.name} in {self.directory}: {exc}")
                return removed
        self._failing = False
        return removed

    @staticmethod
    def _unwanted(entry: os.DirEntry, followed: Collection[str], now: float) -> bool:  # type: ignore[type-arg]
        if not entry.name.startswith("."):
            return entry.name not in followed or not entry.is_file(follow_symlinks=False)
        try:
            return now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP
        except OSError:
            return False

    def _warn(self, message: str) -> None:
        """Said once until the directory works again: jobs are still found by the regular polls."""
        if not self._failing:
            log.warning("end markers: %s; job ends are noticed at the regular polls", message)
        self._failing = True


class Wakes:
    """When end markers make the manager look: at once for a marker of a followed job it has not seen,
    then, while that job is not reported, on the RECHECKS schedule."""

    def __init__(self) -> None:
        self._pending: Dict[str, Optional[float]] = {}
        """Marker name -> start of the first cycle the batch system answered after it appeared."""
        self._cycled_at = -math.inf

    def listed(self, names: Iterable[str], followed: Collection[str]) -> bool:
        """Take a listing in; True when it shows a marker of a followed job that is new."""
        present = [name for name in names if name in followed]
        new = [name for name in present if name not in self._pending]
        self._pending = {name: self._pending.get(name) for name in present}
        return bool(new)

    def cycled(self, started: float, followed: Collection[str], answered: bool) -> None:
        """A cycle began at `started`; `answered`: the batch system answered it (a failed cycle starts no
        schedule: after an outage the markers that came meanwhile are rechecked from its end)."""
        self._cycled_at = started
        self._pending = {name: (since if since is not None or not answered else started)
                         for name, since in self._pending.items() if name in followed}

    def next_at(self) -> float:
        """When the next cycle is due for a pending marker; infinity when none is."""
        due = math.inf
        for since in self._pending.values():
            if since is None:
                continue
            age = self._cycled_at - since
            every = next((interval for span, interval in RECHECKS if age < span), None)
            if every is not None:
                due = min(due, self._cycled_at + every)
        return due
