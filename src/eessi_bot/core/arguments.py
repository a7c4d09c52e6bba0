"""Arguments of a bot command: `on:`, `for:`, `component:pattern` filters, `exportvariable:` and words.

The grammar of the EESSI bot (reference §3.2-3.3), with its bugs fixed: every malformed argument is
an ArgumentError with a message the commenter can act on (no crash on `for:zen2`), `exportvariable:`
values are collected separately instead of becoming a filter that matches nothing, and patterns are
compiled by `eessi_bot.core.pattern`, which matches in linear time.

This is the shared first step of every command: tokens become `ArgumentItems`, which each command's
own `parse` turns into its typed arguments (or refuses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from eessi_bot.core.markdown import code
from eessi_bot.core.pattern import Pattern, PatternError, compile_pattern, is_literal

ARCH = "architecture"
ACCEL = "accelerator"
REPO = "repository"
INSTANCE = "instance"
EXPORT = "exportvariable"
JOB = "job"
ON = "on"
FOR = "for"
WORD = "word"
COMPONENTS = (ACCEL, ARCH, EXPORT, INSTANCE, JOB, REPO)
_BUILD_KEYS = (ARCH, ACCEL)
_MIN_PREFIX = 3
_SHORT = {ACCEL: "accel", ARCH: "arch", EXPORT: "exportvariable", INSTANCE: "instance", JOB: "job", REPO: "repo"}
MAX_ARGUMENTS = 40


class ArgumentError(ValueError):
    """A command argument the bot cannot use; the message is shown on the PR as is."""


@dataclass(frozen=True)
class Filter:
    """`component:pattern`: the pattern is searched (unanchored) in the component's value."""

    component: str
    source: str
    pattern: Pattern

    def matches(self, value: str) -> bool:
        return self.pattern.search(value)

    def __str__(self) -> str:
        return f"{self.component}:{self.source}"


@dataclass(frozen=True)
class BuildFor:
    """`for:arch=...[,accel=...]`: what to build for (may differ from the node it is built on)."""

    arch: str
    accel: Optional[str] = None

    def filters(self) -> Tuple[Filter, ...]:
        """The node filters of a native build (no `on:`): the node must match what is built for."""
        return tuple(_filter(k, v) for k, v in ((ARCH, self.arch), (ACCEL, self.accel)) if v)

    def __str__(self) -> str:
        text = f"for:{ARCH}={self.arch}"
        return text + (f",{ACCEL}={self.accel}" if self.accel else "")


@dataclass(frozen=True)
class Given:
    """One argument as a command's parser sees it, to take or to refuse."""

    kind: str
    """ON, FOR, a filter component (ARCH, ACCEL, REPO), EXPORT, JOB or WORD."""
    text: str
    """How a refusal quotes it."""


@dataclass(frozen=True)
class ArgumentItems:
    """The arguments of one command line, checked and sorted by kind, but not yet a command's own type.

    Every command takes `instance:` (it decides which bot instances answer); what else a command takes,
    and what it means, its own `parse` says (e.g. `eessi_bot.commands.build.parse`).
    """

    on: Tuple[Filter, ...] = ()
    for_: Optional[BuildFor] = None
    filters: Tuple[Filter, ...] = ()
    """Filters given as `component:pattern` (repo:, instance:, and the pre-v0.9 arch:/accel:)."""
    exports: Tuple[str, ...] = ()
    """`exportvariable:NAME=value` items, in order."""
    jobs: Tuple[str, ...] = ()
    words: Tuple[str, ...] = ()
    """Arguments without a colon, e.g. `last_build`."""

    @property
    def component_filters(self) -> Tuple[Filter, ...]:
        """The `component:pattern` filters but `instance:` (which addresses instances, not targets)."""
        return tuple(f for f in self.filters if f.component != INSTANCE)

    def given(self) -> Tuple[Given, ...]:
        """Every argument but `instance:`, in the order `expanded` shows them (a refusal names the first
        one a command does not take, so the same line always gets the same answer)."""
        listed = [Given(ON, "on:...")] if self.on else []
        if self.for_ is not None:
            listed.append(Given(FOR, str(self.for_)))
        listed += [Given(f.component, str(f)) for f in self.component_filters]
        listed += [Given(EXPORT, f"{EXPORT}:{e}") for e in self.exports]
        listed += [Given(JOB, f"{JOB}:{j}") for j in self.jobs]
        listed += [Given(WORD, w) for w in self.words]
        return tuple(listed)

    def addressed_to(self, instance: str) -> bool:
        """True unless `instance:` filters are given and one of them does not match `instance`."""
        return all(f.matches(instance) for f in self.filters if f.component == INSTANCE)

    def expanded(self) -> str:
        """A canonical spelling of these arguments (shown as the 'expanded format' on the PR)."""
        parts: List[str] = []
        if self.on:
            parts.append("on:" + ",".join(f"{f.component}={f.source}" for f in self.on))
        if self.for_ is not None:
            parts.append(str(self.for_))
        parts += [str(f) for f in self.filters]
        parts += [f"{EXPORT}:{e}" for e in self.exports]
        parts += [f"{JOB}:{j}" for j in self.jobs]
        parts += list(self.words)
        return " ".join(parts)


