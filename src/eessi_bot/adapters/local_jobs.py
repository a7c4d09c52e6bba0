"""The `local` backend: each job is a detached local process (a `setsid` wrapper), held until released.

The wrapper (`data/local-job.sh`) writes its pid and start time, waits for a release file (the hold),
runs the job script with `SLURM_JOB_ID` set, and records the exit code and end state in files of the
job directory, so jobs outlive a restart of the bot and are taken up again from those files.
"""

from __future__ import annotations

import re
import subprocess
from importlib import resources
from pathlib import Path
from typing import Callable, Optional, Sequence

from eessi_bot.ports.scheduler import Submission, SubmitError

ID_FILE = "_bot_local.id"
PID_FILE = "_bot_local.pid"
LOG_FILE = "_bot_local.log"
"""The wrapper's own messages (the job's output goes to slurm-<ID>.out)."""
DEFAULT_TIME_LIMIT_SECONDS = 24 * 3600
_TIME = re.compile(r"^(\d+-\d+(:\d+){0,2}|\d+(:\d+){0,2})$")


def package_script(name: str) -> Path:
    """A script shipped in the package (`eessi_bot/data/...`)."""
    return Path(str(resources.files("eessi_bot") / "data" / name))


def time_limit_seconds(options: Sequence[str]) -> int:
    """Slurm's `--time`/`-t` in seconds (24 h if absent), so the local backend enforces the same limit.

    Formats as sbatch: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
    """
    value = None
    for index, option in enumerate(options):
        if option.startswith("--time="):
            value = option.split("=", 1)[1]
        elif option in ("--time", "-t") and index + 1 < len(options):
            value = options[index + 1]
        elif option.startswith("-t") and len(option) > 2:
            value = option[2:]
    if value is None:
        return DEFAULT_TIME_LIMIT_SECONDS
    if not _TIME.match(value):
        raise SubmitError(f"cannot understand the time limit {value!r}")
    days, _, rest = value.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:
        hours, minutes, seconds = ([*parts, 0, 0])[:3]
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    else:
        hours, (minutes, seconds) = 0, ([*parts, 0])[:2]
    return int(days or 0) * 86400 + hours * 3600 + minutes * 60 + seconds


class LocalScheduler:
    def __init__(self, allocate_id: Callable[[], str], wrapper: Optional[Path] = None) -> None:
        self.allocate_id = allocate_id
        self.wrapper = wrapper or package_script("local-job.sh")

    def submit(self, submission: Submission) -> str:
        limit = time_limit_seconds(submission.options)
        job_id = self.allocate_id()
        (submission.job_dir / ID_FILE).write_text(f"{job_id} {submission.marker}\n", encoding="utf-8")
        argv = ["setsid", "--fork", "bash", str(self.wrapper), str(submission.job_dir), job_id,
                str(submission.script), str(limit)]
        log_path = submission.job_dir / LOG_FILE
        try:
            with log_path.open("ab") as log:
                result = subprocess.run(argv, cwd=submission.job_dir, env=dict(submission.environment),
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SubmitError(f"cannot start the local job: {exc}") from exc
        if result.returncode != 0:
            raise SubmitError(f"cannot start the local job: {log_path.read_text(errors='replace')[-1000:]}")
        return job_id

    def find(self, submission: Submission) -> Optional[str]:
        """A job started before a crash left its id (and marker) in the job directory."""
        id_file = submission.job_dir / ID_FILE
        if not id_file.exists() or not (submission.job_dir / PID_FILE).exists():
            return None
        job_id, _, marker = id_file.read_text(encoding="utf-8").strip().partition(" ")
        return job_id if marker == submission.marker else None
