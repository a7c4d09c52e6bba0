"""Reading an artefact in a job directory, which PR code filled: never through a link, only a
regular file, streamed (artefacts are gigabytes; the bot never holds one in memory)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from eessi_bot.jobs.files import NotReadable, open_regular

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
    digest = hashlib.sha256()
    size = 0
    try:
        with open_regular(path) as handle:
            mtime = os.fstat(handle.fileno()).st_mtime
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except NotReadable as exc:
        if exc.link:
            raise ArtefactRefused(f"{name} is a symbolic link; only files in the job directory are uploaded") from None
        raise ArtefactRefused(f"{name} cannot be uploaded: {exc}") from None
    if size == 0:
        raise ArtefactRefused(f"{name} is empty")
    return ArtefactFile(path, size, digest.hexdigest(), mtime)
