"""`bot: status [last_build]`: this instance's jobs of the PR, from the database."""

from __future__ import annotations

from eessi_bot.commands.context import CommandContext, Reply
from eessi_bot.commands.registry import CommandSpec
from eessi_bot.core.arguments import Arguments
from eessi_bot.core.markdown import indented
from eessi_bot.core.status_table import latest_per_target, render_status

LAST_BUILD = "last_build"


def handle(ctx: CommandContext, args: Arguments) -> Reply:
    views = ctx.jobs.for_pr(ctx.request.repo, ctx.request.number)
    if not views:
        return Reply(f"\n  - instance `{ctx.config.instance}` has no jobs for this PR")
    if LAST_BUILD in args.words:
        views = latest_per_target(views)
    return Reply(indented(["", *render_status(views)]))


SPEC = CommandSpec(
    name="status",
    summary="show this instance's jobs for the PR with their state, result and commit; `last_build` keeps "
            "the newest per architecture and repository",
    usage="[last_build]",
    example="bot: status last_build",
    handler=handle,
    words=frozenset({LAST_BUILD}),
)
