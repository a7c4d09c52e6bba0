"""Files named on the command line, read with one plain answer for each way they can be wrong.

A path an admin typed may be missing, a directory, a FIFO (opening it would hang), unreadable,
binary or huge; each is a `CliError` that names the file and the problem, never a traceback.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from eessi_bot.cli.errors import CliError

MAX_BYTES = 64 * 1024 * 1024


def read_text(path: Path, what: str, max_bytes: int = MAX_BYTES) -> str:
    """The UTF-8 text of the regular file `path` (`what` names it in messages: "delivery file")."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise CliError(f"{what} {path} does not exist") from None
    except PermissionError:
        raise CliError(f"{what} {path} cannot be read: permission denied") from None
    except OSError as exc:
        raise CliError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise CliError(f"{what} {path} is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise CliError(f"{what} {path} is not a regular file")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise CliError(f"{what} {path} is larger than {max_bytes // (1024 * 1024)} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{what} {path} is not UTF-8 text (byte {exc.start + 1} is not): is it the right "
                       "file?") from None


def read_json(path: Path, what: str) -> Any:
    """The JSON value in `path`; a syntax error names its line and column."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} {path} is not valid JSON: {exc.msg} at line {exc.lineno} column "
                       f"{exc.colno}") from None
