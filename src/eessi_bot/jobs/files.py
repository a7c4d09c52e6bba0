"""Reading and writing files in job directories, which hold what PR code put there.

A PR can add a symlink named like a file the bot writes (`cfg/job.cfg`, `<N>.diff`, a metadata file)
to make the bot overwrite something outside the job directory, or a FIFO named like a result file to
make the bot's read block for ever. The bot therefore never follows a link and never reads anything
but a regular file there.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Optional


def clear(path: Path) -> None:
    """Remove whatever stands at `path` (a file, a link, a directory), without following links."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        path.unlink()


def write_new(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to a new file at `path`, replacing any entry there; never through a link.

    The parent directory must be one the bot made (not PR content): links there are not checked.
    """
    clear(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def point(link: Path, target: Path) -> None:
    """Make `link` a symbolic link to `target`, replacing whatever stands there (links for admins)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    clear(link)
    link.symlink_to(target)


def read_regular(path: Path, limit: int) -> Optional[bytes]:
    """The first `limit` + 1 bytes of a regular file, or None (missing, a link, a FIFO, a directory...)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read(limit + 1)


def read_text(path: Path, limit: int = 4096) -> Optional[str]:
    """A small regular file as text (see `read_regular`)."""
    data = read_regular(path, limit)
    return None if data is None else data.decode("utf-8", errors="replace")
