"""Artefact names from result files (reference §7.2): untrusted, judged before anything uses them.

PR scripts write `artefacts` into `_bot_job<ID>.result`. The EESSI bot put these names unquoted into a
`shell=True` command line (§12.6 ⚠ command injection) and parsed them as `PAYLOAD-TIMESTAMP.tar.gz`
only (a `.tar.zst` name crashed the whole deploy ⚠). Here a name is usable when it is a plain file
name of a few safe characters; any extension is allowed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

MAX_NAME_BYTES = 255
"""The longest file name most file systems (and S3 tools) accept."""

SHELL_METACHARACTERS = frozenset(";&|$`'\"\\<>()*?[]{}!#~^")
"""Characters a shell gives a meaning (named as such in the reason); none of them is allowed."""

_SAFE = re.compile(r"[A-Za-z0-9._+-]")
_TIMESTAMP = re.compile(r"[0-9]{1,18}")


def _char(ch: str) -> str:
    """A character named so that the reason stays readable and safe in markdown and logs."""
    return f"U+{ord(ch):04X}" + (f" {unicodedata.name(ch)}" if unicodedata.name(ch, "") else "")


def _bad_character(name: str) -> Optional[str]:
    for ch in name:
        if _SAFE.fullmatch(ch):
            continue
        if unicodedata.category(ch)[0] == "C":
            return f"the name contains a control character ({_char(ch)})"
        if ch.isspace():
            return f"the name contains a space ({_char(ch)})"
        if ch in SHELL_METACHARACTERS:
            return f"the name contains a shell metacharacter ({_char(ch)})"
        return f"the name contains {_char(ch)}; artefact names may hold letters, digits and . _ + - only"
    return None


def check_artefact(name: str) -> Optional[str]:
    """None when `name` can be uploaded, else why not (a plain sentence for the PR).

    Refused: an empty name, a path (`/`, `.` or `..`), more than 255 bytes, control characters,
    spaces, shell metacharacters or anything else outside `A-Z a-z 0-9 . _ + -`, and a leading `-`
    (read as an option) or `.` (a hidden file).
    """
    if not name:
        return "the name is empty"
    if "/" in name or name in (".", ".."):
        return "the name is a path, not a file name in the job directory"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes"
    bad = _bad_character(name)
    if bad is not None:
        return bad
    if name.startswith("-"):
        return "the name starts with `-` (it would read as an option)"
    if name.startswith("."):
        return "the name starts with `.` (a hidden file)"
    return None


def artefact_timestamp(name: str) -> Optional[int]:
    """The timestamp of the EESSI naming `PAYLOAD-TIMESTAMP.tar.gz` (or `.tar.zst`, or any other
    extension): the digits of the last `-`-separated field before its first `.`; None when absent."""
    payload, sep, last = name.rpartition("-")
    if not sep or not payload:
        return None
    digits = last.split(".", 1)[0]
    return int(digits) if _TIMESTAMP.fullmatch(digits) else None
