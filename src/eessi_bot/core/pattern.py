"""Linear-time patterns for bot filters (``for:arch=...``, ``on:accel=...``, ``repo:``, ``instance:``).

Filters written in pull request comments keep the regular-expression meaning of Python's ``re`` module,
but they are matched by a small engine of our own: the pattern is compiled to a finite automaton and the
text is scanned once, tracking every possible position in the pattern at the same time (no backtracking).
Matching therefore takes time proportional to len(pattern) * len(text); a comment such as ``(a+)+$`` can
not make the bot hang.  ``Pattern.search`` answers like ``re.search`` (the pattern may match anywhere in
the text) and ``Pattern.fullmatch`` like ``re.fullmatch``.

Supported syntax
  - Literal characters: ``zen2`` matches "zen2" anywhere in the text.
  - ``.`` matches any character (except a newline).  A ``.`` also matches itself, so a dotted name such as
    ``eessi.io-2023.06-software`` works as a pattern (it also matches e.g. "eessiXio-2023.06-software").
  - Character classes: ``[abc]``, ranges ``[a-z0-9_]``, negated classes ``[^/]``; inside a class ``\\``
    escapes a character (``[\\]\\-]``), ``]`` first in the class is literal, ``-`` first or last is literal.
  - Escapes: ``\\.`` ``\\\\`` ``\\-`` ``\\/`` and any other escaped punctuation stand for the character
    itself; ``\\d`` (digit), ``\\w`` (letter, digit or ``_``), ``\\s`` (whitespace) and their negations
    ``\\D`` ``\\W`` ``\\S``, also inside classes.
  - Repeats: ``*`` (0 or more), ``+`` (1 or more), ``?`` (0 or 1), ``{m}``, ``{m,}``, ``{m,n}`` with m and
    n at most 100, on a character, class or group.  A lazy ``?`` after a repeat (``*?``) is accepted and
    gives the same yes/no answer.  A ``{`` that does not start a valid repeat is a literal character.
  - Groups ``( ... )`` and ``(?: ... )`` (nothing is captured), alternatives ``zen2|zen3``.
  - Anchors: ``^`` matches at the start of the text, ``$`` at the end of the text (unlike Python's ``re``,
    ``$`` does not also match before a final newline; filter values never contain newlines).

Not supported (rejected with a PatternError that says why): backreferences (``\\1``), lookahead and
lookbehind (``(?=`` ``(?!`` ``(?<=`` ``(?<!``), named groups, inline flags such as ``(?i)``, comments
``(?#``, conditionals, atomic groups ``(?>``, possessive repeats (``a*+``), ``\\b`` ``\\B`` ``\\A`` ``\\Z``,
other letter escapes (``\\n``, ``\\x41``, ...), and a repeat directly after another repeat (``a**``).
Patterns are limited to 200 characters by default and to 5,000 automaton states: counted repeats are
expanded, so ``(a{100}){100}`` is refused as too complex.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from eessi_bot.core.pattern_nfa import (
    BOL,
    DOT,
    EOL,
    Alt,
    Anchor,
    CharClass,
    Concat,
    Matcher,
    Node,
    Program,
    Repeat,
)

MAX_REPEAT = 100
"""Largest count allowed in ``{m}``, ``{m,}`` and ``{m,n}``."""
MAX_STATES = 5000
"""Largest automaton a pattern may compile to (counted repeats are expanded)."""
MAX_NESTING = 100
"""Deepest nesting of groups."""

_METACHARACTERS = frozenset("\\^$*+?{}[]()|")
_DIGITS = "0123456789"
_ASCII_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CATEGORIES = "dDwWsS"


class PatternError(ValueError):
    """A pattern that is malformed or uses a construct outside the supported subset.

    The message reads "<problem> at position <n> in pattern '<pattern>'" followed by "; <hint>" if any.
    """

    def __init__(self, problem: str, pattern: str, position: Optional[int] = None, hint: str = "") -> None:
        self.problem = problem
        self.pattern = pattern
        self.position = position
        self.hint = hint
        shown = pattern if len(pattern) <= 80 else pattern[:77] + "..."
        shown = f"'{shown}'" if shown.isprintable() else repr(shown)
        where = "" if position is None else f" at position {position}"
        super().__init__(f"{problem}{where} in pattern {shown}" + (f"; {hint}" if hint else ""))

    def __reduce__(self) -> Tuple[type, Tuple[str, str, Optional[int], str]]:
        return (PatternError, (self.problem, self.pattern, self.position, self.hint))


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern; build it with `compile_pattern` (``Pattern(source)`` skips the length limit)."""

    source: str
    _matcher: Matcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_matcher", _compile(self.source))

    def search(self, text: str) -> bool:
        """True if the pattern matches somewhere in `text`, like ``bool(re.search(source, text))``."""
        return self._matcher.run(text, search=True)

    def fullmatch(self, text: str) -> bool:
        """True if the pattern matches all of `text`, like ``bool(re.fullmatch(source, text))``."""
        return self._matcher.run(text, search=False)


