"""The inbox (`ports.store.InboxStore`): verified deliveries, stored before the 202 and processed by
worker threads.

A delivery is `pending` until a worker claims it (`processing`), then `done` or `failed`. After a
crash, `processing` rows of the dead process go back to `pending`; handlers are idempotent, so the
second run does not repeat what the first one managed to do.
"""

from __future__ import annotations

import sqlite3
from typing import Dict, Optional, Sequence, Set

from eessi_bot.adapters.sqlite.db import Database
from eessi_bot.core.webhook import Delivery
from eessi_bot.ports.store import Claimed, DeliveryRecord


def finish_delivery(conn: sqlite3.Connection, delivery_id: str, outcome: str, now: float) -> None:
    """Mark a delivery done, inside the caller's transaction (which also stores its effects)."""
    conn.execute(
        "UPDATE deliveries SET state = 'done', finished_at = ?, outcome = ?, claimed_by = NULL WHERE id = ?",
        (now, outcome[:500], delivery_id),
    )


_CLAIMABLE = (
    "SELECT * FROM deliveries AS d INDEXED BY deliveries_pending "
    "WHERE state = 'pending' AND next_attempt_at <= ? "
    "AND (subject IS NULL OR (subject NOT IN (SELECT subject FROM deliveries "
    "     WHERE state = 'processing' AND subject IS NOT NULL) "
    "AND NOT EXISTS (SELECT 1 FROM deliveries AS p WHERE p.subject = d.subject AND p.state = 'pending' "
    "     AND (p.received_at, p.rowid) < (d.received_at, d.rowid)))) "
    "ORDER BY received_at, rowid LIMIT 1")
"""The oldest delivery a worker may take now: pending and due, its PR (subject) not being worked on,
and no earlier delivery of its PR still waiting."""


class Inbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    def store(self, delivery: Delivery, now: float) -> bool:
        """Store a verified delivery; False when its id was seen before (then nothing changes)."""
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO deliveries (id, event, action, subject, body, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (delivery.id, delivery.event, delivery.action, delivery.subject, delivery.body, now),
            )
            return cursor.rowcount == 1

    def claim(self, worker: str, now: float) -> Optional[Claimed]:
        """The oldest ready delivery of a subject (PR) with no earlier delivery still to finish.

        Deliveries of one PR run one at a time and in order, also when an earlier one waits for a
        retry: a `bot: cancel` or a close must not overtake the build it follows.
        """
        if self.db.connection().execute(_CLAIMABLE, (now,)).fetchone() is None:
            return None  # a read: idle workers never queue for the write lock the webhook needs
        with self.db.write() as conn:
            row = conn.execute(_CLAIMABLE, (now,)).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE deliveries SET state = 'processing', claimed_by = ?, attempts = attempts + 1 "
                "WHERE id = ?",
                (worker, row["id"]),
            )
        return Claimed(_delivery(row), row["attempts"] + 1, row["received_at"])

    def retry(self, delivery_id: str, reason: str, at: float) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, outcome = ?, "
                "claimed_by = NULL WHERE id = ?",
                (at, reason[:500], delivery_id),
            )

    def fail(self, delivery_id: str, reason: str, now: float) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE deliveries SET state = 'failed', finished_at = ?, outcome = ?, claimed_by = NULL "
                "WHERE id = ?",
                (now, reason[:500], delivery_id),
            )

    def requeue_unfinished(self) -> int:
        """At start-up: deliveries a previous process was working on are pending again."""
        with self.db.write() as conn:
            return conn.execute(
                "UPDATE deliveries SET state = 'pending', claimed_by = NULL WHERE state = 'processing'"
            ).rowcount

    def next_ready_at(self) -> Optional[float]:
        row = self.db.connection().execute(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'").fetchone()
        return None if row[0] is None else float(row[0])

    def counts(self) -> Dict[str, int]:
        rows = self.db.connection().execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
        return {str(state): int(n) for state, n in rows}

    def prune(self, before: float) -> int:
        """Forget handled deliveries that finished before `before` (their ids may then come again)."""
        with self.db.write() as conn:
            return conn.execute("DELETE FROM deliveries WHERE state IN ('done', 'failed') AND finished_at < ?",
                                (before,)).rowcount

    def get(self, delivery_id: str) -> Optional[DeliveryRecord]:
        row = self.db.connection().execute("SELECT * FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        if row is None:
            return None
        return DeliveryRecord(id=row["id"], event=row["event"], action=row["action"], state=row["state"],
                              attempts=row["attempts"], outcome=row["outcome"])

    def prunable(self, before: float) -> int:
        """How many deliveries `prune(before)` would forget; a read, so `gc --dry-run` changes nothing."""
        row = self.db.connection().execute(
            "SELECT COUNT(*) FROM deliveries WHERE state IN ('done', 'failed') AND finished_at < ?",
            (before,)).fetchone()
        return int(row[0])

    def store_fetched(self, delivery: Delivery, now: float, late_since: Optional[float]) -> bool:
        """Store a delivery taken from GitHub's log of deliveries (`late_since`: GitHub's time of sending,
        when it came late); False when its id is in the inbox already (the webhook brought it)."""
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO deliveries (id, event, action, subject, body, received_at, late_since) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (delivery.id, delivery.event, delivery.action, delivery.subject, delivery.body, now, late_since),
            )
            return cursor.rowcount == 1

    def known(self, ids: Sequence[str]) -> Set[str]:
        """Which of `ids` the inbox holds, in any state (one primary-key lookup each: a page of the log
        of deliveries is at most 100)."""
        conn = self.db.connection()
        return {i for i in set(ids) if conn.execute("SELECT 1 FROM deliveries WHERE id = ?", (i,)).fetchone()}

    def late_since(self, delivery_id: str) -> Optional[float]:
        """GitHub's time of sending of a delivery that came late; None for one that came in time."""
        row = self.db.connection().execute("SELECT late_since FROM deliveries WHERE id = ?",
                                           (delivery_id,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def first_received_at(self) -> Optional[float]:
        """When the oldest delivery still in the inbox came (None: the inbox is empty)."""
        row = self.db.connection().execute("SELECT MIN(received_at) FROM deliveries").fetchone()
        return None if row[0] is None else float(row[0])


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(id=row["id"], event=row["event"], action=row["action"], subject=row["subject"],
                    body=bytes(row["body"]))
