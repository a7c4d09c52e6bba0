"""Result files written by the target repository's check scripts (reference §6.5): untrusted input.

`_bot_job<ID>.result` (`[RESULT]`) and `_bot_job<ID>.test` (`[TEST]`) come from PR code. They are
read with a size cap, parsed leniently, and their text is only ever shown in a table cell.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from typing import Optional, Tuple

MAX_FILE_BYTES = 64 * 1024
MAX_DESCRIPTION = 4000
STATUSES = ("SUCCESS", "FAILURE")
_ARTEFACT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class Result:
    status: str
    """SUCCESS, FAILURE, or UNKNOWN (absent, unreadable, or anything else)."""
    description: Optional[str]
    """`comment_description` on one line; None when the file is missing or unusable."""
    artefacts: Tuple[str, ...] = ()
    """File names in the job directory (names with a path or odd characters are dropped)."""
    problem: Optional[str] = None
    """Why the file could not be used, for the log."""


def result_name(job_id: str) -> str:
    return f"_bot_job{job_id}.result"


def test_name(job_id: str) -> str:
    return f"_bot_job{job_id}.test"


def parse_result(data: Optional[bytes], section: str) -> Result:
    """Parse a result (`RESULT`) or test (`TEST`) file; never raises."""
    if data is None:
        return Result("UNKNOWN", None, problem="no such file")
    if len(data) > MAX_FILE_BYTES:
        return Result("UNKNOWN", None, problem=f"larger than {MAX_FILE_BYTES} bytes")
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(data.decode("utf-8", errors="replace"))
    except configparser.Error as exc:
        return Result("UNKNOWN", None, problem=f"not an INI file: {exc.__class__.__name__}")
    if not parser.has_section(section):
        return Result("UNKNOWN", None, problem=f"no [{section}] section")
    values = parser[section]
    description = " ".join(values.get("comment_description", "").split())
    if len(description) > MAX_DESCRIPTION:
        description = description[:MAX_DESCRIPTION] + " …"
    status = values.get("status", "").strip().upper()
    artefacts = tuple(a.strip() for a in values.get("artefacts", "").splitlines()
                      if a.strip() and _ARTEFACT.match(a.strip()))
    return Result(status if status in STATUSES else "UNKNOWN", description or None, artefacts,
                  None if description else "no comment_description")