def compile_pattern(source: str, *, max_length: int = 200) -> Pattern:
    """Compile a user-written pattern; PatternError if it is empty, too long, malformed or unsupported."""
    if len(source) > max_length:
        raise PatternError(f"pattern is {len(source)} characters long, the limit is {max_length}", source)
    return Pattern(source)


def is_literal(source: str) -> bool:
    """True when `source` has no metacharacters, so it can also be used verbatim (e.g. as a path).

    ``.`` and ``-`` are allowed: ``-`` is special only inside ``[...]``, and ``.`` matches any character
    including itself, so a dotted name such as ``eessi.io-2023.06-software`` still matches itself when
    used as a pattern.  The empty string is not a literal (it is not a valid pattern).  This says nothing
    about whether the text is a safe path (``..`` is a literal).
    """
    return bool(source) and _METACHARACTERS.isdisjoint(source)


_GROUP_EXTENSIONS = (  # what follows "(?" -> why it is refused
    ("=", "lookahead '(?=...)' is not supported"),
    ("!", "negative lookahead '(?!...)' is not supported"),
    ("<=", "lookbehind '(?<=...)' is not supported"),
    ("<!", "negative lookbehind '(?<!...)' is not supported"),
    ("P<", "named groups '(?P<name>...)' are not supported"),
    ("<", "named groups '(?<name>...)' are not supported"),
    ("P=", "named backreferences '(?P=name)' are not supported"),
    ("#", "comments '(?#...)' are not supported"),
    (">", "atomic groups '(?>...)' are not supported"),
    ("(", "conditional groups '(?(...)...)' are not supported"),
)
_ESCAPE_PROBLEMS = {
    "b": "word boundary '\\b' is not supported",
    "B": "'\\B' (not a word boundary) is not supported",
    "A": "'\\A' is not supported, use '^'",
    "Z": "'\\Z' is not supported, use '$'",
}


