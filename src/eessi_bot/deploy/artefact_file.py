"""Reading an artefact in a job directory, which PR code filled: never through a link, only a
regular file, streamed (artefacts are gigabytes; the bot never holds one in memory)."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1024 * 1024


class ArtefactRefused(Exception):
    """The artefact cannot be uploaded (missing, a link, not a regular file); the message says why."""


@dataclass(frozen=True)
class ArtefactFile:
    path: Path
    size: int
    sha256: str
    mtime: float
    """What `date -r FILE` shows (the EESSI metadata's `ctime`)."""


def inspect(directory: Path, name: str) -> ArtefactFile:
    """Size, SHA-256 and date of `directory/name`; ArtefactRefused when it is not a regular file
    there (a symbolic link, even one pointing inside the directory, is refused)."""
    path = directory / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ArtefactRefused(f"{name} does not exist in the job directory") from None
    except OSError as exc:
        if path.is_symlink():
            raise ArtefactRefused(f"{name} is a symbolic link; only files in the job directory are uploaded") from None
        raise ArtefactRefused(f"{name} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ArtefactRefused(f"{name} is not a regular file")
        digest = hashlib.sha256()
        size = 0
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    if size == 0:
        raise ArtefactRefused(f"{name} is empty")
    return ArtefactFile(path, size, digest.hexdigest(), info.st_mtime)
