"""What a command handler gets (the request, the configuration, this instance's jobs) and gives back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Tuple

from eessi_bot.core.config import Config
from eessi_bot.core.response import Node
from eessi_bot.ports.jobs import Jobs, Request

if TYPE_CHECKING:
    from eessi_bot.commands.registry import Registry


@dataclass(frozen=True)
class Reply:
    """A command's result for the response comment, as nodes that `core.response` lays out.

    `answer` is True when the reply is what the commenter asked for (help, tables, errors, "nothing
    happened, because ..."): shown at every chatlevel. False marks a mere acknowledgement.
    """

    nodes: Tuple[Node, ...]
    answer: bool = True


class CommandError(Exception):
    """A failure the commenter can act on; its message goes to the PR as is."""


@dataclass(frozen=True)
class CommandContext:
    config: Config
    registry: Registry
    request: Request
    jobs: Jobs
