"""`bot: cancel [JOB_ID ... | all]`: cancel this PR's queued or running jobs on this instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from eessi_bot.commands.context import CommandContext, Reply
from eessi_bot.commands.registry import CommandSpec, take_only
from eessi_bot.core.arguments import JOB, WORD, ArgumentError, ArgumentItems
from eessi_bot.core.markdown import code
from eessi_bot.core.response import Item, Node

NAME = "cancel"
USAGE = "[JOB_ID ... | all]"
ALL = "all"


@dataclass(frozen=True)
class CancelArgs:
    job_ids: Optional[Tuple[str, ...]] = None
    """The ids asked for (numbers); None: all of the PR's unfinished jobs (`all`, or no argument)."""


def parse(items: ArgumentItems) -> CancelArgs:
    take_only(items, NAME, USAGE, lambda given: given.kind in (JOB, WORD))
    ids = (*items.jobs, *(w for w in items.words if w != ALL))
    bad = [i for i in ids if not i.isdigit()]
    if bad:
        raise ArgumentError(f"{code(bad[0])} is not a job id; write job ids (numbers) or `all`")
    if ALL in items.words and ids:
        raise ArgumentError("write either job ids or `all`, not both")
    return CancelArgs(job_ids=ids or None)


def handle(ctx: CommandContext, args: CancelArgs) -> Reply:
    sender = ctx.request.sender
    if not ctx.config.buildenv.build_permission.allows(sender):
        return Reply((Item(f"account {code(sender)} has NO permission to cancel jobs"),))
    report = ctx.jobs.cancel(ctx.request.repo, ctx.request.number, args.job_ids, sender)
    nodes: List[Node] = [Item(f"cancelled job {code(j.job_id or '?')} on node type {code(j.node_type)} for "
                              f"repository {code(j.repo_id)}") for j in report.cancelled]
    nodes += [Item(f"job {code(job_id)} {why}") for job_id, why in report.refused]
    if not nodes:
        nodes.append(Item("nothing to cancel: this PR has no queued or running jobs on this instance"))
    return Reply(tuple(nodes))


SPEC = CommandSpec(
    name=NAME,
    summary="cancel this PR's queued or running jobs on this instance (all of them, or the given job ids)",
    usage=USAGE,
    example="bot: cancel all",
    parse=parse,
    handler=handle,
)
