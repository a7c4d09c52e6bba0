"""What is wrong in a JSON value of app.cfg, said as the person who wrote it would say it.

`json` reports "Expecting property name enclosed in double quotes" for a trailing comma, single
quotes and an unquoted name alike, and points at the end of the text for an unclosed brace. Here each
common mistake gets its own short message and the place to look: the comma that trails, the brace
that is never closed, the quote that is missing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

_PYTHON_WORDS = {"None": "null", "True": "true", "False": "false"}
_CLOSERS = {"{": "}", "[": "]"}


@dataclass(frozen=True)
class JsonMistake:
    """A message and where it is in the JSON text (1-based line and column)."""

    message: str
    line: int
    column: int


def explain(exc: json.JSONDecodeError) -> JsonMistake:
    """The mistake behind `exc`, placed where the person should look."""
    doc, pos = exc.doc, min(exc.pos, len(exc.doc))
    message, where = _classify(exc.msg, doc, pos)
    line = doc.count("\n", 0, where) + 1
    column = where - (doc.rfind("\n", 0, where) + 1) + 1
    return JsonMistake(message, line, column)


def _classify(msg: str, doc: str, pos: int) -> Tuple[str, int]:
    char = doc[pos] if pos < len(doc) else ""
    if msg.startswith("Illegal trailing comma"):
        return _trailing_comma(doc, pos, doc[_next_visible(doc, pos + 1)] if pos + 1 < len(doc) else "")
    if msg.startswith("Unterminated string"):
        return "a string is not closed: its closing `\"` is missing", pos
    if msg.startswith("Invalid control character"):
        if char == "\n":
            return "a string is not closed on its line: its closing `\"` is missing", _string_start(doc, pos)
        return "a string holds a tab or another control character: write a tab as `\\t`", pos
    if msg.startswith("Invalid \\"):
        return "a backslash starts no valid escape: write a backslash as `\\\\`", pos
    if not doc[pos:].strip() and msg.startswith("Expecting"):
        return _unclosed(doc, pos)
    if msg.startswith("Expecting ',' delimiter"):
        if char in "]}":
            return f"`{char}` does not match the bracket it closes", pos
        previous = _previous_visible(doc, pos)
        return "a comma is missing here", pos if previous is None else previous + 1
    if msg.startswith("Expecting ':' delimiter"):
        if char == "=":
            return "write `:` between a name and its value, not `=`", pos
        return "a `:` is missing after the name", pos
    if msg.startswith("Expecting property name") or msg == "Expecting value":
        return _expected_something(msg, doc, pos, char)
    if msg.startswith("Extra data"):
        if char in "]}":
            return f"an extra `{char}`: the value was already closed", pos
        return "more text after the end of the value (a missing `[` or `{` at the start?)", pos
    return msg[:1].lower() + msg[1:], pos


def _expected_something(msg: str, doc: str, pos: int, char: str) -> Tuple[str, int]:
    """`Expecting property name ...` and `Expecting value`: the usual suspects, in order."""
    previous = _previous_visible(doc, pos)
    if char in "]}" and previous is not None and doc[previous] == ",":
        return _trailing_comma(doc, previous, char)
    if char == "'":
        return "single quotes: JSON strings and names use double quotes", pos
    word = re.match(r"[A-Za-z_]\w*", doc[pos:])
    if word and word.group(0) in _PYTHON_WORDS:
        return f"`{word.group(0)}` is Python; JSON writes `{_PYTHON_WORDS[word.group(0)]}`", pos
    if word and msg.startswith("Expecting property name"):
        return f"the name `{word.group(0)}` needs double quotes", pos
    if word or char == "/":
        return "text must be in double quotes", pos
    if msg.startswith("Expecting property name"):
        return "a name in double quotes is expected here", pos
    if char == ",":
        return "a value is missing before this comma", pos
    return "a value is expected here", pos


def _trailing_comma(doc: str, comma: int, closer: str) -> Tuple[str, int]:
    return f"a comma before `{closer}`: JSON allows no trailing comma", comma


def _unclosed(doc: str, end: int) -> Tuple[str, int]:
    """The innermost bracket still open at `end` (strings skipped), reported where it opens."""
    stack: List[int] = []
    in_string = escaped = False
    for index, char in enumerate(doc[:end]):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in _CLOSERS:
            stack.append(index)
        elif char in "]}" and stack:
            stack.pop()
    if in_string:
        return "a string is not closed: its closing `\"` is missing", end
    if not stack:
        return "the value ends where more was expected", max(end - 1, 0)
    opener = stack[-1]
    return f"this `{doc[opener]}` is never closed: a `{_CLOSERS[doc[opener]]}` is missing", opener


def _string_start(doc: str, pos: int) -> int:
    """The opening quote of the string that runs into `pos`."""
    start = doc.rfind('"', 0, pos)
    return start if start >= 0 else pos


def _previous_visible(doc: str, pos: int) -> Optional[int]:
    index = pos - 1
    while index >= 0 and doc[index].isspace():
        index -= 1
    return index if index >= 0 else None


def _next_visible(doc: str, pos: int) -> int:
    index = pos
    while index < len(doc) - 1 and doc[index].isspace():
        index += 1
    return index
