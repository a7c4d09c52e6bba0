"""`bot: show_config`: the node types this instance builds on (the EESSI bot's text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

from eessi_bot.commands.context import CommandContext, Reply
from eessi_bot.commands.registry import CommandSpec, take_only
from eessi_bot.core.arguments import ArgumentItems
from eessi_bot.core.config import Config
from eessi_bot.core.markdown import code
from eessi_bot.core.response import BLANK, Item, Node, Text

NAME = "show_config"
USAGE = ""


@dataclass(frozen=True)
class ShowConfigArgs:
    """`show_config` takes no arguments (but `instance:`, as every command)."""


def parse(items: ArgumentItems) -> ShowConfigArgs:
    take_only(items, NAME, USAGE, lambda given: False)
    return ShowConfigArgs()


def node_types(config: Config) -> Tuple[Node, ...]:
    """Also posted when a PR is opened (at chatlevel chatty)."""
    nodes: List[Node] = [Text(f"Instance {code(config.instance)} is configured to build on:")]
    for number, node in enumerate(config.node_types):
        details = [
            Item(f"OS: {code(node.os)}"),
            Item(f"CPU architecture: {code(node.cpu_subdir)}"),
            Item(f"Repositories: {code(str(list(node.repo_targets)))}"),
        ]
        if node.accel is not None:
            details.append(Item(f"Accelerators: {code(node.accel)}"))
        if number:
            nodes.append(BLANK)
        nodes.append(Item(f"Node type {code(node.name)}:", tuple(details)))
    return tuple(nodes)


def handle(ctx: CommandContext, args: ShowConfigArgs) -> Reply:
    return Reply(node_types(ctx.config))


SPEC = CommandSpec(
    name=NAME,
    summary="show the node types this instance builds on, with their architectures and repositories",
    usage=USAGE,
    example="bot: show_config",
    parse=parse,
    handler=handle,
)
