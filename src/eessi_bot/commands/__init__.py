"""Bot commands, one module each; `default_registry` lists them (explicitly, in help order)."""

from __future__ import annotations

from eessi_bot.commands import build, cancel, show_config, status
from eessi_bot.commands import help as help_command
from eessi_bot.commands.registry import Registry


def default_registry() -> Registry:
    return Registry([help_command.SPEC, show_config.SPEC, build.SPEC, status.SPEC, cancel.SPEC])
