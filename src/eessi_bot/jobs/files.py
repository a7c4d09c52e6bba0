"""Reading and writing files in job directories, which hold what PR code put there.

A PR can add a symlink named like a file the bot writes (`cfg/job.cfg`, `<N>.diff`, a metadata file)
to make the bot overwrite something outside the job directory, or a FIFO named like a result file to
make the bot's read block for ever. The bot therefore never follows a link and never reads anything
but a regular file there.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Optional


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


class NotReadable(Exception):
    """A file that is not read: its message says why (missing, a symbolic link, not a regular file)."""

    def __init__(self, reason: str, link: bool = False) -> None:
        super().__init__(reason)
        self.link = link


@contextmanager
def open_regular(path: Path) -> Iterator[BinaryIO]:
    """`path` opened for reading if it is a regular file: never through a final symbolic link
    (O_NOFOLLOW), never waiting for a writer should it be a FIFO (O_NONBLOCK). Raises NotReadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotReadable("it is a symbolic link", link=True) from None
        raise NotReadable(str(exc.strerror)) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotReadable("it is not a regular file")
    with os.fdopen(fd, "rb") as handle:
        yield handle


def read_regular(path: Path, limit: int) -> Optional[bytes]:
    """The first `limit` + 1 bytes of a regular file, or None (missing, a link, a FIFO, a directory...)."""
    try:
        with open_regular(path) as handle:
            return handle.read(limit + 1)
    except NotReadable:
        return None


def read_text(path: Path, limit: int = 4096) -> Optional[str]:
    """A small regular file as text (see `read_regular`)."""
    data = read_regular(path, limit)
    return None if data is None else data.decode("utf-8", errors="replace")
