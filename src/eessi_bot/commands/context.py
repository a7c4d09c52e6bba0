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
    `quiet` marks a reply that concerns other instances more than this one (a build none of its node
    types matches, and `instance:` did not name it): left out below chatlevel chatty, since with one
    instance per site every other site would answer every build.
    """

    nodes: Tuple[Node, ...]
    answer: bool = True
    quiet: bool = False


class CommandError(Exception):
    """A failure the commenter can act on; its message goes to the PR as is."""


@dataclass(frozen=True)
class CommandContext:
    config: Config
    registry: Registry
    request: Request
    jobs: Jobs
    addressed: bool = False
    """The line named this instance with `instance:` (a line naming only others never gets here)."""
