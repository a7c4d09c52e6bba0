"""Running a program the site configured (its `artefact_upload_script`): an argument list, an
explicit environment, a time limit. Never a shell, never PR code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Protocol, Sequence


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    output: str
    """stdout and stderr, decoded, the last few KB."""


class CommandTimedOut(Exception):
    """The command ran past its time limit and was killed (with its whole process group)."""


class CommandRunner(Protocol):
    def run(self, argv: Sequence[str], env: Mapping[str, str], timeout: float,
            cwd: Optional[Path] = None) -> CommandResult:
        """Run `argv` to its end. Raises CommandTimedOut, or OSError when it cannot be started."""
        ...
