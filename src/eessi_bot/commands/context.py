"""What a command handler gets (the request and the bot's ports) and what it gives back."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional, Protocol, Sequence

from eessi_bot.core.arguments import Arguments
from eessi_bot.core.build_report import BuildReport
from eessi_bot.core.config import Config
from eessi_bot.core.jobs import CancelReport, JobView
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


class Jobs(Protocol):
    """This instance's jobs, as commands see them (`eessi_bot.jobs.service.JobService`)."""

    def build(self, request: Request, args: Arguments, targets: Sequence[Target]) -> BuildReport:
        """Prepare and submit the jobs of a build command."""
        ...

    def for_pr(self, repo: str, pr_number: int) -> List[JobView]: ...

    def cancel(self, repo: str, pr_number: int, job_ids: Optional[Sequence[str]], sender: str) -> CancelReport:
        """Cancel the PR's unfinished jobs (all of them when `job_ids` is None)."""
        ...

    def close_pr(self, repo: str, pr_number: int, delivery_id: str, merged: bool, sender: str) -> CancelReport:
        """The PR was closed: its directories go to the trash when its jobs are done (cancelled first
        with `[clean_up] cancel_on_close`)."""
        ...

    def reopen_pr(self, repo: str, pr_number: int) -> None: ...

    def abandon(self, delivery_id: str) -> None:
        """The delivery will not be tried again: its jobs that never got submitted are marked failed."""
        ...


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
    jobs: Optional[Jobs] = None
