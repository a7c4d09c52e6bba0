"""What the bot needs from a batch system (Slurm, or local processes) to submit a job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Protocol, Tuple


@dataclass(frozen=True)
class Submission:
    job_dir: Path
    script: Path
    name: str
    """`[buildenv] job_name`: all jobs of an instance share it (`squeue --name`)."""
    marker: str
    """The job's idempotency key, stored with the job (`sbatch --comment`) so that a submission
    whose answer was lost (a crash right after sbatch) is found instead of repeated."""
    options: Tuple[str, ...]
    """sbatch options: the site's `slurm_params`, the time limit, the node type's `slurm_params`."""
    hold: bool
    """hold_release: the job waits until the bot releases it."""
    begin_delay: Optional[int]
    """delayed_begin: seconds until the job may start (instead of a hold)."""
    environment: Mapping[str, str]
    """The job's whole environment: explicit and minimal, never the bot's secrets."""


class SubmitError(Exception):
    """The batch system refused the job; the message (e.g. sbatch's stderr) is shown on the PR."""


class Scheduler(Protocol):
    def submit(self, submission: Submission) -> str:
        """Submit; returns the job id. Raises SubmitError."""
        ...

    def find(self, submission: Submission) -> Optional[str]:
        """The id of an earlier submission of this job (same marker) that the scheduler still knows."""
        ...
