"""Durable state as a port: the inbox of deliveries, the outbox of GitHub writes, the jobs, and a
unit of work that saves several of them together.

Exactly-once rests on that unit of work: a job's new row and its re-rendered comment, or a
delivery's end and the writes it wants, are committed together or not at all. The caller decides
and renders (`with store.transaction() as tx: tx.save_job(job); tx.put(effects)`); the store only
stores. SQLite implements it for the bot (`eessi_bot.adapters.sqlite`), an in-memory store for
tests (`tests/fakes/memory_store.py`); one contract test runs against both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ContextManager, Dict, List, Optional, Protocol, Sequence, Tuple

from eessi_bot.core.effects import Effects
from eessi_bot.core.jobs import BuildPin, Job, JobState
from eessi_bot.core.uploads import DeployLabel, Upload
from eessi_bot.core.webhook import Delivery

COMMENT = "comment"
REACTION = "reaction"
"""The kinds of outbox items."""


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker took from the inbox; `attempts` counts this one."""

    delivery: Delivery
    attempts: int
    received_at: float


@dataclass(frozen=True)
class DeliveryRecord:
    """What became of a delivery (for `replay`, `demo`, `try` and tests)."""

    id: str
    event: str
    action: Optional[str]
    state: str
    """`pending`, `processing`, `done` or `failed`."""
    attempts: int
    outcome: Optional[str]


@dataclass(frozen=True)
class OutboxItem:
    """One GitHub write. A comment's `body` is what it should show now (version `version`)."""

    key: str
    kind: str
    repo: str
    issue_number: Optional[int]
    target_id: Optional[int]
    body: str
    version: int
    result_id: Optional[int]
    result_url: Optional[str]
    in_flight: bool
    attempts: int
    delivery_id: Optional[str]


@dataclass(frozen=True)
class ClosedPr:
    """A closed PR whose job directories still wait for the trash."""

    repo: str
    number: int
    delivery_id: str


class InboxStore(Protocol):
    """Verified deliveries, `pending` until a worker claims them (`processing`), then `done` or `failed`."""

    def store(self, delivery: Delivery, now: float) -> bool:
        """Store a verified delivery; False when its id was seen before (then nothing changes)."""
        ...

    def claim(self, worker: str, now: float) -> Optional[Claimed]:
        """The oldest ready delivery of a subject (PR) with no earlier delivery still to finish:
        deliveries of one PR run one at a time and in order, also while an earlier one waits for a retry."""
        ...

    def retry(self, delivery_id: str, reason: str, at: float) -> None: ...

    def fail(self, delivery_id: str, reason: str, now: float) -> None: ...

    def requeue_unfinished(self) -> int:
        """At start-up: deliveries a previous process was working on are pending again."""
        ...

    def next_ready_at(self) -> Optional[float]: ...

    def counts(self) -> Dict[str, int]:
        """Deliveries by state (the `/healthz` JSON)."""
        ...

    def prune(self, before: float) -> int:
        """Forget handled deliveries that finished before `before` (their ids may then come again)."""
        ...

    def get(self, delivery_id: str) -> Optional[DeliveryRecord]: ...

    def prunable(self, before: float) -> int:
        """How many deliveries `prune(before)` would forget (`eessi-bot gc --dry-run`; changes nothing)."""
        ...


