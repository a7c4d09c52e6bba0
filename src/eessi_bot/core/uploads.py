"""Deploy records as the bot keeps them: the `bot:deploy` label of a PR and one upload per
(job, artefact). The database is the truth of a deploy, never PR comments."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional


class UploadState(str, enum.Enum):
    PENDING = "pending"
    """Chosen for upload, not yet in the bucket (also while the object store is unreachable)."""
    UPLOADED = "uploaded"
    """Every object is in the bucket and the artefact was verified there."""
    NOT_UPLOADED = "not_uploaded"
    """Refused (a bad name, a link out of the job dir, the store said no, signing failed)."""
    SKIPPED = "skipped"
    """Left out by the upload policy (e.g. an older artefact under `latest`)."""
    STOPPED = "stopped"
    """The label was removed before the upload started."""


REPORTED = (UploadState.UPLOADED, UploadState.NOT_UPLOADED)
"""The states that add a row (`uploaded` / `not uploaded`) to the job's comment."""


@dataclass(frozen=True)
class DeployLabel:
    """`bot:deploy` is on the PR, set by `approved_by` (who has deploy permission)."""

    repo: str
    pr_number: int
    approved_by: str
    delivery_id: str
    since: float

    @property
    def deploy_key(self) -> str:
        """Keys the deploy's summary comment; a new label event is a new deploy."""
        return f"deploy:{self.repo}#{self.pr_number}:{self.delivery_id}"


@dataclass(frozen=True)
class Upload:
    key: str
    """`<job key>|<artefact>`: an artefact of a job is uploaded at most once."""
    job_key: str
    repo: str
    pr_number: int
    artefact: str
    repo_id: str
    arch: str
    accelerator: Optional[str]
    deploy_key: str
    approved_by: str
    state: UploadState = UploadState.PENDING
    reason: Optional[str] = None
    bucket: Optional[str] = None
    object_key: Optional[str] = None
    metadata_key: Optional[str] = None
    sha256: Optional[str] = None
    size: Optional[int] = None
    attempts: int = 0
    next_attempt_at: float = 0.0
    created_at: float = 0.0
    updated_at: float = 0.0


def upload_key(job_key: str, artefact: str) -> str:
    return f"{job_key}|{artefact}"
