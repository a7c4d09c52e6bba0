"""The environment jobs get: named variables only, never the bot's secrets (App key, webhook secret,
tokens, AWS credentials), which an exported environment (sbatch's default) would hand to PR code."""

from __future__ import annotations

from typing import Dict, Mapping

PASSED = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def job_environment(bot_environment: Mapping[str, str]) -> Dict[str, str]:
    env = {name: bot_environment[name] for name in PASSED if bot_environment.get(name)}
    env.setdefault("PATH", DEFAULT_PATH)
    return env
