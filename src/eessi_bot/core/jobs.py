"""A job as the bot keeps it: the database row is the truth, PR comments are rendered from it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Tuple

TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "CANCELLED", "NODE_FAIL",
                             "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT"})


@dataclass(frozen=True)
class Tracked:
    """A job the bot follows: its id and directory (the local backend reads its state from files there)."""

    job_id: str
    job_dir: Path


@dataclass(frozen=True)
class JobStatus:
    """What the batch system says about a job, in Slurm's words (the local backend uses them too)."""

    state: str
    """PENDING, RUNNING, COMPLETING, ..., or a terminal state (TERMINAL_STATES)."""
    reason: str = ""
    """Why a pending job waits (JobHeldUser, BeginTime, Priority, Resources, ...)."""
    held: bool = False
    """Waiting for the bot's release (hold_release)."""
    exit_code: Optional[str] = None
    """`code:signal` as Slurm shows it, when the job has ended and the scheduler knows it."""
    eligible_time: Optional[str] = None
    """When a delayed_begin job may start (Slurm's EligibleTime/StartTime), if known."""
    cluster: Optional[str] = None
    partition: Optional[str] = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


class JobState(str, enum.Enum):
    """Where a job is in its life. The first four happen while the command is handled."""

    PREPARING = "preparing"
    PREPARED = "prepared"
    SUBMITTING = "submitting"
    SUBMIT_FAILED = "submit_failed"
    SUBMITTED = "submitted"
    RELEASED = "released"
    RUNNING = "running"
    FINISHED = "finished"


FOLLOWED = (JobState.SUBMITTED, JobState.RELEASED, JobState.RUNNING)
"""Submitted and not finished: what the job manager follows and `bot: cancel` can cancel."""
UNFINISHED = (JobState.PREPARING, JobState.PREPARED, JobState.SUBMITTING, *FOLLOWED)
"""Everything before the end: a closed PR's directories wait for these."""


@dataclass(frozen=True)
class Row:
    """One row of the job comment's table: `|date|job status|comment|`."""

    date: str
    status: str
    comment: str


@dataclass(frozen=True)
class Job:
    key: str
    """`<delivery>:<line>:<node type>:<repo id>`: the same command re-processed finds its jobs again."""
    build_key: str
    repo: str
    pr_number: int
    node_type: str
    repo_id: str
    software_subdir: str
    accelerator: Optional[str]
    on_arch: str
    on_accelerator: Optional[str]
    job_dir: str
    backend: str
    comment_key: str
    state: JobState = JobState.PREPARING
    job_id: Optional[str] = None
    symlink: Optional[str] = None
    rows: Tuple[Row, ...] = field(default_factory=tuple)
    error: Optional[str] = None
    missing_polls: int = 0
    cancelled_by: Optional[str] = None
    end_state: Optional[str] = None
    exit_code: Optional[str] = None
    result_status: Optional[str] = None
    test_status: Optional[str] = None
    artefacts: Tuple[str, ...] = ()
    ending_since: Optional[float] = None
    """When the queue first showed the job ended while accounting did not know its end yet."""
    exports: Optional[Tuple[str, ...]] = None
    """The command's `exportvariable:`s (`NAME=value`), for a re-run; None for a job stored before they
    were kept (a re-run then reads its `cfg/export_vars.sh`)."""
    created_at: float = 0.0
    updated_at: float = 0.0

    def tracked(self) -> Tracked:
        assert self.job_id is not None
        return Tracked(self.job_id, Path(self.job_dir))

    def with_row(self, row: Row) -> Job:
        return replace(self, rows=(*self.rows, row))


@dataclass(frozen=True)
class Checkout:
    """What a build of a PR is made of; recorded with every job so a result can be traced to it."""

    url: str
    """Repository URL the mirror fetches from, as GitHub reports it (https, ssh or file)."""
    base_ref: str
    """Base branch name."""
    base_sha: str
    """Base branch tip that was fetched."""
    head_sha: str
    """PR head commit (pinned)."""
    merge_base: str
    """Merge base of base_sha and head_sha."""
    merged_tree: str
    """Tree id of base_sha plus the PR's changes (3-way merge), written into the mirror."""


@dataclass(frozen=True)
class BuildPin:
    """What one build command builds: recorded once, so re-processing builds the same commits."""

    key: str
    repo: str
    pr_number: int
    checkout: Checkout


@dataclass(frozen=True)
class JobView:
    """A job with what `bot: status` shows beside it."""

    job: Job
    head_sha: str
    comment_url: Optional[str]
    uploads: Tuple[str, ...] = ()
    """The states of the job's uploads (`core.uploads.UploadState` values), for the deploy column."""


@dataclass(frozen=True)
class CancelReport:
    cancelled: Tuple[Job, ...] = ()
    refused: Tuple[Tuple[str, str], ...] = ()
    """(job id, why it was not cancelled)."""
