"""Jobs and build pins in SQLite (`ports.store.JobStore`; saves go through the store's transaction)."""

from __future__ import annotations

import json
import sqlite3
from typing import Dict, List, Optional, Sequence, Tuple

from eessi_bot.adapters.sqlite.db import Database
from eessi_bot.core.jobs import FOLLOWED, UNFINISHED, BuildPin, Checkout, Job, JobState, Row
from eessi_bot.ports.store import ClosedPr

_JOB_COLUMNS = ("key", "build_key", "repo", "pr_number", "node_type", "repo_id", "software_subdir", "accelerator",
                "on_arch", "on_accelerator", "job_dir", "symlink", "backend", "job_id", "state", "rows", "error",
                "comment_key", "missing_polls", "cancelled_by", "end_state", "exit_code", "result_status",
                "test_status", "artefacts", "ending_since", "exports")


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._active: Dict[str, Tuple[int, Job]] = {}

    def pin(self, key: str) -> Optional[BuildPin]:
        row = self.db.connection().execute("SELECT * FROM builds WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        checkout = Checkout(url=row["url"], base_ref=row["base_ref"], base_sha=row["base_sha"],
                            head_sha=row["head_sha"], merge_base=row["merge_base"], merged_tree=row["merged_tree"])
        return BuildPin(key=row["key"], repo=row["repo"], pr_number=row["pr_number"], checkout=checkout)

    def save_pin(self, pin: BuildPin, now: float) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO builds (key, repo, pr_number, url, base_ref, base_sha, head_sha, merge_base, "
                "merged_tree, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (pin.key, pin.repo, pin.pr_number, pin.checkout.url, pin.checkout.base_ref, pin.checkout.base_sha,
                 pin.checkout.head_sha, pin.checkout.merge_base, pin.checkout.merged_tree, now))

    def get(self, key: str) -> Optional[Job]:
        row = self.db.connection().execute("SELECT * FROM jobs WHERE key = ?", (key,)).fetchone()
        return None if row is None else _job(row)

    def with_job_id(self, backend: str, job_id: str) -> Optional[Job]:
        row = self.db.connection().execute("SELECT * FROM jobs WHERE backend = ? AND job_id = ?",
                                           (backend, job_id)).fetchone()
        return None if row is None else _job(row)

    def active(self, backend: str) -> List[Job]:
        """Jobs the manager follows: submitted and not finished, oldest first.

        Rows unchanged since the last call (same `version`, bumped by every save) are not decoded
        again: with a thousand tracked jobs that is most of a manager cycle's CPU time.
        """
        conn = self.db.connection()
        listed = conn.execute(
            f"SELECT key, version FROM jobs WHERE backend = ? AND state IN ({_marks(FOLLOWED)}) "  # noqa: S608
            "ORDER BY created_at, rowid", (backend, *_states(FOLLOWED))).fetchall()
        stale = [key for key, version in listed if self._active.get(key, (-1,))[0] != version]
        for start in range(0, len(stale), 500):
            chunk = stale[start:start + 500]
            marks = ",".join("?" for _ in chunk)
            for row in conn.execute(f"SELECT * FROM jobs WHERE key IN ({marks})", chunk):  # noqa: S608
                self._active[row["key"]] = (row["version"], _job(row))
        self._active = {key: self._active[key] for key, _ in listed}
        return [job for _, job in self._active.values()]

    def for_pr(self, repo: str, pr_number: int) -> List[Job]:
        rows = self.db.connection().execute(
            "SELECT * FROM jobs WHERE repo = ? AND pr_number = ? ORDER BY created_at, rowid", (repo, pr_number))
        return [_job(row) for row in rows]

    def list(self, repo: Optional[str] = None, pr_number: Optional[int] = None,
             states: Optional[Sequence[JobState]] = None) -> List[Job]:
        """Jobs that match every filter given (None: any; an empty `states` matches nothing), oldest first."""
        where: List[str] = []
        args: List[object] = []
        if repo is not None:
            where.append("repo = ?")
            args.append(repo)
        if pr_number is not None:
            where.append("pr_number = ?")
            args.append(pr_number)
        if states is not None:
            where.append(f"state IN ({_marks(states)})")
            args.extend(_states(states))
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.connection().execute(
            f"SELECT * FROM jobs{condition} ORDER BY created_at, rowid", args)  # noqa: S608
        return [_job(row) for row in rows]

    def comment_ids(self) -> List[Tuple[Job, int]]:
        """Jobs whose comment now exists on GitHub but whose metadata file does not name it yet."""
        rows = self.db.connection().execute(
            "SELECT jobs.*, outbox.result_id AS comment_id FROM jobs JOIN outbox ON outbox.key = jobs.comment_key "
            "WHERE jobs.job_id IS NOT NULL AND outbox.result_id IS NOT NULL "
            "AND (jobs.metadata_comment_id IS NULL OR jobs.metadata_comment_id != outbox.result_id)")
        return [(_job(row), int(row["comment_id"])) for row in rows]

    def set_metadata_comment_id(self, key: str, comment_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE jobs SET metadata_comment_id = ? WHERE key = ?", (comment_id, key))

    def abandon(self, delivery_id: str, reason: str, now: float) -> int:
        """Jobs of a delivery given up for good that never got submitted: failed, so that they block
        nothing (a closed PR's trash waits for unfinished jobs). A SUBMITTING job's fate is unknown:
        the reason says where to look."""
        prefix = delivery_id + ":"
        with self.db.write() as conn:
            sql = ("UPDATE jobs SET state = 'submit_failed', error = ?, version = version + 1, updated_at = ? "  # noqa: S608
                   f"WHERE substr(build_key, 1, length(?)) = ? AND state IN ({_marks(PRE_SUBMIT)})")
            return conn.execute(sql, (reason, now, prefix, prefix, *_states(PRE_SUBMIT))).rowcount

    def set_cancelled_by(self, key: str, sender: str, now: float) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE jobs SET cancelled_by = ?, version = version + 1, updated_at = ? WHERE key = ?",
                         (sender, now, key))

    def counts(self) -> Dict[str, int]:
        rows = self.db.connection().execute("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return {str(state): int(n) for state, n in rows}

    def close_pr(self, repo: str, pr_number: int, delivery_id: str, merged: bool, sender: str, now: float) -> None:
        """Remember a closed PR until its job directories are in the trash (a re-close starts again)."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO closed_prs (repo, pr_number, closed_at, delivery_id, merged, sender) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (repo, pr_number) DO UPDATE SET "
                "closed_at = excluded.closed_at, delivery_id = excluded.delivery_id, merged = excluded.merged, "
                "sender = excluded.sender, done_at = NULL WHERE closed_prs.delivery_id != excluded.delivery_id",
                (repo, pr_number, now, delivery_id, int(merged), sender))

    def reopen_pr(self, repo: str, pr_number: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM closed_prs WHERE repo = ? AND pr_number = ? AND done_at IS NULL",
                         (repo, pr_number))

    def closed_pending(self) -> List[ClosedPr]:
        rows = self.db.connection().execute(
            "SELECT repo, pr_number, delivery_id FROM closed_prs WHERE done_at IS NULL ORDER BY closed_at")
        return [ClosedPr(str(r[0]), int(r[1]), str(r[2])) for r in rows]

    def unfinished_for_pr(self, repo: str, pr_number: int) -> int:
        row = self.db.connection().execute(
            f"SELECT COUNT(*) FROM jobs WHERE repo = ? AND pr_number = ? AND state IN ({_marks(UNFINISHED)})",  # noqa: S608
            (repo, pr_number, *_states(UNFINISHED))).fetchone()
        return int(row[0])

    def next_local_id(self, now: float) -> str:
        """Job ids of the local backend: unique per instance, never reused."""
        with self.db.write() as conn:
            cursor = conn.execute("INSERT INTO local_job_ids (created_at) VALUES (?)", (now,))
            return str(cursor.lastrowid)

    def prunable(self, before: float) -> int:
        """How many jobs `prune_jobs(before)` would forget; a read, so `gc --dry-run` changes nothing."""
        row = self.db.connection().execute(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('finished', 'submit_failed') AND updated_at < ?",
            (before,)).fetchone()
        return int(row[0])


PRE_SUBMIT = tuple(s for s in UNFINISHED if s not in FOLLOWED)


def save_job(conn: sqlite3.Connection, job: Job, now: float) -> None:
    """Insert or update the job's row inside the caller's transaction; never changes `cancelled_by`."""
    columns = ", ".join(_JOB_COLUMNS)
    marks = ", ".join("?" for _ in _JOB_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _JOB_COLUMNS if c not in ("key", "cancelled_by"))
    conn.execute(
        f"INSERT INTO jobs ({columns}, created_at, updated_at) VALUES ({marks}, ?, ?) "  # noqa: S608
        f"ON CONFLICT (key) DO UPDATE SET {updates}, updated_at = excluded.updated_at, version = jobs.version + 1",
        (*_values(job), now, now))


def jobs_of_build(conn: sqlite3.Connection, build_key: str) -> List[Job]:
    return [_job(row) for row in conn.execute("SELECT * FROM jobs WHERE build_key = ? ORDER BY rowid", (build_key,))]


def closed_done(conn: sqlite3.Connection, repo: str, pr_number: int, now: float) -> None:
    conn.execute("UPDATE closed_prs SET done_at = ? WHERE repo = ? AND pr_number = ?", (now, repo, pr_number))


def prune_jobs(conn: sqlite3.Connection, before: float) -> int:
    """Forget finished jobs last changed before `before`, and the pins no job needs any more."""
    count = conn.execute("DELETE FROM jobs WHERE state IN ('finished', 'submit_failed') AND updated_at < ?",
                         (before,)).rowcount
    conn.execute("DELETE FROM builds WHERE created_at < ? AND key NOT IN (SELECT build_key FROM jobs)", (before,))
    return int(count)


def _marks(states: Sequence[JobState]) -> str:
    return ", ".join("?" for _ in states)


def _states(states: Sequence[JobState]) -> Tuple[str, ...]:
    return tuple(s.value for s in states)


def _values(job: Job) -> tuple:  # type: ignore[type-arg]
    rows = json.dumps([[r.date, r.status, r.comment] for r in job.rows])
    return (job.key, job.build_key, job.repo, job.pr_number, job.node_type, job.repo_id, job.software_subdir,
            job.accelerator, job.on_arch, job.on_accelerator, job.job_dir, job.symlink, job.backend, job.job_id,
            job.state.value, rows, job.error, job.comment_key, job.missing_polls, job.cancelled_by, job.end_state,
            job.exit_code, job.result_status, job.test_status, json.dumps(list(job.artefacts)), job.ending_since,
            None if job.exports is None else json.dumps(list(job.exports)))


def _job(row: sqlite3.Row) -> Job:
    return Job(
        key=row["key"], build_key=row["build_key"], repo=row["repo"], pr_number=row["pr_number"],
        node_type=row["node_type"], repo_id=row["repo_id"], software_subdir=row["software_subdir"],
        accelerator=row["accelerator"], on_arch=row["on_arch"], on_accelerator=row["on_accelerator"],
        job_dir=row["job_dir"], backend=row["backend"], comment_key=row["comment_key"],
        state=JobState(row["state"]), job_id=row["job_id"], symlink=row["symlink"],
        rows=tuple(Row(*r) for r in json.loads(row["rows"])), error=row["error"],
        missing_polls=row["missing_polls"], cancelled_by=row["cancelled_by"], end_state=row["end_state"],
        exit_code=row["exit_code"], result_status=row["result_status"], test_status=row["test_status"],
        artefacts=tuple(json.loads(row["artefacts"])), created_at=row["created_at"], updated_at=row["updated_at"],
        ending_since=row["ending_since"], exports=None if row["exports"] is None else tuple(json.loads(row["exports"])),
    )
