"""The status page's and `/metrics`' read-only questions (`ports.store.OverviewStore`).

Only reads, on the calling thread's connection (WAL: never blocked by a writer, never blocking one).
Each query reads an index, a bounded number of rows, or a GROUP BY over a small column set; delivery
bodies are never read.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from eessi_bot.adapters.sqlite.db import Database
from eessi_bot.adapters.sqlite.jobs import _job
from eessi_bot.core.jobs import Job
from eessi_bot.ports.store import DeliverySummary

_SUMMARY = "SELECT id, event, action, subject, state, attempts, outcome, received_at, finished_at FROM deliveries"


class Overview:
    def __init__(self, db: Database) -> None:
        self.db = db

    def oldest_pending_delivery(self) -> Optional[float]:
        row = self.db.connection().execute(
            "SELECT MIN(received_at) FROM deliveries WHERE state IN ('pending', 'processing')").fetchone()
        return None if row[0] is None else float(row[0])

    def oldest_pending_write(self) -> Optional[float]:
        row = self.db.connection().execute(
            "SELECT MIN(CASE WHEN done_version = 0 THEN created_at ELSE updated_at END) FROM outbox "
            "WHERE version > done_version AND failed = 0").fetchone()
        return None if row[0] is None else float(row[0])

    def recent_deliveries(self, limit: int, subject: Optional[str] = None) -> List[DeliverySummary]:
        conn = self.db.connection()
        if subject is None:
            rows = conn.execute(f"{_SUMMARY} ORDER BY rowid DESC LIMIT ?", (limit,))
        else:
            rows = conn.execute(f"{_SUMMARY} WHERE subject = ? ORDER BY received_at DESC, rowid DESC LIMIT ?",
                                (subject, limit))
        return [DeliverySummary(id=r["id"], event=r["event"], action=r["action"], subject=r["subject"],
                                state=r["state"], attempts=r["attempts"], outcome=r["outcome"],
                                received_at=r["received_at"], finished_at=r["finished_at"]) for r in rows]

    def recent_jobs(self, limit: int) -> List[Job]:
        rows = self.db.connection().execute("SELECT * FROM jobs ORDER BY updated_at DESC, rowid DESC LIMIT ?",
                                            (limit,))
        return [_job(row) for row in rows]

    def job_counts(self) -> Dict[Tuple[str, str], int]:
        rows = self.db.connection().execute("SELECT state, node_type, COUNT(*) FROM jobs GROUP BY state, node_type")
        return {(str(state), str(node_type)): int(n) for state, node_type, n in rows}

    def upload_counts(self) -> Dict[str, int]:
        rows = self.db.connection().execute("SELECT state, COUNT(*) FROM uploads GROUP BY state")
        return {str(state): int(n) for state, n in rows}

    def delivery_state(self, delivery_id: str) -> Optional[str]:
        row = self.db.connection().execute("SELECT state FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        return None if row is None else str(row[0])
