"""What the admin commands (`eessi-bot jobs`, `eessi-bot cleanup`) share: the bot's database opened
read-only, their argument types, and plain aligned tables.

The database is opened with `mode=ro`: never created, migrated or locked for writing. A WAL reader
neither waits for the bot's writes nor holds them up, so both commands work while the bot runs.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Union

from eessi_bot.adapters.sqlite.db import DB_NAME, Database
from eessi_bot.adapters.sqlite.jobs import JobStore
from eessi_bot.cli.errors import CliError
from eessi_bot.core.jobs import Job, JobState

_REPO = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)$")
JOB_HEADER = ("JOB ID", "STATE", "RESULT", "PR", "TARGET", "REPO ID", "JOB DIR")


class AdminError(CliError):
    """An admin command cannot do its work (no database, an ambiguous PR): one plain line, exit 2."""


@contextmanager
def job_store(data_dir: Path) -> Iterator[JobStore]:
    """The jobs of the database in `data_dir`, read-only; AdminError when it cannot be read."""
    path = data_dir / DB_NAME
    if not path.is_file():
        raise AdminError(f"no database at {path}: has the bot run with this configuration ([bot] data_dir)?")
    db = Database(path, read_only=True)
    try:
        problem = db.schema_problem()
        if problem is not None:
            raise AdminError(problem)
        yield JobStore(db)
    except sqlite3.Error as exc:
        raise AdminError(f"cannot read the database {path}: {exc}") from exc
    finally:
        db.close()


def repo_name(value: str) -> str:
    """`--repo OWNER/REPO` as GitHub spells repositories (it becomes part of paths)."""
    found = _REPO.match(value)
    if found is None or any(not part.strip(".") for part in found.groups()):
        raise argparse.ArgumentTypeError(f"'{value}' is not OWNER/REPO")
    return value


def pr_number(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a PR number")
    return int(value)


def job_states(value: str) -> List[JobState]:
    """`--state running` or `--state submitted,released` (the option may be repeated)."""
    known = {state.value: state for state in JobState}
    states = []
    for word in value.split(","):
        if word.strip() not in known:
            raise argparse.ArgumentTypeError(f"unknown state '{word.strip()}' (states: {', '.join(known)})")
        states.append(known[word.strip()])
    return states


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> List[str]:
    """Columns two spaces apart, each as wide as its widest cell; columns in `right` right-aligned."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return ["  ".join(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                      for i, cell in enumerate(row)).rstrip() for row in (header, *rows)]


def target(job: Job) -> str:
    return job.software_subdir + (f",accel={job.accelerator}" if job.accelerator else "")


def result(job: Job) -> str:
    """SUCCESS, FAILURE or UNKNOWN of a finished job, with Slurm's end state when it did not complete."""
    if job.state is not JobState.FINISHED:
        return "-"
    word = job.result_status or "UNKNOWN"
    return word + (f"({job.end_state})" if job.end_state and job.end_state != "COMPLETED" else "")


def job_row(job: Job) -> List[str]:
    """One line of the jobs table (JOB_HEADER)."""
    return [job.job_id or "-", job.state.value, result(job), f"{job.repo}#{job.pr_number}", target(job),
            job.repo_id, job.job_dir]


def job_record(job: Job) -> Dict[str, Union[str, int, None]]:
    """A job for `--json`."""
    return {
        "job_id": job.job_id, "state": job.state.value, "result": job.result_status,
        "test_result": job.test_status, "end_state": job.end_state, "exit_code": job.exit_code,
        "repo": job.repo, "pr_number": job.pr_number, "target": target(job),
        "software_subdir": job.software_subdir, "accelerator": job.accelerator, "repo_id": job.repo_id,
        "node_type": job.node_type, "backend": job.backend, "job_dir": job.job_dir, "symlink": job.symlink,
        "error": job.error, "cancelled_by": job.cancelled_by,
        "created_at": _iso(job.created_at), "updated_at": _iso(job.updated_at),
    }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")
