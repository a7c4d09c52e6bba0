"""The command registry: every command has help and an example that parses and is accepted."""

from __future__ import annotations

from typing import List

import pytest

from eessi_bot.commands import default_registry
from eessi_bot.commands.context import CommandContext, Reply
from eessi_bot.commands.registry import AnySpec, CommandSpec, Registry
from eessi_bot.core.arguments import ArgumentError, ArgumentItems, parse_arguments
from eessi_bot.core.command_text import find_commands

SPECS = default_registry().specs


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_every_command_has_help_and_a_working_example(spec: AnySpec) -> None:
    assert spec.summary and not spec.summary.endswith(".")
    (line,) = find_commands(spec.example)
    assert line.name == spec.name
    spec.parse(parse_arguments(line.args))


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_every_command_takes_instance(spec: AnySpec) -> None:
    """`instance:` decides which instances answer; no command may refuse it."""
    (line,) = find_commands(spec.example + " instance:test-bot")
    assert spec.parse(parse_arguments(line.args)) == spec.parse(parse_arguments(find_commands(spec.example)[0].args))


def test_names_are_unique() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        Registry([SPECS[0], SPECS[0]])


def test_parse_refuses_what_a_command_does_not_take() -> None:
    show_config = default_registry().get("show_config")
    assert show_config is not None
    with pytest.raises(ArgumentError, match="does not take `last_build`"):
        show_config.parse(parse_arguments(("last_build",)))


def test_a_refused_command_never_reaches_its_handler() -> None:
    """A malformed command is answered with what is wrong with it, before anything is asked of the
    commenter's permissions or of the jobs (handlers only ever see their own, accepted, arguments)."""
    handled: List[str] = []

    def parse(items: ArgumentItems) -> str:
        if items.words:
            raise ArgumentError("no words, please")
        return "parsed"

    def handler(ctx: CommandContext, args: str) -> Reply:
        handled.append(args)
        return Reply(())

    spec = CommandSpec(name="probe", summary="s", usage="", example="bot: probe", parse=parse, handler=handler)
    with pytest.raises(ArgumentError, match="no words"):
        spec.run(None, parse_arguments(("word",)))  # type: ignore[arg-type]
    assert handled == []
    spec.run(None, parse_arguments(()))  # type: ignore[arg-type]
    assert handled == ["parsed"]
