"""Worker threads: take deliveries from the inbox and run their handlers.

One bad delivery never stops a worker: a malformed payload is marked failed, a GitHub outage is
retried with backoff, and an unexpected exception is logged with the delivery id and retried a few
times before the delivery is marked failed.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, List, Optional

from eessi_bot.commands.registry import Registry
from eessi_bot.core.config import Config
from eessi_bot.core.effects import Effects
from eessi_bot.core.events import EventError
from eessi_bot.core.webhook import DeliveryError
from eessi_bot.events.context import EventContext
from eessi_bot.events.router import Router
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.deploys import Deploys
from eessi_bot.ports.github import GitHubError
from eessi_bot.ports.jobs import Jobs
from eessi_bot.ports.store import Claimed, Store
from eessi_bot.ports.wakeup import Wakeup

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF = 600.0


class DeliveryProcessor:
    """Runs one claimed delivery through its handlers and records the outcome."""

    def __init__(self, store: Store, router: Router, config: Config, clock: Clock, registry: Registry,
                 jobs: Jobs, deploys: Deploys, writes_waiting: Wakeup,
                 late_since: Callable[[str], Optional[float]] = lambda _: None) -> None:
        """`late_since`: GitHub's time of sending of a delivery that reached the bot late, by id."""
        self.late_since = late_since
        self.store = store
        self.inbox = store.inbox
        self.jobs = jobs
        self.deploys = deploys
        self.writes_waiting = writes_waiting
        """Notified when a delivery's end stored GitHub writes (the outbox sender sends them)."""
        self.router = router
        self.config = config
        self.clock = clock
        self.registry = registry

    def process(self, claimed: Claimed) -> str:
        delivery = claimed.delivery
        dlog = logging.LoggerAdapter(log, {"delivery_id": delivery.id})
        handlers = self.router.handlers(delivery.event, delivery.action)
        if not handlers:
            outcome = f"{delivery.event}.{delivery.action}: no handler, ignored"
            self._finish(delivery.id, Effects(), outcome)
            dlog.info(outcome)
            return outcome
        try:
            ctx = EventContext(delivery=delivery, payload=delivery.payload(), config=self.config,
                               registry=self.registry, jobs=self.jobs, deploys=self.deploys, log=dlog,
                               received_at=claimed.received_at, last_attempt=claimed.attempts >= MAX_ATTEMPTS,
                               late_since=self.late_since(delivery.id))
            outcome = "; ".join(handler(ctx) for handler in handlers)
            self._finish(delivery.id, ctx.effects, outcome)
            if ctx.last_attempt:
                self.jobs.abandon(delivery.id)  # an error was reported instead of a retry
        except (EventError, DeliveryError) as exc:
            outcome = f"malformed {delivery.event} payload: {exc}"
            dlog.warning(outcome)
            self.inbox.fail(delivery.id, outcome, self.clock.now())
            return outcome
        except Exception as exc:
            return self._retry_or_fail(claimed, exc, dlog)
        dlog.info("%s.%s: %s", delivery.event, delivery.action, outcome)
        return outcome

    def _finish(self, delivery_id: str, effects: Effects, outcome: str) -> None:
        """The delivery is done and its writes are stored, in one transaction: a crash before the
        commit runs the delivery again (producing the same keys), after it nothing runs twice."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            tx.put(effects, now, delivery_id)
            tx.finish_delivery(delivery_id, outcome, now)
        if effects.items:
            self.writes_waiting.notify()

    def _retry_or_fail(self, claimed: Claimed, exc: Exception,
                       dlog: logging.LoggerAdapter) -> str:  # type: ignore[type-arg]
        now = self.clock.now()
        known = isinstance(exc, GitHubError)
        retry_at = exc.retry_at if isinstance(exc, GitHubError) else None
        if claimed.attempts >= MAX_ATTEMPTS:
            outcome = f"gave up after {claimed.attempts} attempts: {exc}"
            dlog.error(outcome, exc_info=not known)
            self.inbox.fail(claimed.delivery.id, outcome, now)
            self.jobs.abandon(claimed.delivery.id)
            return outcome
        at = retry_at or now + min(MAX_BACKOFF, 2.0 ** claimed.attempts)
        outcome = f"attempt {claimed.attempts} failed, retrying in {at - now:.0f} s: {exc}"
        dlog.warning(outcome, exc_info=not known)
        self.inbox.retry(claimed.delivery.id, outcome, at)
        return outcome


class WorkerPool:
    """`count` threads that claim deliveries; `deliveries_waiting` wakes them when one arrives."""

    def __init__(self, processor: DeliveryProcessor, clock: Clock, count: int, deliveries_waiting: Wakeup) -> None:
        self.processor = processor
        self.inbox = processor.inbox
        self.clock = clock
        self.count = count
        self.deliveries_waiting = deliveries_waiting
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []

    def start(self) -> None:
        for number in range(self.count):
            thread = threading.Thread(target=self._loop, args=(f"worker-{number}",), name=f"worker-{number}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.deliveries_waiting.notify()
        for thread in self._threads:
            thread.join(timeout)

    def run_until_idle(self, worker: str = "inline") -> int:
        """Process every ready delivery in this thread (replay, tests). Returns how many ran."""
        count = 0
        while (claimed := self.inbox.claim(worker, self.clock.now())) is not None:
            self.processor.process(claimed)
            count += 1
        return count

    def _loop(self, name: str) -> None:
        while not self._stop.is_set():
            try:
                claimed = self.inbox.claim(name, self.clock.now())
                if claimed is not None:
                    self.processor.process(claimed)
                    continue
                next_at = self.inbox.next_ready_at()
            except Exception:
                log.exception("%s: inbox access failed; retrying", name)
                next_at = None
            wait = 1.0 if next_at is None else min(1.0, max(0.01, next_at - self.clock.now()))
            if not self._stop.is_set():
                self.deliveries_waiting.wait(wait)