class OutboxStore(Protocol):
    """GitHub writes, keyed for idempotency; a comment's body versions coalesce into one edit."""

    def due(self, now: float, limit: int = 50) -> List[OutboxItem]:
        """Writes due by `now`, the longest-waiting first."""
        ...

    def next_due_at(self) -> Optional[float]: ...

    def get(self, key: str) -> Optional[OutboxItem]: ...

    def mark_in_flight(self, key: str, now: float) -> None:
        """Before a POST: if the bot dies now, the next attempt must look for the comment first."""
        ...

    def record_created(self, key: str, comment_id: int, url: str, version: int, now: float) -> None: ...

    def record_adopted(self, key: str, comment_id: int, url: str, now: float) -> None:
        """The comment of an uncertain POST was found: keep it, still edit it to the latest body."""
        ...

    def record_done(self, key: str, version: int, now: float) -> None: ...

    def record_lost(self, key: str, now: float) -> None:
        """The comment being edited was deleted on GitHub: create it again."""
        ...

    def record_retry(self, key: str, error: str, at: float, now: float, refused: bool = False) -> None:
        """Try again at `at`. `refused`: GitHub said no (a rate limit), so nothing was written: not
        counted as an attempt, and no POST is in doubt."""
        ...

    def record_failed(self, key: str, error: str, now: float) -> None:
        """Given up. `in_flight` stays: should a new body revive the row, it looks for its comment first."""
        ...

    def comment_url(self, key: str) -> Optional[str]:
        """The URL of the comment written for `key`, once GitHub made it."""
        ...

    def counts(self) -> Dict[str, int]:
        """`pending`, `sent` and `failed` writes (the `/healthz` JSON)."""
        ...


class JobStore(Protocol):
    """Build pins, jobs and closed PRs. Job rows change through `Transaction.save_job`; the few
    writes here touch what a save leaves alone (see each)."""

    def pin(self, key: str) -> Optional[BuildPin]: ...

    def save_pin(self, pin: BuildPin, now: float) -> None:
        """The first pin of a command wins; a retried command keeps building what it pinned."""
        ...

    def get(self, key: str) -> Optional[Job]: ...

    def with_job_id(self, backend: str, job_id: str) -> Optional[Job]:
        """The job the batch system knows as `job_id` (adoption must not take a job twice)."""
        ...

    def active(self, backend: str) -> List[Job]:
        """Jobs the manager follows (submitted, not finished), oldest first."""
        ...

    def for_pr(self, repo: str, pr_number: int) -> List[Job]: ...

    def list(self, repo: Optional[str] = None, pr_number: Optional[int] = None,
             states: Optional[Sequence[JobState]] = None) -> List[Job]:
        """Jobs that match every filter given (None: any; an empty `states` matches nothing), oldest
        first: what `eessi-bot jobs` shows and `eessi-bot cleanup` checks."""
        ...

    def unfinished_for_pr(self, repo: str, pr_number: int) -> int: ...

    def comment_ids(self) -> List[Tuple[Job, int]]:
        """Jobs whose comment now exists on GitHub but whose metadata file does not name it yet."""
        ...

    def set_metadata_comment_id(self, key: str, comment_id: int) -> None: ...

    def set_cancelled_by(self, key: str, sender: str, now: float) -> None:
        """`bot: cancel` marks a job while the manager may be saving it; a save never changes this field."""
        ...

    def abandon(self, delivery_id: str, reason: str, now: float) -> int:
        """Jobs of a delivery given up for good that never got submitted become `submit_failed`."""
        ...

    def close_pr(self, repo: str, pr_number: int, delivery_id: str, merged: bool, sender: str, now: float) -> None:
        """Remember a closed PR until its job directories are in the trash (a re-close starts again)."""
        ...

    def reopen_pr(self, repo: str, pr_number: int) -> None: ...

    def closed_pending(self) -> List[ClosedPr]: ...

    def counts(self) -> Dict[str, int]:
        """Jobs by state (metrics)."""
        ...

    def next_local_id(self, now: float) -> str:
        """Job ids of the local backend: unique per instance, never reused."""
        ...

    def prunable(self, before: float) -> int:
        """How many jobs `Transaction.prune_jobs(before)` would forget (`eessi-bot gc --dry-run`; changes
        nothing)."""
        ...


class UploadStore(Protocol):
    """The `bot:deploy` labels of PRs and the uploads of their artefacts."""

    def label(self, repo: str, pr_number: int) -> Optional[DeployLabel]: ...

    def labels(self) -> List[DeployLabel]:
        """PRs that carry the label now, oldest first."""
        ...

    def set_label(self, label: DeployLabel) -> None: ...

    def clear_label(self, repo: str, pr_number: int) -> None: ...

    def get(self, key: str) -> Optional[Upload]: ...

    def for_pr(self, repo: str, pr_number: int) -> List[Upload]: ...

    def due(self, now: float, limit: int = 10) -> List[Upload]:
        """Pending uploads whose next attempt is due, the longest-waiting first."""
        ...

    def next_due_at(self) -> Optional[float]: ...


