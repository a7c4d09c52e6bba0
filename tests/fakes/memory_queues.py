"""The inbox and outbox of the in-memory store."""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional

from eessi_bot.core.webhook import Delivery
from eessi_bot.ports.store import Claimed, DeliveryRecord, OutboxItem
from tests.fakes.memory_state import DeliveryRow, Part


class MemoryInbox(Part):
    def store(self, delivery: Delivery, now: float) -> bool:
        with self._store.lock:
            if delivery.id in self._s.deliveries:
                return False
            self._s.deliveries[delivery.id] = DeliveryRow(delivery, now, self._s.next())
            return True

    def claim(self, worker: str, now: float) -> Optional[Claimed]:
        with self._store.lock:
            rows = sorted(self._s.deliveries.values(), key=lambda d: (d.received_at, d.order))
            for row in rows:
                if row.state != "pending" or row.next_attempt_at > now or self._blocked(row, rows):
                    continue
                row.state = "processing"
                row.attempts += 1
                return Claimed(row.delivery, row.attempts, row.received_at)
            return None

    @staticmethod
    def _blocked(row: DeliveryRow, rows: List[DeliveryRow]) -> bool:
        subject = row.delivery.subject
        if subject is None:
            return False
        return any(other.delivery.subject == subject and (
            other.state == "processing" or (other.state == "pending" and (other.received_at, other.order)
                                            < (row.received_at, row.order))) for other in rows)

    def retry(self, delivery_id: str, reason: str, at: float) -> None:
        with self._store.lock:
            row = self._s.deliveries[delivery_id]
            row.state, row.next_attempt_at, row.outcome = "pending", at, reason[:500]

    def fail(self, delivery_id: str, reason: str, now: float) -> None:
        with self._store.lock:
            row = self._s.deliveries[delivery_id]
            row.state, row.finished_at, row.outcome = "failed", now, reason[:500]

    def requeue_unfinished(self) -> int:
        with self._store.lock:
            rows = [row for row in self._s.deliveries.values() if row.state == "processing"]
            for row in rows:
                row.state = "pending"
            return len(rows)

    def next_ready_at(self) -> Optional[float]:
        with self._store.lock:
            times = [row.next_attempt_at for row in self._s.deliveries.values() if row.state == "pending"]
            return min(times) if times else None

    def counts(self) -> Dict[str, int]:
        with self._store.lock:
            counts: Dict[str, int] = {}
            for row in self._s.deliveries.values():
                counts[row.state] = counts.get(row.state, 0) + 1
            return counts

    def prune(self, before: float) -> int:
        with self._store.lock:
            gone = [key for key, row in self._s.deliveries.items() if row.state in ("done", "failed")
                    and row.finished_at is not None and row.finished_at < before]
            for key in gone:
                del self._s.deliveries[key]
            return len(gone)

    def get(self, delivery_id: str) -> Optional[DeliveryRecord]:
        with self._store.lock:
            row = self._s.deliveries.get(delivery_id)
            if row is None:
                return None
            return DeliveryRecord(id=delivery_id, event=row.delivery.event, action=row.delivery.action,
                                  state=row.state, attempts=row.attempts, outcome=row.outcome)

    def prunable(self, before: float) -> int:
        with self._store.lock:
            return sum(1 for row in self._s.deliveries.values() if row.state in ("done", "failed")
                       and row.finished_at is not None and row.finished_at < before)


class MemoryOutbox(Part):
    def due(self, now: float, limit: int = 50) -> List[OutboxItem]:
        with self._store.lock:
            ready = [w for w in self._s.writes.values() if w.pending and w.next_attempt_at <= now]
            ready.sort(key=lambda w: (w.next_attempt_at, w.created_at, w.order))
            return [w.item for w in ready[:limit]]

    def next_due_at(self) -> Optional[float]:
        with self._store.lock:
            times = [w.next_attempt_at for w in self._s.writes.values() if w.pending]
            return min(times) if times else None

    def get(self, key: str) -> Optional[OutboxItem]:
        with self._store.lock:
            write = self._s.writes.get(key)
            return None if write is None else write.item

    def mark_in_flight(self, key: str, now: float) -> None:
        self._update(key, now, in_flight=True)

    def record_created(self, key: str, comment_id: int, url: str, version: int, now: float) -> None:
        with self._store.lock:
            write = self._s.writes[key]
            write.done_version = max(write.done_version, version)
            self._update(key, now, result_id=comment_id, result_url=url, in_flight=False, attempts=0)

    def record_adopted(self, key: str, comment_id: int, url: str, now: float) -> None:
        self._update(key, now, result_id=comment_id, result_url=url, in_flight=False)

    def record_done(self, key: str, version: int, now: float) -> None:
        with self._store.lock:
            write = self._s.writes[key]
            write.done_version = max(write.done_version, version)
            self._update(key, now, attempts=0, in_flight=False)

    def record_lost(self, key: str, now: float) -> None:
        self._update(key, now, result_id=None, result_url=None, in_flight=False)

    def record_retry(self, key: str, error: str, at: float, now: float, refused: bool = False) -> None:
        with self._store.lock:
            write = self._s.writes[key]
            write.next_attempt_at = at
            if refused:
                self._update(key, now, in_flight=False)
            else:
                self._update(key, now, attempts=write.item.attempts + 1)

    def record_failed(self, key: str, error: str, now: float) -> None:
        with self._store.lock:
            self._s.writes[key].failed = True
            self._update(key, now)

    def comment_url(self, key: str) -> Optional[str]:
        with self._store.lock:
            write = self._s.writes.get(key)
            return None if write is None else write.item.result_url

    def counts(self) -> Dict[str, int]:
        with self._store.lock:
            writes = list(self._s.writes.values())
            return {"pending": sum(w.pending for w in writes), "failed": sum(w.failed for w in writes),
                    "sent": sum(w.item.version <= w.done_version for w in writes)}

    def _update(self, key: str, now: float, **changes: object) -> None:
        with self._store.lock:
            write = self._s.writes[key]
            write.item = replace(write.item, **changes)  # type: ignore[arg-type]
            write.updated_at = now
