"""A job as the bot keeps it: the database row is the truth, PR comments are rendered from it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Optional, Tuple


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

    def with_row(self, row: Row) -> Job:
        return replace(self, rows=(*self.rows, row))


@dataclass(frozen=True)
class BuildPin:
    """What one build command builds: recorded once, so re-processing builds the same commits."""

    key: str
    repo: str
    pr_number: int
    url: str
    base_ref: str
    base_sha: str
    head_sha: str
    merge_base: str
    merged_tree: str
