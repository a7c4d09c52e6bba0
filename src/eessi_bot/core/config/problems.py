"""Configuration problems: each names the file, `[section] key`, the offending value and a fix."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence


class Severity(enum.Enum):
    """How bad a problem is: errors stop the bot, warnings and notes are shown by check-config."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth knowing) about a configuration value."""

    severity: Severity
    section: str
    key: str
    message: str
    value: Optional[str] = None
    hint: Optional[str] = None
    file: Optional[str] = None

    def located(self, file: str) -> Problem:
        """The same problem, attributed to `file` unless it already names one."""
        if self.file:
            return self
        return Problem(self.severity, self.section, self.key, self.message, self.value, self.hint, file)

    def render(self) -> str:
        """One line for humans: `file: error: [section] key = 'value': message (hint)`."""
        where = f"[{self.section}] {self.key}" if self.key else f"[{self.section}]"
        if self.value is not None:
            shown = self.value if len(self.value) <= 120 else self.value[:117] + "..."
            where += f" = {shown!r}"
        text = f"{self.severity.value}: {where}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return f"{self.file}: {text}" if self.file else text


def errors(problems: Iterable[Problem]) -> list[Problem]:
    """Only the problems that stop the bot."""
    return [p for p in problems if p.severity is Severity.ERROR]


class ConfigError(Exception):
    """The configuration cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(p.render() for p in self.problems))
