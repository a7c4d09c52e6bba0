"""`bot: help [COMMAND]`: how to talk to the bot, generated from the command registry."""

from __future__ import annotations

from eessi_bot.commands.context import CommandContext, CommandError, Reply
from eessi_bot.commands.registry import CommandSpec, Registry
from eessi_bot.core.arguments import Arguments
from eessi_bot.core.markdown import code, indented

DOCS_URL = "https://www.eessi.io/docs/bot"


def synopsis(spec: CommandSpec) -> str:
    return f"bot: {spec.name} {spec.usage}".strip()


def help_text(registry: Registry, instance: str) -> str:
    names = ", ".join(code(spec.name) for spec in registry.specs)
    lines = [
        "**How to send commands to bot instances**",
        "- Commands must be sent with a **new** comment (edits of existing comments are ignored).",
        "- A comment may contain multiple commands, one per line.",
        "- Every command begins at the start of a line and has the syntax `bot: COMMAND [ARGUMENTS]*`; "
        "lines in code blocks, quotes and HTML comments are not commands.",
        f"- Add `instance:NAME` to a command to address only the bot instances whose name matches "
        f"`NAME` (this one is {code(instance)}).",
        f"- Currently supported COMMANDs are: {names}",
        "",
    ]
    lines += [f"- {code(synopsis(spec))}: {spec.summary}" for spec in registry.specs]
    lines += ["", f"For more information, see {DOCS_URL}"]
    return indented(lines)


def command_help(spec: CommandSpec) -> str:
    return (f"\n  {code(synopsis(spec))}: {spec.summary}"
            f"\n  - example: {code(spec.example)}")


def handle(ctx: CommandContext, args: Arguments) -> Reply:
    if not args.words:
        return Reply(help_text(ctx.registry, ctx.config.instance))
    replies = []
    for word in args.words:
        spec = ctx.registry.get(word)
        if spec is None:
            raise CommandError(ctx.registry.unknown_message(word))
        replies.append(command_help(spec))
    return Reply("".join(replies))


SPEC = CommandSpec(
    name="help",
    summary="show how to send commands and which commands this bot understands",
    usage="[COMMAND]",
    example="bot: help build",
    handler=handle,
    words=None,
)