def parse_arguments(tokens: Tuple[str, ...]) -> ArgumentItems:
    """Parse whitespace-separated argument tokens; raises ArgumentError on the first bad one."""
    if len(tokens) > MAX_ARGUMENTS:
        raise ArgumentError(f"too many arguments ({len(tokens)}); at most {MAX_ARGUMENTS}")
    on: Optional[Tuple[Filter, ...]] = None
    for_: Optional[BuildFor] = None
    filters: List[Filter] = []
    exports: List[str] = []
    jobs: List[str] = []
    words: List[str] = []
    for token in tokens:
        head, colon, rest = token.partition(":")
        if not colon:
            words.append(token)
        elif head == "on":
            if on is not None:
                raise ArgumentError(f"{code(token)}: give `on:` only once per command")
            on = tuple(_filter(k, v) for k, v in _items(token, rest).items())
        elif head == "for":
            if for_ is not None:
                raise ArgumentError(f"{code(token)}: give `for:` only once per command")
            for_ = _build_for(token, rest)
        else:
            component = _component(token, head, COMPONENTS)
            if not rest:
                raise ArgumentError(f"{code(token)}: the pattern after {code(head + ':')} is empty")
            if ":" in rest:
                raise ArgumentError(f"{code(token)}: use one `:` only, as in {code(component + ':PATTERN')}")
            if component == EXPORT:
                exports.append(_export(token, rest))
            elif component == JOB:
                jobs.append(rest)
            else:
                filters.append(_filter(component, rest))
    return ArgumentItems(on=on or (), for_=for_, filters=tuple(filters), exports=tuple(exports),
                     jobs=tuple(jobs), words=tuple(words))


def _component(token: str, name: str, allowed: Tuple[str, ...]) -> str:
    short = ", ".join(_SHORT[a] for a in allowed)
    if len(name) < _MIN_PREFIX:
        raise ArgumentError(f"{code(token)}: {code(name)} is too short; write at least {_MIN_PREFIX} letters of "
                            f"one of: {short}")
    matches = [a for a in allowed if a.startswith(name)]
    if not matches:
        raise ArgumentError(f"{code(token)}: {code(name)} is not a known argument; known: {short}")
    return matches[0]


def _items(token: str, rest: str) -> Dict[str, str]:
    """`arch=x,accel=y` → {architecture: x, accelerator: y}."""
    if not rest:
        raise ArgumentError(f"{code(token)}: nothing after the colon; write for example {code(token + 'arch=zen2')}")
    items: Dict[str, str] = {}
    for item in rest.split(","):
        key, equals, value = item.partition("=")
        if not equals:
            raise ArgumentError(f"{code(token)}: {code(item)} should be NAME=VALUE, for example {code('arch=' + item)}")
        if not value:
            raise ArgumentError(f"{code(token)}: the value of {code(key)} is empty")
        component = _component(token, key, _BUILD_KEYS)
        if component in items:
            raise ArgumentError(f"{code(token)}: {code(component)} is given twice")
        items[component] = value
    return items


def _build_for(token: str, rest: str) -> BuildFor:
    items = _items(token, rest)
    arch = items.get(ARCH)
    if arch is None:
        raise ArgumentError(f"{code(token)}: `for:` needs the architecture to build for, "
                            "e.g. `for:arch=x86_64/amd/zen2`")
    normalized = _normalize(ARCH, arch)
    _filter(ARCH, normalized)
    accel = items.get(ACCEL)
    if accel is not None:
        _filter(ACCEL, accel)
    return BuildFor(arch=normalized, accel=accel)


def _normalize(component: str, source: str) -> str:
    """`x86_64-amd-zen2` means `x86_64/amd/zen2` (as in the EESSI bot), but only for plain names."""
    if component == ARCH and is_literal(source):
        return source.replace("-", "/")
    return source


def _filter(component: str, source: str) -> Filter:
    source = _normalize(component, source)
    try:
        pattern = compile_pattern(source)
    except PatternError as exc:
        where = "" if exc.position is None else f" at position {exc.position}"
        hint = f"; {exc.hint}" if exc.hint else ""
        raise ArgumentError(f"{code(component + ':' + source)}: {exc.problem}{where}{hint}") from exc
    return Filter(component, source, pattern)


def _export(token: str, rest: str) -> str:
    name, equals, value = rest.partition("=")
    if not equals or not name.isidentifier():
        raise ArgumentError(f"{code(token)}: write `exportvariable:NAME=VALUE`, e.g. `exportvariable:SKIP_TESTS=yes`")
    return f"{name}={value}"
