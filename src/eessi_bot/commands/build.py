"""`bot: build for:arch=ARCH[,accel=ACCEL] [on:...] [repo:REPO] [exportvariable:NAME=VALUE]`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

from eessi_bot.commands.context import CommandContext, CommandError, Reply
from eessi_bot.commands.registry import CommandSpec, take_only
from eessi_bot.core.arguments import ACCEL, ARCH, EXPORT, FOR, ON, REPO, ArgumentError, ArgumentItems, BuildFor, Filter
from eessi_bot.core.build_report import BuildReport
from eessi_bot.core.markdown import code
from eessi_bot.core.response import Code, Item, Node, Verbatim
from eessi_bot.core.targets import TargetError, match_targets, offer

NAME = "build"
USAGE = "for:arch=ARCH[,accel=ACCEL] [on:arch=ARCH[,accel=ACCEL]] [repo:REPO] [exportvariable:NAME=VALUE]"
TAKES = (ON, FOR, ARCH, ACCEL, REPO, EXPORT)
NO_FOR = ("No 'for:' argument was passed to the bot:build command. This argument is required, so not "
          "submitting build jobs")


@dataclass(frozen=True)
class BuildArgs:
    """What `bot: build` asks for; `for_` is required (there is no sensible default architecture)."""

    for_: BuildFor
    on: Tuple[Filter, ...] = ()
    """Which node types may build it (`on:arch=...,accel=...`); empty: those matching `for_`."""
    filters: Tuple[Filter, ...] = ()
    """`repo:` (and the pre-v0.9 `arch:`/`accel:`) patterns every target must match as well."""
    exports: Tuple[str, ...] = ()
    """`NAME=value` for `cfg/export_vars.sh`, in order."""

    @property
    def node_filters(self) -> Tuple[Filter, ...]:
        """What a target must match: `on:` when given, else `for:` (a native build), plus the filters."""
        return (self.on or self.for_.filters()) + self.filters


def parse(items: ArgumentItems) -> BuildArgs:
    take_only(items, NAME, USAGE, lambda given: given.kind in TAKES)
    if items.for_ is None:
        raise ArgumentError(NO_FOR)
    return BuildArgs(for_=items.for_, on=items.on, filters=items.component_filters, exports=items.exports)


def handle(ctx: CommandContext, args: BuildArgs) -> Reply:
    sender = ctx.request.sender
    if not ctx.config.buildenv.build_permission.allows(sender):
        refusal = ctx.config.template("buildenv.no_build_permission_comment").format(build_labeler=sender)
        return Reply((Item(f"account {code(sender)} has NO permission to submit build jobs"), Item(refusal)))
    allowed = ctx.config.buildenv.allowed_exportvars
    refused = [e for e in args.exports if e not in allowed]
    if refused:
        offered = ", ".join(code(a) for a in allowed) or "none"
        raise CommandError(f"{code('exportvariable:' + refused[0])} is not allowed on this instance "
                           f"(allowed: {offered}); no jobs were submitted")
    try:
        match = match_targets(ctx.config, args.for_, args.node_filters)
    except TargetError as exc:
        raise CommandError(str(exc)) from exc
    if not match.targets:
        return Reply((
            Item("no jobs were submitted: no node type of this instance matches",
                 tuple(Item(reason) for reason in match.reasons)),
            Item("this instance builds on:", tuple(Item(line) for line in offer(ctx.config))),
        ), quiet=not ctx.addressed)
    return _reply(ctx.jobs.build(ctx.request, match.targets, args.exports))


def _reply(report: BuildReport) -> Reply:
    if report.download_error is not None:
        return Reply((Item("no jobs were submitted: the PR could not be prepared"), Verbatim(report.download_error)))
    nodes: List[Node] = []
    for job in report.submitted:
        accel = f", {job.accelerator}" if job.accelerator else ""
        nodes.append(Item(f"submitted job {code(job.job_id or '?')} on node type {code(job.node_type)} "
                          f"for {code(job.software_subdir + accel)} and repository {code(job.repo_id)}"))
    for target, message in report.failed:
        nodes.append(Item(f"submitting the job on node type {code(target.node.name)} for repository "
                          f"{code(target.repo_id)} failed:", (Code(message),)))
    return Reply(tuple(nodes), answer=bool(report.failed))


SPEC = CommandSpec(
    name=NAME,
    summary="build the PR on the node types of this instance that match; `for:` says what to build for, "
            "`on:` (optional) on which node type, `repo:` for which repository",
    usage=USAGE,
    example="bot: build for:arch=x86_64/amd/zen2",
    parse=parse,
    handler=handle,
)
