"""`bot: build for:arch=ARCH[,accel=ACCEL] [on:...] [repo:REPO] [exportvariable:NAME=VALUE]`."""

from __future__ import annotations

from typing import List

from eessi_bot.commands.context import CommandContext, CommandError, Reply
from eessi_bot.commands.registry import CommandSpec
from eessi_bot.core.arguments import ACCEL, ARCH, REPO, Arguments
from eessi_bot.core.build_report import BuildReport
from eessi_bot.core.markdown import code, fenced
from eessi_bot.core.targets import TargetError, match_targets, offer

NO_FOR = ("No 'for:' argument was passed to the bot:build command. This argument is required, so not "
          "submitting build jobs")


def handle(ctx: CommandContext, args: Arguments) -> Reply:
    if args.for_ is None:
        raise CommandError(NO_FOR)
    sender = ctx.request.sender
    if not ctx.config.buildenv.build_permission.allows(sender):
        refusal = ctx.config.template("buildenv.no_build_permission_comment").format(build_labeler=sender)
        return Reply(f"\n  - account {code(sender)} has NO permission to submit build jobs\n  - {refusal}")
    allowed = ctx.config.buildenv.allowed_exportvars
    refused = [e for e in args.exports if e not in allowed]
    if refused:
        offered = ", ".join(code(a) for a in allowed) or "none"
        raise CommandError(f"{code('exportvariable:' + refused[0])} is not allowed on this instance "
                           f"(allowed: {offered}); no jobs were submitted")
    try:
        match = match_targets(ctx.config, args)
    except TargetError as exc:
        raise CommandError(str(exc)) from exc
    if not match.targets:
        lines = ["\n  - no jobs were submitted: no node type of this instance matches"]
        lines += [f"\n    - {reason}" for reason in match.reasons]
        lines.append("\n  - this instance builds on:")
        lines += [f"\n    - {line}" for line in offer(ctx.config)]
        return Reply("".join(lines))
    return _reply(ctx.jobs.build(ctx.request, match.targets, args.exports))


def _reply(report: BuildReport) -> Reply:
    if report.download_error is not None:
        return Reply("\n  - no jobs were submitted: the PR could not be prepared\n\n" + report.download_error)
    lines: List[str] = []
    for job in report.submitted:
        accel = f", {job.accelerator}" if job.accelerator else ""
        lines.append(f"\n  - submitted job {code(job.job_id or '?')} on node type {code(job.node_type)} "
                     f"for {code(job.software_subdir + accel)} and repository {code(job.repo_id)}")
    for target, message in report.failed:
        lines.append(f"\n  - submitting the job on node type {code(target.node.name)} for repository "
                     f"{code(target.repo_id)} failed:\n\n{fenced(message, '    ')}\n")
    return Reply("".join(lines), answer=bool(report.failed))


SPEC = CommandSpec(
    name="build",
    summary="build the PR on the node types of this instance that match; `for:` says what to build for, "
            "`on:` (optional) on which node type, `repo:` for which repository",
    usage="for:arch=ARCH[,accel=ACCEL] [on:arch=ARCH[,accel=ACCEL]] [repo:REPO] [exportvariable:NAME=VALUE]",
    example="bot: build for:arch=x86_64/amd/zen2",
    handler=handle,
    on=True,
    for_=True,
    filter_components=frozenset({ARCH, ACCEL, REPO}),
    exports=True,
)
