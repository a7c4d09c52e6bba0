"""The status page's read-only questions on the in-memory store (`ports.store.OverviewStore`)."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from eessi_bot.core.jobs import Job
from eessi_bot.ports.store import DeliverySummary
from tests.fakes.memory_state import DeliveryRow, Part


class MemoryOverview(Part):
    def oldest_pending_delivery(self) -> Optional[float]:
        with self._store.lock:
            times = [row.received_at for row in self._s.deliveries.values() if row.state in ("pending", "processing")]
            return min(times) if times else None

    def oldest_pending_write(self) -> Optional[float]:
        with self._store.lock:
            times = [w.created_at if w.done_version == 0 else w.updated_at for w in self._s.writes.values()
                     if w.pending]
            return min(times) if times else None

    def recent_deliveries(self, limit: int, subject: Optional[str] = None) -> List[DeliverySummary]:
        with self._store.lock:
            rows = [row for row in self._s.deliveries.values() if subject is None or row.delivery.subject == subject]
            rows.sort(key=lambda row: (row.received_at, row.order) if subject else (row.order,), reverse=True)
            return [_summary(row) for row in rows[:limit]]

    def recent_jobs(self, limit: int) -> List[Job]:
        with self._store.lock:
            jobs = sorted(self._s.jobs.values(), key=lambda item: (item[1].updated_at, item[0]), reverse=True)
            return [job for _, job in jobs[:limit]]

    def job_counts(self) -> Dict[Tuple[str, str], int]:
        with self._store.lock:
            counts: Dict[Tuple[str, str], int] = {}
            for _, job in self._s.jobs.values():
                key = (job.state.value, job.node_type)
                counts[key] = counts.get(key, 0) + 1
            return counts

    def upload_counts(self) -> Dict[str, int]:
        with self._store.lock:
            counts: Dict[str, int] = {}
            for _, upload in self._s.uploads.values():
                counts[upload.state.value] = counts.get(upload.state.value, 0) + 1
            return counts

    def delivery_state(self, delivery_id: str) -> Optional[str]:
        with self._store.lock:
            row = self._s.deliveries.get(delivery_id)
            return None if row is None else row.state


def _summary(row: DeliveryRow) -> DeliverySummary:
    delivery = row.delivery
    return DeliverySummary(id=delivery.id, event=delivery.event, action=delivery.action, subject=delivery.subject,
                           state=row.state, attempts=row.attempts, outcome=row.outcome, received_at=row.received_at,
                           finished_at=row.finished_at)
