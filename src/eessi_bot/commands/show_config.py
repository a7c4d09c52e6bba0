"""`bot: show_config`: the node types this instance builds on (the EESSI bot's text)."""

from __future__ import annotations

from typing import List

from eessi_bot.commands.context import CommandContext, Reply
from eessi_bot.commands.registry import CommandSpec
from eessi_bot.core.arguments import Arguments
from eessi_bot.core.config import Config
from eessi_bot.core.markdown import code, indented


def node_types_lines(config: Config) -> List[str]:
    """Also posted when a PR is opened (at chatlevel chatty)."""
    lines: List[str] = [f"Instance {code(config.instance)} is configured to build on:"]
    for node in config.node_types:
        lines += [
            f"- Node type {code(node.name)}:",
            f"  - OS: {code(node.os)}",
            f"  - CPU architecture: {code(node.cpu_subdir)}",
            f"  - Repositories: {code(str(list(node.repo_targets)))}",
        ]
        if node.accel is not None:
            lines.append(f"  - Accelerators: {code(node.accel)}")
        lines.append("")
    return lines[:-1] if lines[-1] == "" else lines


def handle(ctx: CommandContext, args: Arguments) -> Reply:
    return Reply(indented(node_types_lines(ctx.config)))


SPEC = CommandSpec(
    name="show_config",
    summary="show the node types this instance builds on, with their architectures and repositories",
    usage="",
    example="bot: show_config",
    handler=handle,
)
