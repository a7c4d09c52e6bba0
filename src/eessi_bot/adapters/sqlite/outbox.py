"""The outbox (`ports.store.OutboxStore`): GitHub writes, keyed for idempotency, sent (and retried) by
one sender thread. This module is the only writer of the `outbox` table.

A comment row holds the body the comment should show (`version`) and what GitHub last accepted
(`done_version`), so many updates between two sends become one edit. A check run's row works the same
way, its body being the check run's fields.
"""

from __future__ import annotations

import sqlite3
from typing import Dict, List, Optional

from eessi_bot.adapters.sqlite.db import Database
from eessi_bot.core.check_runs import CHECK_PREFIX
from eessi_bot.core.effects import CHECK_RUN, CheckRunEffect, CommentEffect, Effects, ReactionEffect
from eessi_bot.ports.store import COMMENT, REACTION, OutboxItem


def store_effects(conn: sqlite3.Connection, effects: Effects, delivery_id: Optional[str], now: float) -> None:
    """Upsert effects inside the caller's transaction. Same key and body: nothing changes."""
    for effect in effects.items:
        if isinstance(effect, (CommentEffect, CheckRunEffect)):
            kind = CHECK_RUN if isinstance(effect, CheckRunEffect) else COMMENT
            conn.execute(
                "INSERT INTO outbox (key, kind, repo, issue_number, body, delivery_id, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET body = excluded.body, version = version + 1, "
                "delivery_id = COALESCE(excluded.delivery_id, delivery_id), "
                "updated_at = excluded.updated_at, failed = 0, attempts = 0, next_attempt_at = 0 "
                "WHERE body != excluded.body",
                (effect.key, kind, effect.repo, effect.issue_number, effect.body, delivery_id, now, now),
            )
        elif isinstance(effect, ReactionEffect):
            conn.execute(
                "INSERT INTO outbox (key, kind, repo, target_id, body, delivery_id, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (effect.key, REACTION, effect.repo, effect.comment_id, effect.content, delivery_id, now, now),
            )


def adopt_comment(conn: sqlite3.Connection, key: str, repo: str, issue_number: int, comment_id: int, body: str,
                  now: float) -> None:
    """An existing comment becomes the one written for `key`, as sent (only later bodies edit it)."""
    conn.execute(
        "INSERT INTO outbox (key, kind, repo, issue_number, body, version, done_version, result_id, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, 1, 1, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        (key, COMMENT, repo, issue_number, body, comment_id, now, now))


def prune_sent(conn: sqlite3.Connection, before: float) -> None:
    """Forget writes sent before `before`, except the comments and check runs of jobs still in the
    database (their next state edits them; forgotten, a check run would be made a second time)."""
    conn.execute("DELETE FROM outbox WHERE version <= done_version AND updated_at < ? "
                 "AND key NOT IN (SELECT comment_key FROM jobs) "
                 "AND key NOT IN (SELECT ? || key FROM jobs)", (before, CHECK_PREFIX))


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    def due(self, now: float, limit: int = 50) -> List[OutboxItem]:
        rows = self.db.connection().execute(
            "SELECT * FROM outbox WHERE version > done_version AND failed = 0 AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, created_at, rowid LIMIT ?",
            (now, limit),
        ).fetchall()
        return [_item(row) for row in rows]

    def next_due_at(self) -> Optional[float]:
        row = self.db.connection().execute(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE version > done_version AND failed = 0").fetchone()
        return None if row[0] is None else float(row[0])

    def get(self, key: str) -> Optional[OutboxItem]:
        row = self.db.connection().execute("SELECT * FROM outbox WHERE key = ?", (key,)).fetchone()
        return None if row is None else _item(row)

    def mark_in_flight(self, key: str, now: float) -> None:
        """Before a POST: if we die now, the next attempt must look for the comment first."""
        self._update(key, "in_flight = 1, updated_at = ?", now)

    def record_created(self, key: str, comment_id: int, url: str, version: int, now: float) -> None:
        self._update(key, "result_id = ?, result_url = ?, in_flight = 0, done_version = MAX(done_version, ?), "
                     "attempts = 0, last_error = NULL, updated_at = ?", comment_id, url, version, now)

    def record_adopted(self, key: str, comment_id: int, url: str, now: float) -> None:
        """The comment of an uncertain POST was found: keep it, still edit it to the latest body."""
        self._update(key, "result_id = ?, result_url = ?, in_flight = 0, updated_at = ?",
                     comment_id, url, now)

    def record_done(self, key: str, version: int, now: float) -> None:
        self._update(key, "done_version = MAX(done_version, ?), attempts = 0, last_error = NULL, "
                     "in_flight = 0, updated_at = ?", version, now)

    def record_lost(self, key: str, now: float) -> None:
        """The comment we edit was deleted on GitHub: create it again."""
        self._update(key, "result_id = NULL, result_url = NULL, in_flight = 0, updated_at = ?", now)

    def record_retry(self, key: str, error: str, at: float, now: float, refused: bool = False) -> None:
        """Try again at `at`. `refused`: GitHub said no (a rate limit), so nothing was written and it is
        no failure of the write: not counted, and no POST is in doubt."""
        changes = "in_flight = 0" if refused else "attempts = attempts + 1"
        self._update(key, f"{changes}, last_error = ?, next_attempt_at = ?, updated_at = ?", error[:500], at, now)

    def record_failed(self, key: str, error: str, now: float) -> None:
        """Given up. `in_flight` stays: should a new body revive the row, it looks for its comment first."""
        self._update(key, "failed = 1, last_error = ?, updated_at = ?", error[:500], now)

    def comment_url(self, key: str) -> Optional[str]:
        row = self.db.connection().execute("SELECT result_url FROM outbox WHERE key = ?", (key,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def counts(self) -> Dict[str, int]:
        row = self.db.connection().execute(
            "SELECT SUM(version > done_version AND failed = 0), SUM(failed), SUM(version <= done_version) "
            "FROM outbox").fetchone()
        return {"pending": int(row[0] or 0), "failed": int(row[1] or 0), "sent": int(row[2] or 0)}

    def _update(self, key: str, assignments: str, *values: object) -> None:
        with self.db.write() as conn:
            conn.execute(f"UPDATE outbox SET {assignments} WHERE key = ?", (*values, key))  # noqa: S608


def _item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        key=row["key"], kind=row["kind"], repo=row["repo"], issue_number=row["issue_number"],
        target_id=row["target_id"], body=row["body"], version=row["version"], result_id=row["result_id"],
        result_url=row["result_url"], in_flight=bool(row["in_flight"]), attempts=row["attempts"],
        delivery_id=row["delivery_id"],
    )
