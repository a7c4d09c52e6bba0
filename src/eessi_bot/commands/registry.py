"""The command registry: each command declares its grammar, help and handler in its own module.

A command's `parse` turns the shared `ArgumentItems` into its own frozen argument type (or refuses
them), and its handler gets that type; the registry dispatches without knowing what is in it.
`bot: help` is generated from here, so a command cannot exist without help.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, Iterable, Optional, Tuple, TypeVar

from eessi_bot.commands.context import CommandContext, Reply
from eessi_bot.core.arguments import ArgumentError, ArgumentItems, Given
from eessi_bot.core.markdown import code

A = TypeVar("A")


def synopsis(name: str, usage: str) -> str:
    """`bot: NAME USAGE`, as help and refusals show it."""
    return f"bot: {name} {usage}".strip()


def take_only(items: ArgumentItems, name: str, usage: str, takes: Callable[[Given], bool]) -> None:
    """Refuse the first argument the command does not take, instead of silently ignoring it."""
    for given in items.given():
        if not takes(given):
            raise ArgumentError(f"{code(name)} does not take {code(given.text)}; "
                                f"usage: {code(synopsis(name, usage))}")


@dataclass(frozen=True)
class CommandSpec(Generic[A]):
    name: str
    summary: str
    """One sentence for `bot: help`."""
    usage: str
    """Argument synopsis after the name, e.g. `for:arch=ARCH[,accel=ACCEL] [repo:REPO]`."""
    example: str
    """A complete command line that parses (tests check it)."""
    parse: Callable[[ArgumentItems], A]
    """The command's arguments, or an ArgumentError the commenter can act on."""
    handler: Callable[[CommandContext, A], Reply]

    @property
    def synopsis(self) -> str:
        return synopsis(self.name, self.usage)

    def run(self, ctx: CommandContext, items: ArgumentItems) -> Reply:
        """Parse, then handle: the handler only ever sees arguments its command accepted."""
        return self.handler(ctx, self.parse(items))


AnySpec = CommandSpec[Any]


class Registry:
    def __init__(self, specs: Iterable[AnySpec]) -> None:
        self._specs: Dict[str, AnySpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"command {spec.name!r} registered twice")
            self._specs[spec.name] = spec

    def get(self, name: str) -> Optional[AnySpec]:
        return self._specs.get(name)

    @property
    def specs(self) -> Tuple[AnySpec, ...]:
        return tuple(self._specs.values())

    def unknown_message(self, name: str) -> str:
        text = f"unknown command {code(name)}"
        close = difflib.get_close_matches(name, list(self._specs), n=1)
        if close:
            text += f"; did you mean {code(close[0])}?"
        return text + "; use `bot: help` for usage information"
