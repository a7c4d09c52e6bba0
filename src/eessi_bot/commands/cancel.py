"""`bot: cancel [JOB_ID ... | all]`: cancel this PR's queued or running jobs on this instance."""

from __future__ import annotations

from typing import List, Optional

from eessi_bot.commands.context import CommandContext, Reply
from eessi_bot.commands.registry import CommandSpec
from eessi_bot.core.arguments import ArgumentError, Arguments
from eessi_bot.core.markdown import code

ALL = "all"


def job_ids(args: Arguments) -> Optional[List[str]]:
    """The ids asked for, or None for all unfinished jobs (`all`, or no argument)."""
    ids = [*args.jobs, *(w for w in args.words if w != ALL)]
    bad = [i for i in ids if not i.isdigit()]
    if bad:
        raise ArgumentError(f"{code(bad[0])} is not a job id; write job ids (numbers) or `all`")
    if ALL in args.words and ids:
        raise ArgumentError("write either job ids or `all`, not both")
    return ids or None


def handle(ctx: CommandContext, args: Arguments) -> Reply:
    sender = ctx.request.sender
    if not ctx.config.buildenv.build_permission.allows(sender):
        return Reply(f"\n  - account {code(sender)} has NO permission to cancel jobs")
    report = ctx.jobs.cancel(ctx.request.repo, ctx.request.number, job_ids(args), sender)
    lines = [f"\n  - cancelled job {code(j.job_id or '?')} on node type {code(j.node_type)} for repository "
             f"{code(j.repo_id)}" for j in report.cancelled]
    lines += [f"\n  - job {code(job_id)} {why}" for job_id, why in report.refused]
    if not lines:
        lines.append("\n  - nothing to cancel: this PR has no queued or running jobs on this instance")
    return Reply("".join(lines))


SPEC = CommandSpec(
    name="cancel",
    summary="cancel this PR's queued or running jobs on this instance (all of them, or the given job ids)",
    usage="[JOB_ID ... | all]",
    example="bot: cancel all",
    handler=handle,
    jobs=True,
    words=None,
)
