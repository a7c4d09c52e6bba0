"""Disk use of the jobs tree and the trash for the status page, counted as `du` does (allocated blocks,
links not followed, each tree on its own: the trash is left out of the jobs tree it usually sits in).

Walking a large tree on a shared file system is slow and loads it, so a page view never waits for a
walk: it shows the last count, and starts a new one in a background thread when that count is older
than `interval` (default 10 minutes). Nobody looking means no walk at all.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

INTERVAL = 600.0


@dataclass(frozen=True)
class Usage:
    bytes: int
    files: int
    errors: int
    """Entries that could not be read (permissions, removed meanwhile)."""
    counted_at: float
    seconds: float
    exists: bool = True


def count_tree(root: Path, skip: Tuple[Path, ...] = ()) -> Tuple[int, int, int]:
    """(bytes allocated, entries, unreadable entries) under `root`; never follows a link."""
    total = files = errors = 0
    skipped = {str(path) for path in skip}
    stack: List[str] = [str(root)]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            errors += 1
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
                if entry.is_dir(follow_symlinks=False) and entry.path not in skipped:
                    stack.append(entry.path)
            except OSError:
                errors += 1
                continue
            files += 1
            total += info.st_blocks * 512
    return total, files, errors


class DiskUsage:
    def __init__(self, trees: Dict[str, Optional[Path]], interval: float = INTERVAL,
                 clock: Callable[[], float] = time.time) -> None:
        self.trees = {name: path for name, path in trees.items() if path is not None}
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: Dict[str, Usage] = {}
        self._walking: Optional[threading.Thread] = None
        self._started_at = -interval

    def read(self) -> Dict[str, Usage]:
        """The last counts (a tree not counted yet is absent); starts a count when they are stale."""
        with self._lock:
            stale = self._clock() - self._started_at >= self.interval
            if stale and self.trees and (self._walking is None or not self._walking.is_alive()):
                self._started_at = self._clock()
                self._walking = threading.Thread(target=self._walk, name="disk-usage", daemon=True)
                self._walking.start()
            return dict(self._counts)

    def walking(self) -> bool:
        with self._lock:
            return self._walking is not None and self._walking.is_alive()

    def _walk(self) -> None:
        for name, path in self.trees.items():
            started = time.monotonic()
            nested = tuple(other for other in self.trees.values() if other != path and _inside(other, path))
            exists = path.is_dir()
            total, files, errors = count_tree(path, nested) if exists else (0, 0, 0)
            usage = Usage(total, files, errors, self._clock(), time.monotonic() - started, exists)
            with self._lock:
                self._counts[name] = usage


def _inside(path: Path, parent: Path) -> bool:
    try:
        path.relative_to(parent)
    except ValueError:
        return False
    return True
