"""Which of the App's logged webhook deliveries the bot takes up, and when it stops reading the log.

GitHub logs every attempt to deliver the App's webhook (`GET /app/hook/deliveries`, newest first, kept
3 days on github.com, 7 on GitHub Enterprise Server) and never redelivers by itself. The bot reads that
log in one of two kinds of pass: with intake `poll` or `both`, a `poll` pass takes up every delivery of
its installation it has not seen, whatever became of GitHub's attempt (so it also recovers what the
bot missed while it was stopped); with intake `webhook`, a `recover` pass takes up the attempts that
failed. A delivery is known by its guid, the `X-GitHub-Delivery` id under which the webhook endpoint
stores it too, so whichever way it comes first, the inbox keeps one. The decisions live here, free of
I/O; `service/deliveries.py` reads the log and fills the inbox.

A pass stops paging at its floor: the latest of the bot's first start (a fresh data_dir takes up
nothing sent before it existed), the recovery window (with recovery off: this process's start, so
nothing missed while the bot was stopped is taken up), and its mark (the newest attempt a finished pass
saw) less `OVERLAP`. An attempt shows in the log only once it ended, so a page read now may lack one
that started a little before the newest it shows; looking `OVERLAP` behind the mark again finds it,
and what is already in the inbox costs no request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import AbstractSet, Any, List, Mapping, Optional, Sequence, Set, Tuple

from eessi_bot.core.webhook import MAX_BODY_BYTES, Delivery, DeliveryError, parse_delivery

OVERLAP = 120.0
"""Seconds a pass looks behind its mark (GitHub gives up an attempt after 10 s, GHES after 30 s)."""
RECOVER_EVERY = 600.0
"""Seconds between two recovery passes (the first runs at start)."""
LATE_MARGIN = 60.0
"""A polled delivery is late when it comes more than two poll intervals and this many seconds after
GitHub sent it (the bot was stopped); a recovered one always is."""
CLOCK_MARGIN = 60.0
"""Seconds before the first start from which deliveries are taken up: GitHub's times have whole seconds,
and its clock and the bot's differ a little."""
MARKS_KEY = "deliveries_intake"
"""The meta key of `Marks`."""


@dataclass(frozen=True)
class LoggedDelivery:
    """One attempt in the App's log of webhook deliveries (an item of `GET /app/hook/deliveries`)."""

    id: int
    """The attempt's id (for `GET /app/hook/deliveries/{id}`); a redelivery gets a new one."""
    guid: str
    """The event's `X-GitHub-Delivery` id, the same for every attempt."""
    event: str
    action: Optional[str]
    delivered_at: float
    status_code: int
    installation_id: Optional[int]

    @property
    def delivered(self) -> bool:
        """GitHub got a 2xx answer; anything else (4xx, 5xx, no connection: 0, a time-out) is a failure."""
        return 200 <= self.status_code < 300


def parse_time(text: Any) -> Optional[float]:
    """GitHub's `2021-05-12T20:33:44Z` as seconds since the epoch; None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def logged_delivery(item: Any) -> Optional[LoggedDelivery]:
    """An item of the log as the bot needs it; None when it lacks its id, guid, event or time."""
    if not isinstance(item, Mapping):
        return None
    delivered_at = parse_time(item.get("delivered_at"))
    ident, guid, event = item.get("id"), item.get("guid"), item.get("event")
    if not isinstance(ident, int) or not isinstance(guid, str) or not isinstance(event, str) or delivered_at is None:
        return None
    action, status_code, installation = item.get("action"), item.get("status_code"), item.get("installation_id")
    return LoggedDelivery(id=ident, guid=guid, event=event, action=action if isinstance(action, str) else None,
                          delivered_at=delivered_at, status_code=status_code if isinstance(status_code, int) else 0,
                          installation_id=installation if isinstance(installation, int) else None)


@dataclass(frozen=True)
class Marks:
    """What the passes remember across restarts (in the database's meta table, as JSON)."""

    since: float
    """The bot's first start (with this feature) less `CLOCK_MARGIN`: nothing GitHub sent before is
    taken up."""
    poll: Optional[float] = None
    """The newest attempt a finished poll pass saw (GitHub's time)."""
    recover: Optional[float] = None
    """The same for recovery passes."""

    def to_json(self) -> str:
        return json.dumps({"since": self.since, "poll": self.poll, "recover": self.recover})

    @staticmethod
    def from_json(text: Optional[str], first_start: float) -> Marks:
        """The stored marks; for a fresh start (nothing stored, or something unreadable) since
        `first_start` less `CLOCK_MARGIN`."""
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("since"), (int, float)):
            return Marks(since=first_start - CLOCK_MARGIN)
        return Marks(since=float(data["since"]), poll=_number(data.get("poll")), recover=_number(data.get("recover")))


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Scan:
    """What one pass takes up: this installation's attempts from `floor` on (only failed ones when
    `failed_only`)."""

    installation_id: int
    floor: float
    failed_only: bool


