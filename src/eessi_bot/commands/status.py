"""`bot: status [last_build]`: this instance's jobs of the PR, from the database."""

from __future__ import annotations

from dataclasses import dataclass

from eessi_bot.commands.context import CommandContext, Reply
from eessi_bot.commands.registry import CommandSpec, take_only
from eessi_bot.core.arguments import WORD, ArgumentItems
from eessi_bot.core.markdown import code
from eessi_bot.core.response import BLANK, Item, Text
from eessi_bot.core.status_table import latest_per_target, render_status

NAME = "status"
USAGE = "[last_build]"
LAST_BUILD = "last_build"


@dataclass(frozen=True)
class StatusArgs:
    last_build: bool = False
    """Only the newest job per architecture, accelerator and repository."""


def parse(items: ArgumentItems) -> StatusArgs:
    take_only(items, NAME, USAGE, lambda given: given.kind == WORD and given.text == LAST_BUILD)
    return StatusArgs(last_build=bool(items.words))


def handle(ctx: CommandContext, args: StatusArgs) -> Reply:
    views = ctx.jobs.for_pr(ctx.request.repo, ctx.request.number)
    if not views:
        return Reply((Item(f"instance {code(ctx.config.instance)} has no jobs for this PR"),))
    if args.last_build:
        views = latest_per_target(views)
    # The blank line ends the result item's first line, so GitHub shows the table as a table.
    return Reply((BLANK, Text("\n".join(render_status(views)))))


SPEC = CommandSpec(
    name=NAME,
    summary="show this instance's jobs for the PR with their state, result and commit; `last_build` keeps "
            "the newest per architecture and repository",
    usage=USAGE,
    example="bot: status last_build",
    parse=parse,
    handler=handle,
)
