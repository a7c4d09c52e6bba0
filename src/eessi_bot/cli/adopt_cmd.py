"""`eessi-bot adopt [--dry-run]`: take over the jobs an EESSI bot left (see `jobs/adopt.py`).

`serve` and `job-manager` adopt at every start; this command shows (with `--dry-run`) or does it
without starting the bot, e.g. on switch day. Adopting twice adopts nothing new.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from eessi_bot.adapters.config_files import load_config_or_raise
from eessi_bot.adapters.github_app import GitHubApp
from eessi_bot.adapters.system_clock import SystemClock
from eessi_bot.cli.runtime import open_store
from eessi_bot.jobs.adopt import Adopter


def run(config_path: Path, dry_run: bool, out: TextIO) -> int:
    config, _ = load_config_or_raise(config_path)
    clock = SystemClock()
    github = GitHubApp(config.github, config.github.private_key.read_text(encoding="utf-8"), clock)
    store = open_store(config.bot.data_dir)
    try:
        report = Adopter(config, store, github, clock).adopt(dry_run=dry_run)
    finally:
        store.close()
    verb = "would adopt" if dry_run else "adopted"
    for job in report.adopted:
        out.write(f"{verb} job {job.job_id}: {job.repo}#{job.pr_number} {job.software_subdir} {job.repo_id} "
                  f"({job.state.value}) in {job.job_dir}\n")
    for job_id, why in report.skipped:
        out.write(f"not adopted: job {job_id}: {why}\n")
    out.write(f"{len(report.adopted)} job(s) {verb}, {len(report.skipped)} not adoptable "
              f"(from {config.job_manager.job_ids_dir})\n")
    return 0