def scan_floor(since: float, mark: Optional[float], now: float, window_hours: int, started: float) -> float:
    """Where a pass stops paging: the latest of the first start, the mark less `OVERLAP` and the
    recovery window (`window_hours` 0, recovery off: since this process `started`, less `CLOCK_MARGIN`)."""
    floors = [since, now - window_hours * 3600.0 if window_hours else started - CLOCK_MARGIN]
    if mark is not None:
        floors.append(mark - OVERLAP)
    return max(floors)


@dataclass(frozen=True)
class PagePlan:
    """What to do with one page of the log."""

    fetch: Tuple[LoggedDelivery, ...]
    """Attempts whose payload to fetch and store (one per guid), newest first."""
    more: bool
    """Whether the next page may still hold attempts at or after the floor."""


def plan_page(page: Sequence[LoggedDelivery], scan: Scan, seen: AbstractSet[str]) -> PagePlan:
    """The attempts of `page` to take up: at or after the floor, of this installation (the log is the
    App's, every installation's attempts are in it), failed when the pass wants only those, of a guid
    not in `seen` (the inbox, and what this pass took already); and whether to read on."""
    fetch: List[LoggedDelivery] = []
    taken: Set[str] = set()
    for item in page:
        if (item.delivered_at < scan.floor or item.installation_id != scan.installation_id
                or (scan.failed_only and item.delivered) or item.guid in seen or item.guid in taken):
            continue
        fetch.append(item)
        taken.add(item.guid)
    more = bool(page) and min(item.delivered_at for item in page) >= scan.floor
    return PagePlan(tuple(fetch), more)


def next_mark(old: Optional[float], seen_at: Sequence[float], failed_at: Sequence[float]) -> Optional[float]:
    """The mark after a finished pass: the newest attempt it saw, or, when some payload could not be
    fetched, the oldest of those (the next pass comes back for it)."""
    if failed_at:
        return min(failed_at)
    newest = max(seen_at, default=None)
    if newest is None:
        return old
    return newest if old is None else max(old, newest)


def late_since(delivered_at: float, now: float, poll_interval: Optional[int]) -> Optional[float]:
    """GitHub's time of a delivery that reached the bot late, None when it came in time. A recovered
    delivery (`poll_interval` None) is late: GitHub could not deliver it. A polled one is late when it
    comes more than two intervals and `LATE_MARGIN` after GitHub sent it."""
    if poll_interval is not None and now - delivered_at <= 2 * poll_interval + LATE_MARGIN:
        return None
    return delivered_at


def delivery_from_log(item: LoggedDelivery, payload: Any, installation_id: int) -> Delivery:
    """The inbox's delivery for a logged attempt and the payload GitHub's log holds for it. The log is
    read with the App's JWT, so it is trusted as it is (its raw body and signature are not there).
    DeliveryError when it cannot be one: no payload, another installation's, over 25 MB, a bad guid."""
    if not isinstance(payload, Mapping):
        raise DeliveryError("GitHub's log holds no payload for it")
    installation = payload.get("installation")
    if isinstance(installation, Mapping) and installation.get("id") != installation_id:
        raise DeliveryError(f"it belongs to installation {installation.get('id')}, not {installation_id}")
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        raise DeliveryError("its payload is larger than 25 MB")
    return parse_delivery({"x-github-delivery": item.guid, "x-github-event": item.event}, body)
