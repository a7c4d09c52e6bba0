"""Configuration: the EESSI bot's `app.cfg`, parsed once into frozen dataclasses.

`parse_config` is pure (text in, typed config plus problems out); reading files and checking the
file system happen in `eessi_bot.adapters.config_files`.
"""

from eessi_bot.core.config.model import (
    ChatLevel,
    Config,
    NodeType,
    Permission,
    RepoDefinition,
)
from eessi_bot.core.config.parse import parse_config
from eessi_bot.core.config.problems import ConfigError, Problem, Severity

__all__ = [
    "ChatLevel",
    "Config",
    "ConfigError",
    "NodeType",
    "Permission",
    "Problem",
    "RepoDefinition",
    "Severity",
    "parse_config",
]
