"""The SQLite store (`ports.store.Store`): inbox, outbox and jobs in one WAL database, and the unit
of work that commits a job's row with its comment, or a delivery's end with its writes, at once."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

from eessi_bot.adapters.sqlite import inbox, jobs, outbox, overview, uploads
from eessi_bot.adapters.sqlite.db import Database
from eessi_bot.core.effects import Effects
from eessi_bot.core.jobs import Job
from eessi_bot.core.uploads import Upload


class SqliteTransaction:
    """`ports.store.Transaction` on one connection inside `BEGIN IMMEDIATE`; each table's SQL stays
    in its own module."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def save_job(self, job: Job, now: float) -> None:
        jobs.save_job(self._conn, job, now)

    def jobs_of_build(self, build_key: str) -> List[Job]:
        return jobs.jobs_of_build(self._conn, build_key)

    def put(self, effects: Effects, now: float, delivery_id: Optional[str] = None) -> None:
        outbox.store_effects(self._conn, effects, delivery_id, now)

    def finish_delivery(self, delivery_id: str, outcome: str, now: float) -> None:
        inbox.finish_delivery(self._conn, delivery_id, outcome, now)

    def adopt_comment(self, key: str, repo: str, issue_number: int, comment_id: int, body: str, now: float) -> None:
        outbox.adopt_comment(self._conn, key, repo, issue_number, comment_id, body, now)

    def closed_done(self, repo: str, pr_number: int, now: float) -> None:
        jobs.closed_done(self._conn, repo, pr_number, now)

    def save_upload(self, upload: Upload, now: float) -> None:
        uploads.save_upload(self._conn, upload, now)

    def uploads_of_deploy(self, deploy_key: str) -> List[Upload]:
        return uploads.uploads_of_deploy(self._conn, deploy_key)

    def prune_jobs(self, before: float) -> int:
        count = jobs.prune_jobs(self._conn, before)
        outbox.prune_sent(self._conn, before)
        uploads.prune_uploads(self._conn, before)
        return count


class SqliteStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.inbox = inbox.Inbox(db)
        self.outbox = outbox.Outbox(db)
        self.jobs = jobs.JobStore(db)
        self.uploads = uploads.UploadStore(db)
        self.overview = overview.Overview(db)

    @classmethod
    def in_dir(cls, data_dir: Path) -> SqliteStore:
        """The bot's database, `data_dir/eessi-bot.sqlite3`."""
        return cls(Database.in_dir(data_dir))

    @contextmanager
    def transaction(self) -> Iterator[SqliteTransaction]:
        with self.db.write() as conn:
            yield SqliteTransaction(conn)

    def get_meta(self, key: str) -> Optional[str]:
        return self.db.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self.db.set_meta(key, value)

    def close(self) -> None:
        self.db.close()
