"""Find `bot: <command> [args]` lines in a comment, the way a reader of the rendered comment sees them.

A command is a line that starts with `bot:` (up to three spaces of indentation, a space after the
colon optional, case-sensitive as in the EESSI bot). Lines in fenced or indented code blocks, in
block quotes and in HTML comments are not commands: they are examples, citations or hidden text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

PREFIX = "bot:"
MAX_COMMANDS = 32
"""More command lines than this in one comment are refused as a whole (a typo'd paste, not intent)."""

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_TAB_WIDTH = 4


@dataclass(frozen=True)
class CommandLine:
    """One command line of a comment. `line` (0-based) keys the command's effects for idempotency."""

    line: int
    text: str
    """Everything after `bot:`, stripped; never empty."""

    @property
    def name(self) -> str:
        return self.text.split()[0]

    @property
    def args(self) -> Tuple[str, ...]:
        return tuple(self.text.split()[1:])


def find_commands(body: str) -> List[CommandLine]:
    """Every command line of `body`, in order."""
    scanner = _Scanner()
    commands = []
    for number, line in enumerate(body.replace("\r\n", "\n").replace("\r", "\n").split("\n")):
        text = scanner.command_text(line)
        if text:
            commands.append(CommandLine(number, text))
    return commands


class _Scanner:
    """Tracks the markdown block we are in, line by line (a small subset of CommonMark)."""

    def __init__(self) -> None:
        self.fence: Optional[str] = None
        self.in_html_comment = False
        self.after_blank = True
        self.in_indented_code = False

    def command_text(self, line: str) -> Optional[str]:
        if self.in_html_comment:
            if "-->" in line:
                self.in_html_comment = False
            return None
        if self.fence is not None:
            if self._closes_fence(line):
                self.fence = None
            return None
        blank = not line.strip()
        indent = _indent_width(line)
        if blank:
            self.after_blank = True
            return None
        if indent >= 4:
            if self.after_blank or self.in_indented_code:
                self.in_indented_code = True
            self.after_blank = False
            return None
        self.in_indented_code = False
        self.after_blank = False
        stripped = line.lstrip(" ").rstrip()
        opening = _FENCE_OPEN.match(line)
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            self.fence = opening.group(1)
            return None
        if stripped.startswith(">"):
            return None
        if stripped.startswith("<!--"):
            self.in_html_comment = "-->" not in stripped[4:]
            return None
        if stripped.startswith(PREFIX):
            return stripped[len(PREFIX):].strip() or None
        return None

    def _closes_fence(self, line: str) -> bool:
        assert self.fence is not None
        stripped = line.strip()
        return (
            _indent_width(line) < 4
            and len(stripped) >= len(self.fence)
            and set(stripped) == {self.fence[0]}
        )


def _indent_width(line: str) -> int:
    width = 0
    for char in line:
        if char == " ":
            width += 1
        elif char == "\t":
            width += _TAB_WIDTH - width % _TAB_WIDTH
        else:
            break
    return width
