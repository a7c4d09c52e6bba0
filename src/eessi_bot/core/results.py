"""Result files written by the target repository's check scripts (reference §6.5): untrusted input.

`_bot_job<ID>.result` (`[RESULT]`) and `_bot_job<ID>.test` (`[TEST]`) come from PR code. They are
read with a size cap, parsed leniently, and their text is only ever shown in a table cell. The
`artefacts` names are kept as written (within limits) and judged by the deploy
(`eessi_bot.core.deploy.artefacts.check_artefact`), which reports the ones it refuses: dropping them
here left a PR's author wondering why nothing was uploaded.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from typing import List, Optional, Tuple

MAX_FILE_BYTES = 1024 * 1024
"""Larger files are not read (reported as unusable). An EESSI build of a few hundred modules writes
a result file of tens of kilobytes; the finished row shortens what is shown, not what is read."""
MAX_DESCRIPTION = 30_000
"""Characters of `comment_description` of the result file shown in the finished row (more is
shortened there on a tag boundary, naming the file); an EESSI build of 120 modules writes ~11,000."""
MAX_TEST_DESCRIPTION = 10_000
"""The same for the test file: both fit, with the rest of a job comment, under GitHub's limit."""
STATUSES = ("SUCCESS", "FAILURE")
MAX_ARTEFACTS = 64
"""Entries of `artefacts` kept; an EESSI job lists one."""
MAX_ARTEFACT_CHARS = 512
"""An entry is cut here (the deploy refuses any name over 255 bytes, so a cut name is refused too)."""


@dataclass(frozen=True)
class Result:
    status: str
    """SUCCESS, FAILURE, or UNKNOWN (absent, unreadable, or anything else)."""
    description: Optional[str]
    """`comment_description` on one line, whole (the file is capped at MAX_FILE_BYTES; the finished
    row shortens it); None when the file is missing or unusable."""
    artefacts: Tuple[str, ...] = ()
    """The `artefacts` entries, one a line: stripped, cut at MAX_ARTEFACT_CHARS, repeats dropped, at
    most MAX_ARTEFACTS. Untrusted: a name may be a path or hold shell metacharacters; the deploy
    judges each one."""
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
    status = values.get("status", "").strip().upper()
    artefacts, dropped = _artefacts(values.get("artefacts", ""))
    problems = ([] if description else ["no comment_description"]) + (
        [f"{dropped} artefacts beyond the first {MAX_ARTEFACTS} ignored"] if dropped else [])
    return Result(status if status in STATUSES else "UNKNOWN", description or None, artefacts,
                  "; ".join(problems) or None)


def _artefacts(value: str) -> Tuple[Tuple[str, ...], int]:
    """The entries kept, and how many were left out beyond MAX_ARTEFACTS."""
    names: List[str] = []
    dropped = 0
    for line in value.splitlines():
        name = line.strip()[:MAX_ARTEFACT_CHARS]
        if not name or name in names:
            continue
        if len(names) == MAX_ARTEFACTS:
            dropped += 1
        else:
            names.append(name)
    return tuple(names), dropped
