"""The command registry: each command declares its grammar, help and handler in its own module.

`bot: help` is generated from here, so a command cannot exist without help.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Iterable, Optional, Tuple

from eessi_bot.commands.context import CommandContext, Reply
from eessi_bot.core.arguments import INSTANCE, ArgumentError, Arguments
from eessi_bot.core.markdown import code

Handler = Callable[[CommandContext, Arguments], Reply]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    summary: str
    """One sentence for `bot: help`."""
    usage: str
    """Argument synopsis after the name, e.g. `for:arch=ARCH[,accel=ACCEL] [repo:REPO]`."""
    example: str
    """A complete command line that parses (tests check it)."""
    handler: Handler
    on: bool = False
    for_: bool = False
    filter_components: FrozenSet[str] = frozenset()
    exports: bool = False
    jobs: bool = False
    words: Optional[FrozenSet[str]] = field(default=frozenset())
    """Words (arguments without ':') it accepts; None accepts any word."""

    def check(self, args: Arguments) -> None:
        """Refuse arguments this command does not take, instead of silently ignoring them."""
        if args.on and not self.on:
            self._refuse("on:...")
        if args.for_ is not None and not self.for_:
            self._refuse(str(args.for_))
        for item in args.filters:
            if item.component != INSTANCE and item.component not in self.filter_components:
                self._refuse(str(item))
        if args.exports and not self.exports:
            self._refuse("exportvariable:" + args.exports[0])
        if args.jobs and not self.jobs:
            self._refuse("job:" + args.jobs[0])
        if self.words is not None:
            for word in args.words:
                if word not in self.words:
                    self._refuse(word)

    def _refuse(self, what: str) -> None:
        usage = f"bot: {self.name} {self.usage}".strip()
        raise ArgumentError(f"{code(self.name)} does not take {code(what)}; usage: {code(usage)}")


class Registry:
    def __init__(self, specs: Iterable[CommandSpec]) -> None:
        self._specs: Dict[str, CommandSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"command {spec.name!r} registered twice")
            self._specs[spec.name] = spec

    def get(self, name: str) -> Optional[CommandSpec]:
        return self._specs.get(name)

    @property
    def specs(self) -> Tuple[CommandSpec, ...]:
        return tuple(self._specs.values())

    def unknown_message(self, name: str) -> str:
        text = f"unknown command {code(name)}"
        close = difflib.get_close_matches(name, list(self._specs), n=1)
        if close:
            text += f"; did you mean {code(close[0])}?"
        return text + "; use `bot: help` for usage information"
