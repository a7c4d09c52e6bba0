"""Configuration problems: each names the file, `[section] key`, the offending value and a fix."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence


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
    line: Optional[int] = None
    """1-based line of the file (of the key, or where in a value the problem is)."""
    column: Optional[int] = None
    """1-based column of `line`, for problems inside a value (JSON)."""
    excerpt: Optional[str] = None
    """The text of `line`, shown under the problem with a caret at `column`."""

    def located(self, file: str) -> Problem:
        """The same problem, attributed to `file` unless it already names one."""
        if self.file:
            return self
        return dataclasses.replace(self, file=file)

    def render(self) -> str:
        """`file:line[:column]: error: [section] key = 'value': message (hint)`; a problem of the whole
        file (no section) leaves `[section]` out; an excerpt adds the line and a caret under it."""
        text = f"{self.severity.value}: "
        if self.section:
            where = f"[{self.section}] {self.key}" if self.key else f"[{self.section}]"
            if self.value is not None:
                shown = self.value if len(self.value) <= 120 else self.value[:117] + "..."
                where += f" = {shown!r}"
            text += f"{where}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        place = self._place()
        text = f"{place}: {text}" if place else text
        if self.excerpt is not None and self.column is not None:
            text += "\n" + "\n".join(caret_excerpt(self.excerpt, self.column))
        return text

    def _place(self) -> str:
        place = self.file or ("line" if self.line is not None else "")
        if self.line is not None:
            place += f"{':' if self.file else ' '}{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        return place


def caret_excerpt(text: str, column: int, width: int = 100) -> List[str]:
    """Two lines: `text` (indentation dropped, cut to about `width` characters around `column`) and a
    caret under `column` (1-based). Tabs count as one column, as in the column number."""
    line = text.replace("\t", " ").rstrip()
    caret = max(column - 1, 0)
    indent = len(line) - len(line.lstrip())
    if caret >= indent:
        line, caret = line[indent:], caret - indent
    if len(line) > width:
        begin = max(0, min(caret - width // 2, len(line) - width))
        end = begin + width
        shown = ("..." if begin else "") + line[begin:end] + ("..." if end < len(line) else "")
        caret = caret - begin + (3 if begin else 0)
        line = shown
    return ["    " + line, "    " + " " * caret + "^"]


def errors(problems: Iterable[Problem]) -> list[Problem]:
    """Only the problems that stop the bot."""
    return [p for p in problems if p.severity is Severity.ERROR]


class ConfigError(Exception):
    """The configuration cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(p.render() for p in self.problems))