class _Parser:
    """Recursive-descent parser for the supported subset, mirroring how Python's ``re`` reads it."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.depth = 0

    def error(self, problem: str, position: Optional[int], hint: str = "") -> PatternError:
        return PatternError(problem, self.src, position, hint)

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def parse(self) -> Node:
        if not self.src:
            raise self.error("empty pattern", None, "use '.*' to match anything")
        node = self.alternation()
        if self.pos < len(self.src):  # only a ')' stops the top-level alternation early
            raise self.error("unbalanced ')'", self.pos, "there is no '(' for it to close")
        return node

    def alternation(self) -> Node:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else Alt(tuple(branches))

    def sequence(self) -> Node:
        items: List[Node] = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.quantified(self.atom()))
        return Concat(tuple(items))

    def atom(self) -> Node:
        start, ch = self.pos, self.src[self.pos]
        self.pos += 1
        if ch == "(":
            return self.group(start)
        if ch == "[":
            return self.char_class(start)
        if ch == "\\":
            value, is_category = self.escape(start, in_class=False)
            return CharClass(categories=value) if is_category else value
        if ch in "*+?" or (ch == "{" and self.braces(start) is not None):
            raise self.error("nothing to repeat", start, f"'{ch}' must follow a character, class or group")
        if ch == ".":
            return DOT
        if ch in "^$":
            return Anchor(BOL if ch == "^" else EOL)
        return ch

    def group(self, start: int) -> Node:
        if self.src.startswith("?", self.pos):
            if not self.src.startswith("?:", self.pos):
                rest = self.src[self.pos + 1 :]
                for prefix, problem in _GROUP_EXTENSIONS:
                    if rest.startswith(prefix):
                        raise self.error(problem, start, "use '(?:...)' or '(...)'" if "named" in problem else "")
                if rest[:1] and rest[0] in _ASCII_LETTERS + "-":
                    raise self.error("inline flags such as '(?i)' are not supported", start)
                raise self.error(f"unknown group extension '(?{rest[:1]}'", start)
            self.pos += 2
        if self.depth >= MAX_NESTING:
            raise self.error(f"groups are nested more than {MAX_NESTING} deep", start)
        self.depth += 1
        node = self.alternation()
        self.depth -= 1
        if self.peek() != ")":
            raise self.error("missing ')' for the '('", start)
        self.pos += 1
        return node

    def braces(self, start: int) -> Optional[Tuple[int, Optional[int], int]]:
        """Read ``{m}``, ``{m,}``, ``{,n}``, ``{m,n}`` at `start`: (low, high, end), None if not a repeat."""
        src, i = self.src, start + 1
        if src[i : i + 1] == "}":
            return None
        j = i
        while src[j : j + 1] and src[j] in _DIGITS:
            j += 1
        low_text = high_text = src[i:j]
        if src[j : j + 1] == ",":
            k = j + 1
            while src[k : k + 1] and src[k] in _DIGITS:
                k += 1
            high_text, j = src[j + 1 : k], k
        if src[j : j + 1] != "}":
            return None
        low = int(low_text) if 0 < len(low_text) <= 9 else (0 if not low_text else 10**9)
        high = int(high_text) if 0 < len(high_text) <= 9 else (None if not high_text else 10**9)
        return low, high, j + 1

    def quantified(self, atom: Node) -> Node:
        start, ch = self.pos, self.peek()
        low: int
        high: Optional[int]
        if ch in ("*", "+", "?"):
            low, high, end = (1 if ch == "+" else 0), (1 if ch == "?" else None), start + 1
        else:
            braces = self.braces(start) if ch == "{" else None
            if braces is None:
                return atom
            low, high, end = braces
            text = self.src[start:end]
            if max(low, high or 0) > MAX_REPEAT:
                raise self.error(f"repeat count in '{text}' is larger than {MAX_REPEAT}", start)
            if high is not None and high < low:
                raise self.error(f"in the repeat '{text}' the minimum is larger than the maximum", start)
        if isinstance(atom, Anchor):
            raise self.error("nothing to repeat", start, "an anchor ('^' or '$') cannot be repeated")
        self.pos = end
        if self.peek() == "?":  # lazy: same yes/no answer
            self.pos += 1
        elif self.peek() == "+":
            raise self.error(f"possessive repeat '{self.src[start : self.pos + 1]}' is not supported", start)
        nxt = self.peek()
        if nxt in ("*", "+", "?") or (nxt == "{" and self.braces(self.pos) is not None):
            raise self.error("multiple repeat", self.pos, "to repeat a repeat, wrap it in '(?:...)' first")
        return Repeat(atom, low, high)

    def escape(self, start: int, *, in_class: bool) -> Tuple[str, bool]:
        """Read the character after a backslash: (character, False) or (category letter, True)."""
        if self.pos >= len(self.src):
            raise self.error("the pattern ends with a lone backslash", start)
        ch = self.src[self.pos]
        self.pos += 1
        if ch in _CATEGORIES:
            return ch, True
        if ch in _DIGITS:
            raise self.error(f"backreferences and octal escapes such as '\\{ch}' are not supported", start)
        if ch in _ASCII_LETTERS:
            generic = f"the escape '\\{ch}' is not supported"
            raise self.error(generic if in_class else _ESCAPE_PROBLEMS.get(ch, generic), start)
        return ch, False

    def class_item(self) -> Tuple[str, bool]:
        start, ch = self.pos, self.src[self.pos]
        self.pos += 1
        return self.escape(start, in_class=True) if ch == "\\" else (ch, False)

    def char_class(self, start: int) -> CharClass:
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        chars: List[str] = []
        ranges: List[Tuple[str, str]] = []
        categories = ""
        first = True
        while True:
            if self.pos >= len(self.src):
                raise self.error("unterminated character class, missing ']' for the '['", start)
            if self.peek() == "]" and not first:
                self.pos += 1
                return CharClass(negated, frozenset(chars), tuple(ranges), categories)
            first = False
            item_start = self.pos
            value, is_category = self.class_item()
            if self.peek() != "-" or self.src[self.pos + 1 : self.pos + 2] in ("]", ""):
                if is_category:
                    categories += value
                else:
                    chars.append(value)
                continue
            self.pos += 1  # the '-' of a range
            high, high_is_category = self.class_item()
            text = self.src[item_start : self.pos]
            if is_category or high_is_category or high < value:
                raise self.error(f"bad character range '{text}'", item_start)
            ranges.append((value, high))


def _compile(source: str) -> Matcher:
    program = Program(_Parser(source).parse())
    if program.states > MAX_STATES:
        raise PatternError(
            f"pattern too complex: it needs {program.states} automaton states, the limit is {MAX_STATES}",
            source,
            hint="counted repeats such as '{m,n}' are expanded, and nested ones multiply",
        )
    return program.build()
