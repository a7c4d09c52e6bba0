"""What a command handler gets (the request, the configuration, this instance's jobs) and gives back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from eessi_bot.core.config import Config
from eessi_bot.ports.jobs import Jobs, Request

if TYPE_CHECKING:
    from eessi_bot.commands.registry import Registry


@dataclass(frozen=True)
class Reply:
    """A command's result text for the response comment.

    `answer` is True when the text is what the commenter asked for (help, tables, errors, "nothing
    happened, because ..."): shown at every chatlevel. False marks a mere acknowledgement.
    """

    text: str
    answer: bool = True


class CommandError(Exception):
    """A failure the commenter can act on; its message goes to the PR as is."""


@dataclass(frozen=True)
class CommandContext:
    config: Config
    registry: Registry
    request: Request
    jobs: Jobs
