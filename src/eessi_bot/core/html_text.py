"""HTML-ish text from result files, made safe to show and to shorten: pure, never raises.

EESSI's check scripts describe a job in HTML (`<details>`, `<dl>`, `<pre>`, `<code>`, `<br/>`) inside
one markdown table cell, and PR code writes that text. Cutting it anywhere left tags open, and what
the bot appended afterwards (test result, end state) disappeared into a collapsed `<details>`.

Here text is read as a stream of pieces that are never split (tags, entities, backslash escapes,
markdown code spans) and runs of plain text. `balance_html` closes what is left open, drops closing
tags that close nothing, and makes a stray `<` or an unmatched backtick run literal, so nothing
appended later can be swallowed. `shorten_html` keeps the longest prefix that fits a budget, cut on
a piece boundary (or between words), and closes every element it leaves open.

Void elements (`<br/>`) need no end tag. `<x/>` of any other element opens it in HTML (GitHub parses
HTML so), though it reads as closed: it is written `<x></x>`, which means the same to both readings.
`<!...>` ends at its first `>` and is kept whole like a tag; no tag inside it is hidden, which is
right where it matters: `markdown.cell` shows `<!--` as text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Dict, Iterator, List, Optional, Tuple

ELLIPSIS = " …"
VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                           "param", "source", "track", "wbr"})

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)((?:[\s/](?:[^<>\"']|\"[^\"<>]*\"|'[^'<>]*')*)?)>")
"""A start, end or self-closing tag. Attribute values may not hold `<` or `>`, so a failed match
never scans past the next one (linear time on any input)."""
_DECLARATION = re.compile(r"<[!?][^<>]*>")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_TEXT = re.compile(r"[^<&\\`]+")
_BACKTICKS = re.compile(r"`+")

_OPEN, _CLOSE, _ATOM, _TEXT_RUN = range(4)

Stack = Optional[Tuple[str, "Stack"]]
"""The open elements, innermost first, as an immutable linked list (name as written, parent)."""


@lru_cache(maxsize=64)
def _closing_run(length: int) -> re.Pattern[str]:
    return re.compile(f"(?<!`)`{{{length}}}(?!`)")


def _backticks(text: str, pos: int) -> Tuple[str, int]:
    """A code span (kept whole), or an unmatched run of backticks made literal."""
    run = _BACKTICKS.match(text, pos)
    assert run is not None
    closer = _closing_run(len(run.group())).search(text, run.end())
    if closer is None:
        return "\\`" * len(run.group()), run.end()
    return text[pos:closer.end()], closer.end()


def _scan(text: str) -> Iterator[Tuple[int, str, str]]:
    """(kind, piece as it is shown, tag name) for every piece of `text`, left to right."""
    pos, end = 0, len(text)
    while pos < end:
        char = text[pos]
        if char == "<":
            tag = _TAG.match(text, pos)
            if tag is not None:
                closing, name, rest = tag.groups()
                if closing:
                    yield _CLOSE, tag.group(), name
                elif name.lower() in VOID_ELEMENTS:
                    yield _ATOM, tag.group(), name
                elif rest.rstrip().endswith("/"):
                    yield _ATOM, f"<{name}{rest.rstrip()[:-1].rstrip()}></{name}>", name
                else:
                    yield _OPEN, tag.group(), name
                pos = tag.end()
                continue
            other = _DECLARATION.match(text, pos)
            if other is not None:
                yield _ATOM, other.group(), ""
                pos = other.end()
            else:
                yield _ATOM, "&lt;", ""
                pos += 1
        elif char == "&":
            entity = _ENTITY.match(text, pos)
            piece = entity.group() if entity is not None else "&"
            yield _ATOM, piece, ""
            pos += len(piece)
        elif char == "\\":
            yield _ATOM, text[pos:pos + 2] if pos + 1 < end else "\\\\", ""
            pos += 2
        elif char == "`":
            piece, pos = _backticks(text, pos)
            yield _ATOM, piece, ""
        else:
            run = _TEXT.match(text, pos)
            assert run is not None
            yield _TEXT_RUN, run.group(), ""
            pos = run.end()


def _pieces(text: str) -> Iterator[Tuple[int, str, Stack, int]]:
    """(kind, piece, open elements after it, length of their closing tags), balanced: an end tag
    that closes nothing is dropped, one that closes an outer element closes the inner ones first."""
    stack: Stack = None
    closing = 0
    open_count: Dict[str, int] = {}
    for kind, piece, name in _scan(text):
        key = name.lower()
        if kind == _OPEN:
            stack = (name, stack)
            closing += len(name) + 3
            open_count[key] = open_count.get(key, 0) + 1
        elif kind == _CLOSE:
            if not open_count.get(key):
                continue
            inner: List[str] = []
            while stack is not None and stack[0].lower() != key:
                inner.append(f"</{stack[0]}>")
                stack = _pop(stack, open_count)
            stack = _pop(stack, open_count)
            closing -= sum(len(tag) for tag in inner) + len(name) + 3
            piece = "".join(inner) + piece
        yield kind, piece, stack, closing


def _pop(stack: Stack, open_count: Dict[str, int]) -> Stack:
    assert stack is not None
    open_count[stack[0].lower()] -= 1
    return stack[1]


def closing_tags(stack: Stack) -> str:
    """The end tags of the open elements, innermost first."""
    tags: List[str] = []
    while stack is not None:
        tags.append(f"</{stack[0]}>")
        stack = stack[1]
    return "".join(tags)


def balance_html(text: str) -> str:
    """`text` with every element closed and nothing closed that was not opened (unchanged when it is
    well-formed): text appended after it is never inside an element of it."""
    out: List[str] = []
    stack: Stack = None
    for _kind, piece, after, _closing in _pieces(text):
        out.append(piece)
        stack = after
    return "".join(out) + closing_tags(stack)


def shorten_html(text: str, budget: int, note: str = "") -> str:
    """`text` itself if it fits in `budget` characters; else its balanced prefix, ELLIPSIS, the end
    tags of what the prefix left open, and `note` (dropped if even that does not fit)."""
    if len(text) <= budget:
        return text
    for suffix in (ELLIPSIS + note, ELLIPSIS, ""):
        if len(suffix) <= budget:
            break
    room = budget - len(suffix)
    out: List[str] = []
    used = 0
    stack: Stack = None
    for kind, piece, after, closing in _pieces(text):
        if used + len(piece) + closing > room:
            if kind == _TEXT_RUN:
                out.append(_words(piece, room - used - closing))
            break
        out.append(piece)
        used += len(piece)
        stack = after
    else:
        return "".join(out) + closing_tags(stack)
    kept = "".join(out)
    if not kept.rstrip().endswith("\\"):
        kept = kept.rstrip()
    ellipsis, note_part = (suffix[:len(ELLIPSIS)], suffix[len(ELLIPSIS):]) if suffix else ("", "")
    return kept + ellipsis + closing_tags(stack) + note_part


def _words(run: str, room: int) -> str:
    """The longest start of a text run within `room` characters, ending between words if it can."""
    if room <= 0:
        return ""
    head = run[:room]
    if len(run) > room and not run[room].isspace():
        space = head.rfind(" ")
        if space >= 0:
            head = head[:space]
    return head
