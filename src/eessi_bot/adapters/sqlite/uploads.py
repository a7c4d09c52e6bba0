"""Deploy labels and uploads in SQLite (`ports.store.UploadStore`; an upload's progress is saved
through the store's transaction, with the job row and comments it changes)."""

from __future__ import annotations

import sqlite3
from typing import List, Optional

from eessi_bot.adapters.sqlite.db import Database
from eessi_bot.core.uploads import DeployLabel, Upload, UploadState

_COLUMNS = ("key", "job_key", "repo", "pr_number", "artefact", "repo_id", "arch", "accelerator", "deploy_key",
            "approved_by", "state", "reason", "bucket", "object_key", "metadata_key", "sha256", "size", "attempts",
            "next_attempt_at")


def save_upload(conn: sqlite3.Connection, upload: Upload, now: float) -> None:
    """Insert or update an upload inside the caller's transaction."""
    columns = ", ".join(_COLUMNS)
    marks = ", ".join("?" for _ in _COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "key")
    values = (upload.key, upload.job_key, upload.repo, upload.pr_number, upload.artefact, upload.repo_id, upload.arch,
              upload.accelerator, upload.deploy_key, upload.approved_by, upload.state.value, upload.reason,
              upload.bucket, upload.object_key, upload.metadata_key, upload.sha256, upload.size, upload.attempts,
              upload.next_attempt_at)
    conn.execute(
        f"INSERT INTO uploads ({columns}, created_at, updated_at) VALUES ({marks}, ?, ?) "  # noqa: S608
        f"ON CONFLICT (key) DO UPDATE SET {updates}, updated_at = excluded.updated_at", (*values, now, now))


def uploads_of_deploy(conn: sqlite3.Connection, deploy_key: str) -> List[Upload]:
    rows = conn.execute("SELECT * FROM uploads WHERE deploy_key = ? ORDER BY created_at, rowid", (deploy_key,))
    return [_upload(row) for row in rows]


def prune_uploads(conn: sqlite3.Connection, before: float) -> None:
    """Uploads of jobs no longer in the database (see `prune_jobs`), last changed before `before`."""
    conn.execute("DELETE FROM uploads WHERE updated_at < ? AND job_key NOT IN (SELECT key FROM jobs)", (before,))


class UploadStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def label(self, repo: str, pr_number: int) -> Optional[DeployLabel]:
        row = self.db.connection().execute("SELECT * FROM deploy_labels WHERE repo = ? AND pr_number = ?",
                                           (repo, pr_number)).fetchone()
        return None if row is None else _label(row)

    def labels(self) -> List[DeployLabel]:
        rows = self.db.connection().execute("SELECT * FROM deploy_labels ORDER BY since")
        return [_label(row) for row in rows]

    def set_label(self, label: DeployLabel) -> None:
        """The label is on; a later label event (after a removal) replaces the earlier one."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO deploy_labels (repo, pr_number, approved_by, delivery_id, since) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (repo, pr_number) DO UPDATE SET approved_by = excluded.approved_by, "
                "delivery_id = excluded.delivery_id, since = excluded.since",
                (label.repo, label.pr_number, label.approved_by, label.delivery_id, label.since))

    def clear_label(self, repo: str, pr_number: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM deploy_labels WHERE repo = ? AND pr_number = ?", (repo, pr_number))

    def get(self, key: str) -> Optional[Upload]:
        row = self.db.connection().execute("SELECT * FROM uploads WHERE key = ?", (key,)).fetchone()
        return None if row is None else _upload(row)

    def for_pr(self, repo: str, pr_number: int) -> List[Upload]:
        rows = self.db.connection().execute(
            "SELECT * FROM uploads WHERE repo = ? AND pr_number = ? ORDER BY created_at, rowid", (repo, pr_number))
        return [_upload(row) for row in rows]

    def due(self, now: float, limit: int = 10) -> List[Upload]:
        rows = self.db.connection().execute(
            "SELECT * FROM uploads WHERE state = 'pending' AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, created_at, rowid LIMIT ?", (now, limit))
        return [_upload(row) for row in rows]

    def next_due_at(self) -> Optional[float]:
        row = self.db.connection().execute(
            "SELECT MIN(next_attempt_at) FROM uploads WHERE state = 'pending'").fetchone()
        return None if row[0] is None else float(row[0])


def _label(row: sqlite3.Row) -> DeployLabel:
    return DeployLabel(repo=row["repo"], pr_number=row["pr_number"], approved_by=row["approved_by"],
                       delivery_id=row["delivery_id"], since=row["since"])


def _upload(row: sqlite3.Row) -> Upload:
    return Upload(
        key=row["key"], job_key=row["job_key"], repo=row["repo"], pr_number=row["pr_number"], artefact=row["artefact"],
        repo_id=row["repo_id"], arch=row["arch"], accelerator=row["accelerator"], deploy_key=row["deploy_key"],
        approved_by=row["approved_by"], state=UploadState(row["state"]), reason=row["reason"], bucket=row["bucket"],
        object_key=row["object_key"], metadata_key=row["metadata_key"], sha256=row["sha256"], size=row["size"],
        attempts=row["attempts"], next_attempt_at=row["next_attempt_at"], created_at=row["created_at"],
        updated_at=row["updated_at"])
