"""`bot: help [COMMAND]`: how to talk to the bot, generated from the command registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

from eessi_bot.commands.context import CommandContext, CommandError, Reply
from eessi_bot.commands.registry import AnySpec, CommandSpec, Registry, take_only
from eessi_bot.core.arguments import WORD, ArgumentItems
from eessi_bot.core.markdown import code
from eessi_bot.core.response import BLANK, Item, Node, Text

NAME = "help"
USAGE = "[COMMAND]"
DOCS_URL = "https://www.eessi.io/docs/bot"


@dataclass(frozen=True)
class HelpArgs:
    commands: Tuple[str, ...]
    """The commands to explain; none: explain how to talk to the bot and list every command."""


def parse(items: ArgumentItems) -> HelpArgs:
    take_only(items, NAME, USAGE, lambda given: given.kind == WORD)
    return HelpArgs(commands=items.words)


def overview(registry: Registry, instance: str) -> Tuple[Node, ...]:
    names = ", ".join(code(spec.name) for spec in registry.specs)
    nodes: List[Node] = [
        Text("**How to send commands to bot instances**"),
        Item("Commands must be sent with a **new** comment (edits of existing comments are ignored)."),
        Item("A comment may contain multiple commands, one per line."),
        Item("Every command begins at the start of a line and has the syntax `bot: COMMAND [ARGUMENTS]*`; "
             "lines in code blocks, quotes and HTML comments are not commands."),
        Item(f"Add `instance:NAME` to a command to address only the bot instances whose name matches "
             f"`NAME` (this one is {code(instance)})."),
        Item(f"Currently supported COMMANDs are: {names}"),
        BLANK,
    ]
    nodes += [Item(f"{code(spec.synopsis)}: {spec.summary}") for spec in registry.specs]
    nodes += [BLANK, Text(f"For more information, see {DOCS_URL}")]
    return tuple(nodes)


def command_help(spec: AnySpec) -> Tuple[Node, ...]:
    return Text(f"{code(spec.synopsis)}: {spec.summary}"), Item(f"example: {code(spec.example)}")


def handle(ctx: CommandContext, args: HelpArgs) -> Reply:
    if not args.commands:
        return Reply(overview(ctx.registry, ctx.config.instance))
    nodes: List[Node] = []
    for name in args.commands:
        spec = ctx.registry.get(name)
        if spec is None:
            raise CommandError(ctx.registry.unknown_message(name))
        nodes += command_help(spec)
    return Reply(tuple(nodes))


SPEC = CommandSpec(
    name=NAME,
    summary="show how to send commands and which commands this bot understands",
    usage=USAGE,
    example="bot: help build",
    parse=parse,
    handler=handle,
)
