"""Golden files: text the bot shows to users, kept as plain files so that a change of a format is a diff.

`assert_golden("formats/job_comment_running.md", text)` compares `text` byte for byte with
`tests/golden/formats/job_comment_running.md`. With `UPDATE_GOLDEN=1` in the environment the file is
(re)written instead and the test passes; review the change with `git diff tests/golden/` and commit it.
A missing golden file fails (so a forgotten file cannot pass silently) unless `UPDATE_GOLDEN=1`.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Union

GOLDEN_DIR = Path(__file__).resolve().parent
UPDATE_ENV = "UPDATE_GOLDEN"


def updating() -> bool:
    """Whether this run rewrites golden files rather than comparing with them."""
    return os.environ.get(UPDATE_ENV, "") not in ("", "0")


def assert_golden(name: str, actual: Union[str, bytes]) -> None:
    """Compare `actual` with the golden file `name` (relative to tests/golden/), or rewrite it.

    Text is compared as UTF-8 bytes: trailing spaces and a missing final newline count, since the
    target repository's scripts and GitHub see exactly these bytes.
    """
    path = GOLDEN_DIR / name
    data = actual.encode("utf-8") if isinstance(actual, str) else actual
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        return
    if not path.exists():
        raise AssertionError(f"no golden file tests/golden/{name}; create it with {UPDATE_ENV}=1 and review it")
    expected = path.read_bytes()
    if expected == data:
        return
    diff = difflib.unified_diff(
        expected.decode("utf-8", errors="replace").splitlines(keepends=True),
        data.decode("utf-8", errors="replace").splitlines(keepends=True),
        fromfile=f"tests/golden/{name}", tofile="rendered now")
    shown = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in diff)
    if not shown:  # bytes that differ only where UTF-8 decoding could not show it
        shown = f"golden:   {expected!r}\nrendered: {data!r}\n"
    raise AssertionError(f"tests/golden/{name} differs from what is rendered now "
                         f"(rerun with {UPDATE_ENV}=1 if the change is intended):\n{shown}")
