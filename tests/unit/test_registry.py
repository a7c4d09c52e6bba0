"""The command registry: every command has help and an example that parses and is accepted."""

from __future__ import annotations

import pytest

from eessi_bot.commands import default_registry
from eessi_bot.commands.registry import CommandSpec, Registry
from eessi_bot.core.arguments import ArgumentError, parse_arguments
from eessi_bot.core.command_text import find_commands

SPECS = default_registry().specs


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_every_command_has_help_and_a_working_example(spec: CommandSpec) -> None:
    assert spec.summary and not spec.summary.endswith(".")
    (line,) = find_commands(spec.example)
    assert line.name == spec.name
    spec.check(parse_arguments(line.args))


def test_names_are_unique() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        Registry([SPECS[0], SPECS[0]])


def test_check_refuses_what_a_command_does_not_take() -> None:
    show_config = default_registry().get("show_config")
    assert show_config is not None
    with pytest.raises(ArgumentError, match="does not take `last_build`"):
        show_config.check(parse_arguments(("last_build",)))
    show_config.check(parse_arguments(("instance:x",)))
