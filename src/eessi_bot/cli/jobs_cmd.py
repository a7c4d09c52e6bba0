"""`eessi-bot jobs [--pr N] [--repo OWNER/REPO] [--state STATE] [--json]`: this instance's jobs from its
database, oldest first.

The EESSI bot's admins pieced this together from `job_ids_dir`, `squeue` and the PR comments; the
database knows every job, its state, result and directory (also while the bot runs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional, TextIO

from eessi_bot.adapters.config_files import load_config_or_raise
from eessi_bot.cli import admin
from eessi_bot.core.jobs import JobState

EXIT_STATUS = """exit status:
  0  the jobs were listed (none may match)
  2  wrong invocation, unusable configuration or unreadable database"""


def run(config_path: Path, repo: Optional[str], pr_number: Optional[int], states: Optional[List[JobState]],
        as_json: bool, out: TextIO) -> int:
    config, _ = load_config_or_raise(config_path)
    with admin.job_store(config.bot.data_dir) as store:
        jobs = store.list(repo, pr_number, states)
    if as_json:
        json.dump([admin.job_record(job) for job in jobs], out, indent=2)
        out.write("\n")
    elif jobs:
        out.writelines(line + "\n" for line in admin.table(admin.JOB_HEADER, [admin.job_row(job) for job in jobs]))
    else:
        out.write(f"no jobs{_filters(repo, pr_number, states)} in the database of {config.bot.data_dir}\n")
    return 0


def _filters(repo: Optional[str], pr_number: Optional[int], states: Optional[List[JobState]]) -> str:
    """` of o/r#7 in state running`: what was asked for, in words."""
    words = ""
    if repo is not None:
        words += f" of {repo}" + (f"#{pr_number}" if pr_number is not None else "")
    elif pr_number is not None:
        words += f" of PR #{pr_number} (any repository)"
    if states is not None:
        words += " in state " + " or ".join(state.value for state in states)
    return words
