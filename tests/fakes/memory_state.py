"""The state of the in-memory store (`tests/fakes/memory_store.py`) and the base of its parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Optional, Tuple

from eessi_bot.core.jobs import BuildPin, Job
from eessi_bot.core.uploads import DeployLabel, Upload
from eessi_bot.core.webhook import Delivery
from eessi_bot.ports.store import OutboxItem

if TYPE_CHECKING:
    from tests.fakes.memory_store import MemoryStore


@dataclass
class DeliveryRow:
    delivery: Delivery
    received_at: float
    order: int
    state: str = "pending"
    attempts: int = 0
    next_attempt_at: float = 0.0
    finished_at: Optional[float] = None
    outcome: Optional[str] = None


@dataclass
class WriteRow:
    item: OutboxItem
    done_version: int = 0
    failed: bool = False
    next_attempt_at: float = 0.0
    created_at: float = 0.0
    updated_at: float = 0.0
    order: int = 0

    @property
    def pending(self) -> bool:
        return self.item.version > self.done_version and not self.failed


@dataclass
class ClosedRow:
    delivery_id: str
    closed_at: float
    done_at: Optional[float] = None


@dataclass
class State:
    deliveries: Dict[str, DeliveryRow] = field(default_factory=dict)
    writes: Dict[str, WriteRow] = field(default_factory=dict)
    jobs: Dict[str, Tuple[int, Job]] = field(default_factory=dict)
    """key → (insertion order, job)."""
    pins: Dict[str, BuildPin] = field(default_factory=dict)
    pinned_at: Dict[str, float] = field(default_factory=dict)
    metadata_comment_ids: Dict[str, int] = field(default_factory=dict)
    closed: Dict[Tuple[str, int], ClosedRow] = field(default_factory=dict)
    meta: Dict[str, str] = field(default_factory=dict)
    labels: Dict[Tuple[str, int], DeployLabel] = field(default_factory=dict)
    uploads: Dict[str, Tuple[int, Upload]] = field(default_factory=dict)
    counter: int = 0
    local_ids: int = 0

    def next(self) -> int:
        self.counter += 1
        return self.counter


class Part:
    """A view of the store's state (inbox, outbox, jobs, uploads, a transaction), under its lock."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    @property
    def _s(self) -> State:
        return self._store.state


