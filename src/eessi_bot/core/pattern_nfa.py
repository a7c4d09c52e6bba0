"""Automaton half of `eessi_bot.core.pattern`: syntax tree, Thompson NFA, and its set-of-states simulation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, List, Optional, Set, Tuple, Union

CACHE_BUDGET = 200_000  # state numbers kept in the transition cache of one pattern before it is emptied


def _in_category(category: str, ch: str) -> bool:
    """``\\d`` ``\\w`` ``\\s`` (and negations) with the same Unicode meaning as Python's ``re``."""
    if category in "dD":
        hit = ch.isdecimal()
    elif category in "wW":
        hit = ch.isalnum() or ch == "_"
    else:
        hit = ch.isspace()
    return hit if category.islower() else not hit


@dataclass(frozen=True)
class CharClass:
    """Matches one character: any listed char, range or category (or none of them when negated)."""

    negated: bool = False
    chars: FrozenSet[str] = frozenset()
    ranges: Tuple[Tuple[str, str], ...] = ()
    categories: str = ""

    def matches(self, ch: str) -> bool:
        hit = (
            ch in self.chars
            or any(lo <= ch <= hi for lo, hi in self.ranges)
            or any(_in_category(c, ch) for c in self.categories)
        )
        return hit != self.negated


DOT = CharClass(negated=True, chars=frozenset("\n"))
CHAR, SPLIT, JMP, BOL, EOL, MATCH = range(6)  # automaton instructions; BOL/EOL are also anchors


@dataclass(frozen=True)
class Anchor:
    kind: int  # BOL or EOL


@dataclass(frozen=True)
class Concat:
    items: Tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    branches: Tuple[Node, ...]


@dataclass(frozen=True)
class Repeat:
    node: Node
    low: int
    high: Optional[int]  # None: unbounded


Test = Union[str, CharClass]  # a str is one literal character
Node = Union[str, CharClass, Anchor, Concat, Alt, Repeat]


class Program:
    """Thompson NFA as parallel instruction lists: op, jump targets x/y, and the character test of CHAR."""

    def __init__(self, tree: Node) -> None:
        self.ops: List[int] = []
        self.x: List[int] = []
        self.y: List[int] = []
        self.tests: List[Optional[Test]] = []
        self.sizes: Dict[int, int] = {}  # id(node) -> number of instructions it compiles to
        self.tree = tree
        self.states = self.size(tree) + 1
        # number of instructions (automaton states) `build` will emit: check it before building

    def build(self) -> Matcher:
        self.node(self.tree)
        self.emit(MATCH)
        return Matcher(self)

    def size(self, node: Node) -> int:
        if isinstance(node, (str, CharClass, Anchor)):
            return 1
        if isinstance(node, Concat):
            total = sum(self.size(item) for item in node.items)
        elif isinstance(node, Alt):
            total = sum(self.size(b) for b in node.branches) + 2 * (len(node.branches) - 1)
        else:
            inner = self.size(node.node)
            extra = inner + 2 if node.high is None else (node.high - node.low) * (inner + 1)
            total = 0 if inner == 0 else node.low * inner + extra
        self.sizes[id(node)] = total
        return total

    def emit(self, op: int, test: Optional[Test] = None) -> int:
        self.ops.append(op)
        self.x.append(len(self.ops))
        self.y.append(len(self.ops))
        self.tests.append(test)
        return len(self.ops) - 1

    def node(self, node: Node) -> None:
        if isinstance(node, (str, CharClass)):
            self.emit(CHAR, node)
        elif isinstance(node, Anchor):
            self.emit(node.kind)
        elif isinstance(node, Concat):
            for item in node.items:
                self.node(item)
        elif isinstance(node, Alt):
            jumps = []
            for branch in node.branches[:-1]:
                split = self.emit(SPLIT)
                self.node(branch)
                jumps.append(self.emit(JMP))
                self.y[split] = len(self.ops)
            self.node(node.branches[-1])
            for jump in jumps:
                self.x[jump] = len(self.ops)
        elif self.sizes.get(id(node.node), 1) > 0:  # a Repeat of something that matches more than nothing
            for _ in range(node.low):
                self.node(node.node)
            if node.high is None:  # loop: SPLIT (body, exit); body; JMP SPLIT
                split = self.emit(SPLIT)
                self.node(node.node)
                self.x[self.emit(JMP)] = split
                self.y[split] = len(self.ops)
            for _ in range(node.low, node.high or node.low):  # optional copies: SPLIT (body, skip); body
                split = self.emit(SPLIT)
                self.node(node.node)
                self.y[split] = len(self.ops)


class Matcher:
    """Simulates the NFA on a set of states (Pike VM without captures), caching set-to-set transitions."""

    def __init__(self, program: Program) -> None:
        self.ops, self.x, self.y, self.tests = program.ops, program.x, program.y, program.tests
        self.accept = len(program.ops) - 1
        self.initial = self.closure([0], at_start=True, at_end=False)
        self.restart = self.closure([0], at_start=False, at_end=False)  # search: a match may start anywhere
        self.cache: Dict[Tuple[bool, FrozenSet[int], str], FrozenSet[int]] = {}
        self.cached = 0

    def closure(self, seeds: Iterable[int], *, at_start: bool, at_end: bool) -> FrozenSet[int]:
        """States reachable without reading a character; keeps CHAR, MATCH and (not at the end) EOL."""
        ops, x, y = self.ops, self.x, self.y
        stack: List[int] = list(seeds)
        seen: Set[int] = set()
        kept: List[int] = []
        while stack:
            pc = stack.pop()
            if pc in seen:
                continue
            seen.add(pc)
            op = ops[pc]
            if op == SPLIT:
                stack += (x[pc], y[pc])
            elif op == JMP or (op == BOL and at_start) or (op == EOL and at_end):
                stack.append(x[pc])
            elif op != BOL:
                kept.append(pc)
        return frozenset(kept)

    def step(self, states: FrozenSet[int], ch: str, search: bool) -> FrozenSet[int]:
        key = (search, states, ch)
        following = self.cache.get(key)
        if following is None:
            tests = self.tests
            seeds = [
                pc + 1
                for pc in states
                if (test := tests[pc]) is not None and (test == ch if isinstance(test, str) else test.matches(ch))
            ]
            following = self.closure(seeds, at_start=False, at_end=False)
            if search:
                following |= self.restart
            if self.cached > CACHE_BUDGET:
                self.cache.clear()
                self.cached = 0
            self.cache[key] = following
            self.cached += len(states) + len(following)
        return following

    def run(self, text: str, *, search: bool) -> bool:
        states = self.initial
        for ch in text:
            if search and self.accept in states:
                return True
            if not states:
                return False
            states = self.step(states, ch, search)
        return self.accept in self.closure(states, at_start=not text, at_end=True)
