"""Where a job lives: `jobs_base_dir/YYYY.MM/OWNER/REPO/pr_N/event_DELIVERY/run_LINE/...`.

The layout of the EESSI bot (reference §1.4), keyed by owner/repo as well as PR number (the EESSI bot
mixed up PRs of different repositories), and deterministic for (delivery, command line, target): a
command processed again after a crash finds its directories again; a new command gets new ones.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import List

from eessi_bot.core.targets import Target

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")

ENDED_DIR = ".ended"
"""`jobs_base_dir/.ended/<instance>`: where jobs drop their end marker for the job manager
(`jobs/end_markers.py`); one directory per instance (`[github] app_name`), since instances may share
`jobs_base_dir` and each removes the markers that are not its jobs'."""
END_DIR_FILE = "end_dir"
"""`cfg/end_dir` of a job directory: one line, the absolute path of the directory the job writes its marker to."""


def _segment(value: str) -> str:
    """A single, harmless path segment (never `.` or `..`)."""
    safe = _UNSAFE.sub("_", value)
    return safe if safe.strip(".") else safe.replace(".", "_")


def pr_dir(jobs_base_dir: Path, repo: str, pr_number: int, received_at: float) -> Path:
    month = datetime.fromtimestamp(received_at, tz=timezone.utc).strftime("%Y.%m")
    owner, _, name = repo.partition("/")
    return jobs_base_dir / month / _segment(owner) / _segment(name) / f"pr_{pr_number}"


def pr_dirs(jobs_base_dir: Path, repo: str, pr_number: int) -> List[Path]:
    """The existing `pr_N` directories of `repo`'s PR, in every month."""
    owner, _, name = repo.partition("/")
    pattern = f"[0-9][0-9][0-9][0-9].[0-9][0-9]/{_segment(owner)}/{_segment(name)}/pr_{pr_number}"
    return sorted(p for p in jobs_base_dir.glob(pattern) if p.is_dir() and not p.is_symlink())


def run_dir(pr: Path, delivery_id: str, line: int) -> Path:
    return pr / f"event_{_segment(delivery_id)}" / f"run_{line:03d}"


def job_dir(run: Path, target: Target) -> Path:
    """`<software_subdir>[/<accelerator>]/<node type>/<repo id>` below the run directory.

    The node type is part of the path: two node types building for the same architecture and
    repository (cross-builds) shared one directory in the EESSI bot and broke each other.
    """
    path = run
    for part in target.software_subdir.split("/"):
        path = path / _segment(part)
    if target.accelerator:
        for part in target.accelerator.split("/"):
            path = path / _segment(part)
    return path / _segment(target.node.name) / _segment(target.repo_id)


def ended_dir(jobs_base_dir: Path, instance: str) -> Path:
    """The one directory of this instance's end markers. It lies on the file system that the compute
    nodes share with the login node, as the job directories do: the job writes, the bot lists."""
    return jobs_base_dir.absolute() / ENDED_DIR / _segment(instance)
