"""What the bot needs from a batch system (Slurm, or local processes): submit, follow, release, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Protocol, Sequence, Tuple

from eessi_bot.core.jobs import TERMINAL_STATES, JobStatus, Tracked

__all__ = [
    "TERMINAL_STATES",
    "JobStatus",
    "Scheduler",
    "SchedulerUnavailable",
    "Submission",
    "SubmitError",
    "Tracked",
]


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


class SchedulerUnavailable(Exception):
    """The batch system did not answer (or answered nonsense): nothing may be concluded this time."""


class Scheduler(Protocol):
    def submit(self, submission: Submission) -> str:
        """Submit; returns the job id. Raises SubmitError."""
        ...

    def find(self, submission: Submission) -> Optional[str]:
        """The id of an earlier submission of this job (same marker) that the scheduler still knows."""
        ...

    def poll(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        """The status of `jobs` in ONE query to the batch system (all jobs of this instance).

        A job the batch system does not know (any more) is absent from the answer. Raises
        SchedulerUnavailable when the batch system does not answer: an empty or failed answer is
        never taken to mean that jobs ended.
        """
        ...

    def end_states(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        """Final state and exit code of jobs that left the queue (Slurm: one sacct call). Jobs it
        cannot tell about are absent. Raises SchedulerUnavailable."""
        ...

    def release(self, job: Tracked) -> None:
        """End the hold of a job submitted held. Raises SchedulerUnavailable."""
        ...

    def cancel(self, job: Tracked) -> None:
        """Cancel a queued or running job. Raises SchedulerUnavailable."""
        ...
