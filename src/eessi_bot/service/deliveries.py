"""Deliveries taken from the App's log of webhook deliveries: intake without a relay, and recovery.

With `[github] intake = poll` or `both`, a pass at start and every `poll_interval_deliveries` seconds
lists the log (newest first, GitHub's `Link` pages) down to what it saw before, fetches each new delivery
of this installation and stores its payload in the inbox under its guid: the bot needs no inbound port,
a delivery that came by webhook as well is stored once, and what came while the bot was stopped (within
`recover_deliveries_hours`) is taken up at start. With `intake = webhook`, a recovery pass at start and
every `RECOVER_EVERY` seconds does the same for the attempts GitHub could not deliver in the last
`recover_deliveries_hours` (GitHub never redelivers by itself). Each kind of pass keeps its mark in the
database, so a restart reads only what is new, and the inbox keeps every guid handled, so nothing is
handled twice. The choices are `core/deliveries.py`'s; this thread only reads and stores.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from typing import Callable, List, Optional, Protocol, Sequence, Set

from eessi_bot.core.config.model import GitHubSettings
from eessi_bot.core.deliveries import (
    MARKS_KEY,
    RECOVER_EVERY,
    LoggedDelivery,
    Marks,
    Scan,
    delivery_from_log,
    late_since,
    next_mark,
    plan_page,
    scan_floor,
)
from eessi_bot.core.webhook import Delivery, DeliveryError
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.github import DeliveriesLog, GitHubError, NotFound, RateLimited
from eessi_bot.ports.wakeup import Wakeup

log = logging.getLogger(__name__)

POLL = "poll"
RECOVER = "recover"


class FetchedInbox(Protocol):
    """What the passes need of the inbox."""

    def store_fetched(self, delivery: Delivery, now: float, late_since: Optional[float]) -> bool: ...

    def known(self, ids: Sequence[str]) -> Set[str]: ...

    def first_received_at(self) -> Optional[float]: ...


class Meta(Protocol):
    def get_meta(self, key: str) -> Optional[str]: ...

    def set_meta(self, key: str, value: str) -> None: ...


@dataclass
class PassReport:
    """What one pass did."""

    kind: str
    pages: int = 0
    fetched: int = 0
    stored: List[str] = field(default_factory=list)
    """Guids stored in the inbox by this pass."""
    unusable: int = 0
    failed: int = 0


class DeliveryIntake:
    """The poll and recovery passes over the log of deliveries, and the thread that runs them."""

    def __init__(self, settings: GitHubSettings, deliveries: DeliveriesLog, inbox: FetchedInbox, meta: Meta,
                 clock: Clock, deliveries_waiting: Wakeup) -> None:
        self.settings = settings
        self.deliveries = deliveries
        self.inbox = inbox
        self.meta = meta
        self.clock = clock
        self.deliveries_waiting = deliveries_waiting
        """Notified when a pass stored a delivery (the workers take it)."""
        self._unusable: Set[str] = set()
        """Guids whose logged payload cannot be a delivery: looked at once per process."""
        self._failing: Optional[str] = None
        """The kind of failure last logged, so a long outage is one warning, not one per pass."""
        self._started = clock.now()

    @property
    def active(self) -> bool:
        """Whether this instance reads the log at all (poll intake, or recovery not turned off)."""
        return self.settings.polls or self.recovers

    @property
    def recovers(self) -> bool:
        """Whether recovery passes run: with webhook intake (polling recovers by itself), unless off."""
        return not self.settings.polls and self.settings.recover_deliveries_hours > 0

    def poll(self) -> PassReport:
        """Take up every delivery of this installation not seen before."""
        return self._pass(POLL)

    def recover(self) -> PassReport:
        """Take up the failed deliveries of the recovery window that are not in the inbox."""
        return self._pass(RECOVER)

    def marks(self) -> Marks:
        """The stored marks; on the very first start they are made (since now, or since the oldest
        delivery of an inbox an earlier version of the bot filled) and stored at once."""
        stored = self.meta.get_meta(MARKS_KEY)
        marks = Marks.from_json(stored, self.inbox.first_received_at() or self.clock.now())
        if stored is None:
            self.meta.set_meta(MARKS_KEY, marks.to_json())
        return marks

    def _pass(self, kind: str) -> PassReport:
        marks = self.marks()
        mark = marks.poll if kind == POLL else marks.recover
        scan = Scan(self.settings.installation_id,
                    scan_floor(marks.since, mark, self.clock.now(), self.settings.recover_deliveries_hours,
                               self._started),
                    failed_only=kind == RECOVER)
        report = PassReport(kind)
        seen_at: List[float] = []
        failed_at: List[float] = []
        taken = set(self._unusable)
        next_url: Optional[str] = None
        while True:
            page = self.deliveries.list_deliveries(next_url)
            report.pages += 1
            seen_at.extend(item.delivered_at for item in page.items)
            ours = [item.guid for item in page.items if item.installation_id == scan.installation_id]
            plan = plan_page(page.items, scan, taken | self.inbox.known(ours))
            for item in plan.fetch:
                taken.add(item.guid)
                try:
                    self._take(item, kind, report)
                except GitHubError as exc:
                    report.failed += 1
                    failed_at.append(item.delivered_at)
                    log.warning("cannot fetch delivery %s from GitHub's log: %s (tried again next pass)",
                                item.guid, exc, extra={"delivery_id": item.guid})
            if not plan.more or page.next_url is None:
                break
            next_url = page.next_url
        new = next_mark(mark, seen_at, failed_at)
        self.meta.set_meta(MARKS_KEY, (replace(marks, poll=new) if kind == POLL
                                       else replace(marks, recover=new)).to_json())
        return report

    def _take(self, item: LoggedDelivery, kind: str, report: PassReport) -> None:
        payload = self.deliveries.delivery_payload(item.id)
        report.fetched += 1
        dlog = logging.LoggerAdapter(log, {"delivery_id": item.guid})
        try:
            delivery = delivery_from_log(item, payload, self.settings.installation_id)
        except DeliveryError as exc:
            self._unusable.add(item.guid)
            report.unusable += 1
            dlog.warning("GitHub's log of deliveries holds %s.%s, which cannot be handled: %s", item.event,
                         item.action, exc)
            return
        now = self.clock.now()
        late = late_since(item.delivered_at, now, self.settings.poll_interval_deliveries if kind == POLL else None)
        if not self.inbox.store_fetched(delivery, now, late):
            return
        report.stored.append(item.guid)
        self.deliveries_waiting.notify()
        if kind == RECOVER:
            dlog.info("recovered %s.%s from GitHub's log of deliveries: GitHub could not deliver it %.0f s ago",
                      item.event, item.action, now - item.delivered_at)
        else:
            dlog.info("took %s.%s from GitHub's log of deliveries (sent %.0f s ago)", item.event, item.action,
                      now - item.delivered_at)

    def run(self, stop: threading.Event) -> None:
        """The thread: a poll pass at start and every interval (`poll`, `both`), else a recovery pass at
        start and every `RECOVER_EVERY` seconds; a failing GitHub is asked again at the next pass, or when
        it says."""
        if not self.active:
            return
        one_pass, every = ((self.poll, float(self.settings.poll_interval_deliveries)) if self.settings.polls
                           else (self.recover, RECOVER_EVERY))
        while not stop.is_set():
            began = self.clock.now()
            resume = self._guarded(one_pass)
            stop.wait(max(0.0, max(began + every, resume) - self.clock.now()))

    def _guarded(self, one_pass: Callable[[], PassReport]) -> float:
        """Run a pass; never let a failure end the thread. Returns when GitHub allows the next request
        (0: at once)."""
        try:
            report = one_pass()
        except RateLimited as exc:
            self._failed("rate", "GitHub's rate limit: the log of deliveries is read again in %.0f s",
                         (exc.retry_at or 0.0) - self.clock.now())
            return exc.retry_at or 0.0
        except NotFound as exc:
            self._failed("missing", "GitHub has no log of webhook deliveries for this App (%s): give the App an "
                         "active webhook (with intake = poll any URL will do: failed deliveries are logged too)",
                         exc)
            return 0.0
        except GitHubError as exc:
            self._failed("error", "cannot read GitHub's log of webhook deliveries: %s (asked again at the next "
                         "pass)", exc)
            return 0.0
        except Exception:
            log.exception("reading GitHub's log of webhook deliveries failed; asked again at the next pass")
            return 0.0
        if self._failing is not None:
            log.info("GitHub's log of webhook deliveries can be read again")
            self._failing = None
        if report.stored:
            log.info("%s pass: deliveries stored: %d (pages of the log read: %d)", report.kind, len(report.stored),
                     report.pages)
        return 0.0

    def _failed(self, kind: str, message: str, *args: object) -> None:
        log.log(logging.WARNING if self._failing != kind else logging.DEBUG, message, *args)
        self._failing = kind
