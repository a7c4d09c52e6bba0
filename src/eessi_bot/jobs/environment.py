"""The environment jobs get: named variables only, never the bot's secrets (App key, webhook secret,
tokens, AWS credentials), which an exported environment (sbatch's default) would hand to PR code.
The rules are in `eessi_bot.core.job_env`."""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

from eessi_bot.core.job_env import DEFAULT_PATTERNS, select


def job_environment(bot_environment: Mapping[str, str],
                    patterns: Sequence[str] = DEFAULT_PATTERNS) -> Dict[str, str]:
    """The fixed set plus what `patterns` (`[buildenv] job_environment`) name, secrets never."""
    return select(bot_environment, patterns)
