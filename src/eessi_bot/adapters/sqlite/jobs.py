"""Jobs and build pins in SQLite."""

from __future__ import annotations

import json
import sqlite3
from typing import List, Optional

from eessi_bot.adapters.sqlite.db import Database
from eessi_bot.adapters.sqlite.outbox import store_effects
from eessi_bot.core.effects import Effects
from eessi_bot.core.jobs import BuildPin, Job, JobState, Row

_JOB_COLUMNS = ("key", "build_key", "repo", "pr_number", "node_type", "repo_id", "software_subdir", "accelerator",
                "on_arch", "on_accelerator", "job_dir", "symlink", "backend", "job_id", "state", "rows", "error",
                "comment_key")


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def pin(self, key: str) -> Optional[BuildPin]:
        row = self.db.connection().execute("SELECT * FROM builds WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return BuildPin(key=row["key"], repo=row["repo"], pr_number=row["pr_number"], url=row["url"],
                        base_ref=row["base_ref"], base_sha=row["base_sha"], head_sha=row["head_sha"],
                        merge_base=row["merge_base"], merged_tree=row["merged_tree"])

    def save_pin(self, pin: BuildPin, now: float) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO builds (key, repo, pr_number, url, base_ref, base_sha, head_sha, merge_base, "
                "merged_tree, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (pin.key, pin.repo, pin.pr_number, pin.url, pin.base_ref, pin.base_sha, pin.head_sha,
                 pin.merge_base, pin.merged_tree, now))

    def get(self, key: str) -> Optional[Job]:
        row = self.db.connection().execute("SELECT * FROM jobs WHERE key = ?", (key,)).fetchone()
        return None if row is None else _job(row)

    def by_build(self, build_key: str) -> List[Job]:
        rows = self.db.connection().execute("SELECT * FROM jobs WHERE build_key = ? ORDER BY rowid", (build_key,))
        return [_job(row) for row in rows]

    def save(self, job: Job, now: float, effects: Optional[Effects] = None) -> None:
        """Insert or update the job's row and store `effects` (its comment) in the same transaction.

        One writer per job at a time: the worker handling its command until it is submitted, the job
        manager afterwards.
        """
        values = _values(job)
        columns = ", ".join(_JOB_COLUMNS)
        marks = ", ".join("?" for _ in _JOB_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _JOB_COLUMNS if c != "key")
        with self.db.write() as conn:
            conn.execute(
                f"INSERT INTO jobs ({columns}, created_at, updated_at) VALUES ({marks}, ?, ?) "  # noqa: S608
                f"ON CONFLICT (key) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
                (*values, now, now))
            if effects is not None:
                store_effects(conn, effects, None, now)

    def next_local_id(self, now: float) -> str:
        """Job ids of the local backend: unique per instance, never reused."""
        with self.db.write() as conn:
            cursor = conn.execute("INSERT INTO local_job_ids (created_at) VALUES (?)", (now,))
            return str(cursor.lastrowid)


def _values(job: Job) -> tuple:  # type: ignore[type-arg]
    rows = json.dumps([[r.date, r.status, r.comment] for r in job.rows])
    return (job.key, job.build_key, job.repo, job.pr_number, job.node_type, job.repo_id, job.software_subdir,
            job.accelerator, job.on_arch, job.on_accelerator, job.job_dir, job.symlink, job.backend, job.job_id,
            job.state.value, rows, job.error, job.comment_key)


def _job(row: sqlite3.Row) -> Job:
    return Job(
        key=row["key"], build_key=row["build_key"], repo=row["repo"], pr_number=row["pr_number"],
        node_type=row["node_type"], repo_id=row["repo_id"], software_subdir=row["software_subdir"],
        accelerator=row["accelerator"], on_arch=row["on_arch"], on_accelerator=row["on_accelerator"],
        job_dir=row["job_dir"], backend=row["backend"], comment_key=row["comment_key"],
        state=JobState(row["state"]), job_id=row["job_id"], symlink=row["symlink"],
        rows=tuple(Row(*r) for r in json.loads(row["rows"])), error=row["error"],
    )