class Transaction(Protocol):
    """One unit of work: what is saved through it is committed together when the block ends, or,
    if the block raises, not at all."""

    def save_job(self, job: Job, now: float) -> None:
        """Insert or update the job's row (never its `cancelled_by`, see `JobStore.set_cancelled_by`)."""
        ...

    def jobs_of_build(self, build_key: str) -> List[Job]:
        """The jobs of one command as they stand inside this transaction (for its summary comment)."""
        ...

    def put(self, effects: Effects, now: float, delivery_id: Optional[str] = None) -> None:
        """Store GitHub writes. A comment key seen before gets the new body (only if it differs);
        a reaction key seen before changes nothing."""
        ...

    def finish_delivery(self, delivery_id: str, outcome: str, now: float) -> None:
        """Mark a claimed delivery done."""
        ...

    def adopt_comment(self, key: str, repo: str, issue_number: int, comment_id: int, body: str, now: float) -> None:
        """Take over an existing comment (the EESSI bot's job comment) as the one written for `key`,
        with `body` as what it shows now: later bodies edit it; nothing is posted or edited now."""
        ...

    def closed_done(self, repo: str, pr_number: int, now: float) -> None:
        """A closed PR's directories are in the trash (stored with the comment that says so)."""
        ...

    def save_upload(self, upload: Upload, now: float) -> None:
        """Insert or update an upload (with the job row and comments its progress changes)."""
        ...

    def uploads_of_deploy(self, deploy_key: str) -> List[Upload]:
        """The uploads of one deploy as they stand inside this transaction (for its summary comment)."""
        ...

    def prune_jobs(self, before: float) -> int:
        """Forget finished jobs last changed before `before`, with their sent comments and pins."""
        ...


class Store(Protocol):
    @property
    def inbox(self) -> InboxStore: ...

    @property
    def outbox(self) -> OutboxStore: ...

    @property
    def jobs(self) -> JobStore: ...

    @property
    def uploads(self) -> UploadStore: ...

    @property
    def overview(self) -> OverviewStore: ...

    def transaction(self) -> ContextManager[Transaction]: ...

    def get_meta(self, key: str) -> Optional[str]:
        """A small remembered value (e.g. the App's slug)."""
        ...

    def set_meta(self, key: str, value: str) -> None: ...


@dataclass(frozen=True)
class DeliverySummary:
    """A delivery as the status page lists it (never its body)."""

    id: str
    event: str
    action: Optional[str]
    subject: Optional[str]
    """`owner/repo#N`, for deliveries about one PR."""
    state: str
    attempts: int
    outcome: Optional[str]
    received_at: float
    finished_at: Optional[float]


class OverviewStore(Protocol):
    """Read-only questions of the status page and `/metrics`: each reads an index or a bounded number of
    rows, since they are asked on every scrape and page view."""

    def oldest_pending_delivery(self) -> Optional[float]:
        """When the oldest delivery not yet handled (pending or processing) was received."""
        ...

    def oldest_pending_write(self) -> Optional[float]:
        """Since when the oldest unsent write waits: a write never sent since it was queued, an edit
        since its body or its last attempt changed (a lower bound of its wait)."""
        ...

    def recent_deliveries(self, limit: int, subject: Optional[str] = None) -> List[DeliverySummary]:
        """The newest deliveries first, all or those of one `owner/repo#N`."""
        ...

    def recent_jobs(self, limit: int) -> List[Job]:
        """The jobs changed last, newest first."""
        ...

    def job_counts(self) -> Dict[Tuple[str, str], int]:
        """Jobs by (state, node type)."""
        ...

    def upload_counts(self) -> Dict[str, int]:
        """Uploads by state."""
        ...

    def delivery_state(self, delivery_id: str) -> Optional[str]:
        """A delivery's state alone (counting outcomes must not read its body)."""
        ...
