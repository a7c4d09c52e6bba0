"""What a command handler gets (the request and the bot's ports) and what it gives back."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Protocol, Sequence

from eessi_bot.core.arguments import Arguments
from eessi_bot.core.build_report import BuildReport
from eessi_bot.core.config import Config
from eessi_bot.core.targets import Target
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.github import GitHub

if TYPE_CHECKING:
    from eessi_bot.commands.registry import Registry


@dataclass(frozen=True)
class Request:
    """Where a command came from. `line` and `comment_id` key its effects."""

    repo: str
    number: int
    sender: str
    comment_id: int
    comment_url: str
    delivery_id: str
    line: int
    received_at: float
    """When the delivery arrived (it dates the job directories, so a retry finds the same ones)."""


@dataclass(frozen=True)
class Reply:
    """A command's result text for the response comment.

    `answer` is True when the text is what the commenter asked for (help, tables, errors, "nothing
    happened, because ..."): shown at every chatlevel. False marks a mere acknowledgement.
    """

    text: str
    answer: bool = True


class Builder(Protocol):
    """Prepares and submits the jobs of a build command (`eessi_bot.jobs.build.BuildService`)."""

    def build(self, request: Request, args: Arguments, targets: Sequence[Target]) -> BuildReport: ...


class CommandError(Exception):
    """A failure the commenter can act on; its message goes to the PR as is."""


@dataclass(frozen=True)
class CommandContext:
    config: Config
    registry: Registry
    request: Request
    github: GitHub
    clock: Clock
    log: logging.LoggerAdapter  # type: ignore[type-arg]
    builder: Optional[Builder] = None
