"""Where things are in the text of an INI file: the line of each section and key, and the lines of
each value, so that a problem found in a value can name the line and column of the FILE.

configparser forgets line numbers and strips the indentation of continuation lines (and skips comment
lines inside a value), so a JSON error it would place at "line 14 column 1" of the value is mapped back
here, following configparser's own rules: a continuation line is indented deeper than its key's line,
a blank line inside a value is kept, a line starting with `#` or `;` is a comment.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from eessi_bot.core.config.problems import Problem

_SECTION = re.compile(r"\[(?P<header>.+)\]")
_OPTION = re.compile(r"(?P<option>.*?)\s*[=:]\s*(?P<value>.*)$")


@dataclass(frozen=True)
class ValueLine:
    """One line of a value as configparser kept it: its line number, the file's text, where it starts."""

    number: int
    text: str
    start: int


@dataclass
class _Entry:
    line: int
    lines: List[ValueLine]


class Layout:
    """Line numbers of an INI text's sections, keys and value lines (1-based)."""

    def __init__(self, text: str) -> None:
        self.sections: Dict[str, int] = {}
        self.keys: Dict[Tuple[str, str], _Entry] = {}
        self._read(text.splitlines())

    def _read(self, lines: List[str]) -> None:
        section: Optional[str] = None
        entry: Optional[_Entry] = None
        indent = 0
        for number, text in enumerate(lines, 1):
            stripped = text.strip()
            if stripped.startswith(("#", ";")):
                continue
            if not stripped:
                if entry is not None:
                    entry.lines.append(ValueLine(number, text, len(text)))
                continue
            level = len(text) - len(text.lstrip())
            if entry is not None and level > indent:
                entry.lines.append(ValueLine(number, text, level))
                continue
            indent, entry = level, None
            header = _SECTION.match(stripped)
            if header:
                section = header.group("header")
                self.sections.setdefault(section, number)
                continue
            option = _OPTION.match(stripped)
            if section is not None and option and option.group("option"):
                start = level + option.start("value")
                entry = _Entry(number, [ValueLine(number, text, start)])
                self.keys.setdefault((section, option.group("option").rstrip().lower()), entry)

    def line_of(self, section: str, key: str) -> Optional[int]:
        """The line of `key = ...` in `[section]`, or of the section header when `key` is empty."""
        if not key:
            return self.sections.get(section)
        entry = self.keys.get((section, key.lower()))
        return entry.line if entry else None

    def value_position(self, section: str, key: str, value: str, line: int, column: int) -> Optional[ValueLine]:
        """The file line and column of (`line`, `column`) of `value`, which was read from `[section] key`.

        `value` is the text as the reader used it (leading blank lines and outer quotes removed); its
        lines are found in the file's value lines, so the column is right whatever the indentation.
        Returns the file's line with `start` set to the 0-based column.
        """
        entry = self.keys.get((section, key.lower()))
        if entry is None:
            return None
        first = 0
        while first < len(entry.lines) - 1 and not entry.lines[first].text[entry.lines[first].start:].strip():
            first += 1
        rest = entry.lines[first:]
        wanted = value.split("\n")
        index = min(max(line - 1, 0), len(rest) - 1)
        target = rest[index]
        piece = wanted[index] if index < len(wanted) else ""
        found = target.text.find(piece, target.start) if piece else -1
        offset = found if found >= 0 else target.start
        return ValueLine(target.number, target.text, offset + max(column - 1, 0))


def locate(problems: List[Problem], layout: Layout) -> List[Problem]:
    """The problems, each that has no line yet given the line of its key (or section) in the file."""
    located = []
    for problem in problems:
        line = problem.line if problem.line is not None else layout.line_of(problem.section, problem.key)
        located.append(dataclasses.replace(problem, line=line))
    return located
