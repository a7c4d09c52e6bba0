"""The pure decisions of reading GitHub's log of webhook deliveries (`eessi_bot.core.deliveries`), the
retention rule that keeps what recovery can bring back, and the `[github]` keys of intake."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import pytest

from eessi_bot.adapters.config_files import load_config
from eessi_bot.cli.check_config import summary
from eessi_bot.core.config import Config
from eessi_bot.core.deliveries import (
    CLOCK_MARGIN,
    OVERLAP,
    LoggedDelivery,
    Marks,
    Scan,
    delivery_from_log,
    late_since,
    logged_delivery,
    next_mark,
    parse_time,
    plan_page,
    scan_floor,
)
from eessi_bot.core.retention import DAY, HOUR, RECOVERY_MARGIN, cutoffs
from eessi_bot.core.webhook import MAX_BODY_BYTES, DeliveryError
from tests.fakes.site import write_site

OURS = 99
OTHER = 77
NOW = 1_750_000_000.0


def attempt(guid: str, ago: float, status_code: int = 200, installation: Optional[int] = OURS,
            ident: int = 0) -> LoggedDelivery:
    return LoggedDelivery(id=ident or int(NOW - ago), guid=guid, event="issue_comment", action="created",
                          delivered_at=NOW - ago, status_code=status_code, installation_id=installation)


PLANS: List[Tuple[str, Sequence[LoggedDelivery], Scan, frozenset, Tuple[str, ...], bool]] = [
    # (id, page newest first, scan, seen guids, guids to fetch, read on)
    ("all-new", [attempt("a", 10), attempt("b", 20)], Scan(OURS, NOW - 100, False), frozenset(), ("a", "b"), True),
    ("stops-at-seen", [attempt("a", 10), attempt("b", 20)], Scan(OURS, NOW - 100, False), frozenset({"b"}),
     ("a",), True),
    ("nothing-new", [attempt("a", 10)], Scan(OURS, NOW - 100, False), frozenset({"a"}), (), True),
    ("other-installation", [attempt("a", 10, installation=OTHER), attempt("b", 20, installation=None),
                            attempt("c", 30)], Scan(OURS, NOW - 100, False), frozenset(), ("c",), True),
    ("failed-only", [attempt("ok", 10, 200), attempt("refused", 20, 0), attempt("5xx", 30, 502),
                     attempt("401", 40, 401), attempt("redirect", 50, 302)], Scan(OURS, NOW - 100, True),
     frozenset(), ("refused", "5xx", "401", "redirect"), True),
    ("poll-takes-any-status", [attempt("ok", 10, 200), attempt("refused", 20, 0)], Scan(OURS, NOW - 100, False),
     frozenset(), ("ok", "refused"), True),
    ("floor-ends-the-pass", [attempt("a", 10), attempt("old", 200)], Scan(OURS, NOW - 100, False), frozenset(),
     ("a",), False),
    ("at-the-floor", [attempt("a", 100)], Scan(OURS, NOW - 100, False), frozenset(), ("a",), True),
    ("redelivery-once", [attempt("a", 10, 0, ident=2), attempt("a", 20, 0, ident=1)], Scan(OURS, NOW - 100, True),
     frozenset(), ("a",), True),
    ("empty-page", [], Scan(OURS, NOW - 100, False), frozenset(), (), False),
]


@pytest.mark.parametrize(("page", "scan", "seen", "fetch", "more"), [p[1:] for p in PLANS], ids=[p[0] for p in PLANS])
def test_plan_page(page: Sequence[LoggedDelivery], scan: Scan, seen: frozenset, fetch: Tuple[str, ...],
                   more: bool) -> None:
    plan = plan_page(page, scan, seen)
    assert tuple(item.guid for item in plan.fetch) == fetch
    assert plan.more is more


def test_a_redelivery_is_fetched_in_its_newest_attempt() -> None:
    plan = plan_page([attempt("a", 10, 0, ident=2), attempt("a", 20, 0, ident=1)], Scan(OURS, NOW - 100, True),
                     frozenset())
    assert [item.id for item in plan.fetch] == [2]


STARTED = NOW - 30
FLOORS = [
    # (id, since, mark, window hours, floor): this process started 30 s ago
    ("first-start", NOW - 50, None, 72, NOW - 50),
    ("mark-less-overlap", NOW - 10 * DAY, NOW - 600, 72, NOW - 600 - OVERLAP),
    ("window-bounds-an-old-mark", NOW - 10 * DAY, NOW - 5 * DAY, 72, NOW - 72 * HOUR),
    ("since-bounds-the-window", NOW - HOUR, None, 72, NOW - HOUR),
    ("recovery-off-takes-up-nothing-missed", NOW - 10 * DAY, NOW - 5 * DAY, 0, STARTED - CLOCK_MARGIN),
    ("recovery-off-first-start", NOW - 20, None, 0, NOW - 20),
]


@pytest.mark.parametrize(("since", "mark", "hours", "floor"), [f[1:] for f in FLOORS], ids=[f[0] for f in FLOORS])
def test_scan_floor(since: float, mark: Optional[float], hours: int, floor: float) -> None:
    assert scan_floor(since, mark, NOW, hours, STARTED) == floor


MARKS = [
    # (id, old mark, seen, failed, new mark)
    ("first-pass", None, [NOW - 5, NOW - 9], [], NOW - 5),
    ("empty-log", None, [], [], None),
    ("nothing-newer", NOW - 1, [NOW - 5], [], NOW - 1),
    ("moves-on", NOW - 60, [NOW - 5, NOW - 70], [], NOW - 5),
    ("stays-for-a-failed-fetch", NOW - 60, [NOW - 5, NOW - 30], [NOW - 30, NOW - 20], NOW - 30),
]


@pytest.mark.parametrize(("old", "seen", "failed", "new"), [m[1:] for m in MARKS], ids=[m[0] for m in MARKS])
def test_next_mark(old: Optional[float], seen: List[float], failed: List[float], new: Optional[float]) -> None:
    assert next_mark(old, seen, failed) == new


LATE = [
    # (id, seconds since GitHub sent it, poll interval (None: recovered), late)
    ("recovered-at-once", 2, None, True),
    ("polled-in-time", 29, 15, False),
    ("polled-at-the-margin", 90, 15, False),
    ("polled-after-a-stop", 91, 15, True),
    ("slow-poll-in-time", 650, 300, False),
]


@pytest.mark.parametrize(("ago", "interval", "late"), [c[1:] for c in LATE], ids=[c[0] for c in LATE])
def test_late_since(ago: float, interval: Optional[int], late: bool) -> None:
    assert late_since(NOW - ago, NOW, interval) == (NOW - ago if late else None)


GUID = "0b989ba4-242f-11e5-81e1-c7b6966d2516"
ITEM = {"id": 12345678, "guid": GUID, "delivered_at": "2019-06-03T00:57:16Z",
        "redelivery": False, "duration": 0.27, "status": "OK", "status_code": 200, "event": "issues",
        "action": "opened", "installation_id": 123, "repository_id": 456, "throttled_at": None}
ITEMS = [
    # (id, item, parsed or None)
    ("github-example", ITEM, LoggedDelivery(12345678, GUID, "issues", "opened", 1559523436.0, 200, 123)),
    ("no-installation", {**ITEM, "installation_id": None, "action": None},
     LoggedDelivery(12345678, GUID, "issues", None, 1559523436.0, 200, None)),
    ("fractional-time", {**ITEM, "delivered_at": "2019-06-03T00:57:16.500Z"},
     LoggedDelivery(12345678, GUID, "issues", "opened", 1559523436.5, 200, 123)),
    ("no-status-code", {k: v for k, v in ITEM.items() if k != "status_code"},
     LoggedDelivery(12345678, GUID, "issues", "opened", 1559523436.0, 0, 123)),
    ("no-guid", {k: v for k, v in ITEM.items() if k != "guid"}, None),
    ("text-id", {**ITEM, "id": "12345678"}, None),
    ("bad-time", {**ITEM, "delivered_at": "yesterday"}, None),
    ("local-time", {**ITEM, "delivered_at": "2019-06-03T00:57:16"}, None),
    ("not-an-object", ["a"], None),
]


@pytest.mark.parametrize(("item", "parsed"), [c[1:] for c in ITEMS], ids=[c[0] for c in ITEMS])
def test_logged_delivery(item: Any, parsed: Optional[LoggedDelivery]) -> None:
    assert logged_delivery(item) == parsed


def test_parse_time_is_utc() -> None:
    assert parse_time("1970-01-01T00:01:00Z") == 60.0


COMMENT = {"action": "created", "installation": {"id": OURS}, "issue": {"number": 7, "pull_request": {}},
           "repository": {"full_name": "eessi/software-layer"}, "comment": {"body": "bot: help"}}
PAYLOADS = [
    # (id, payload, guid, what is wrong or None)
    ("a-comment", COMMENT, "guid-1", None),
    ("no-installation-in-payload", {k: v for k, v in COMMENT.items() if k != "installation"}, "guid-1", None),
    ("no-payload", None, "guid-1", "GitHub's log holds no payload for it"),
    ("other-installation", {**COMMENT, "installation": {"id": OTHER}}, "guid-1",
     f"it belongs to installation {OTHER}, not {OURS}"),
    ("too-large", {**COMMENT, "comment": {"body": "x" * MAX_BODY_BYTES}}, "guid-1", "its payload is larger than 25 MB"),
    ("bad-guid", COMMENT, "guid with spaces", "missing or malformed X-GitHub-Delivery header"),
]


@pytest.mark.parametrize(("payload", "guid", "problem"), [c[1:] for c in PAYLOADS], ids=[c[0] for c in PAYLOADS])
def test_delivery_from_log(payload: Any, guid: str, problem: Optional[str]) -> None:
    item = replace(attempt(guid, 5), event="issue_comment")
    if problem is not None:
        with pytest.raises(DeliveryError) as caught:
            delivery_from_log(item, payload, OURS)
        assert str(caught.value) == problem
        return
    delivery = delivery_from_log(item, payload, OURS)
    assert (delivery.id, delivery.event, delivery.action, delivery.subject) == (
        guid, "issue_comment", "created", "eessi/software-layer#7")
    assert json.loads(delivery.body) == payload


STORED = [
    # (id, stored text, marks)
    ("fresh", None, Marks(since=NOW - CLOCK_MARGIN)),
    ("unreadable", "{not json", Marks(since=NOW - CLOCK_MARGIN)),
    ("no-since", json.dumps({"poll": 5.0}), Marks(since=NOW - CLOCK_MARGIN)),
    ("kept", json.dumps({"since": 10.0, "poll": 20.0, "recover": None}), Marks(since=10.0, poll=20.0)),
]


@pytest.mark.parametrize(("text", "marks"), [c[1:] for c in STORED], ids=[c[0] for c in STORED])
def test_marks_survive_a_restart(text: Optional[str], marks: Marks) -> None:
    assert Marks.from_json(text, NOW) == marks
    assert Marks.from_json(marks.to_json(), 0.0) == marks


def site(tmp_path: Path, github: str = "", clean_up: str = "") -> Tuple[Optional[Config], List[str]]:
    cfg = write_site(tmp_path, github_extra=github, extra=f"\n[clean_up]\n{clean_up}\n" if clean_up else "")
    config, problems = load_config(cfg, {"HOME": str(tmp_path)})
    return config, [p.render() for p in problems if p.severity.name == "ERROR"]


KEEP = [
    # (id, keep_deliveries_days, recover_deliveries_hours, cutoff before now or None)
    ("days-beyond-the-window", 30, 72, 30 * DAY),
    ("window-beyond-the-days", 1, 72, 72 * HOUR + RECOVERY_MARGIN),
    ("recovery-off", 1, 0, DAY),
    ("kept-forever", 0, 72, None),
]


@pytest.mark.parametrize(("days", "hours", "before"), [c[1:] for c in KEEP], ids=[c[0] for c in KEEP])
def test_retention_keeps_what_recovery_can_bring_back(tmp_path: Path, days: int, hours: int,
                                                      before: Optional[float]) -> None:
    config, errors = site(tmp_path, f"recover_deliveries_hours = {hours}", f"keep_deliveries_days = {days}")
    assert config is not None and errors == []
    assert cutoffs(config, NOW).deliveries == (None if before is None else NOW - before)


KEYS = [
    # (id, [github] lines, (intake, interval, hours) or the error)
    ("defaults", "", ("webhook", 15, 72)),
    ("poll", "intake = poll\npoll_interval_deliveries = 1", ("poll", 1, 72)),
    ("both-no-recovery", "intake = Both\nrecover_deliveries_hours = 0", ("both", 15, 0)),
    ("unknown-mode", "intake = smee", "[github] intake = 'smee': is not one of webhook, poll, both"),
    ("interval-zero", "poll_interval_deliveries = 0", "[github] poll_interval_deliveries = '0': must be at least 1 "
     "(seconds between two looks at the App's log of webhook deliveries)"),
    ("negative-hours", "recover_deliveries_hours = -1", "[github] recover_deliveries_hours = '-1': must be at least "
     "0 (hours back to recover deliveries GitHub could not deliver; 0 turns it off)"),
    ("near-miss", "poll_intervall_deliveries = 5", "[github] poll_intervall_deliveries: unknown key; did you mean "
     "`poll_interval_deliveries`? (as written it is ignored and the setting meant keeps its default)"),
]


@pytest.mark.parametrize(("lines", "expected"), [c[1:] for c in KEYS], ids=[c[0] for c in KEYS])
def test_intake_keys(tmp_path: Path, lines: str, expected: Any) -> None:
    config, errors = site(tmp_path, lines)
    if isinstance(expected, str):
        assert [e.split(": error: ", 1)[1] for e in errors] == [expected]
        return
    assert config is not None and errors == []
    github = config.github
    assert (github.intake, github.poll_interval_deliveries, github.recover_deliveries_hours) == expected
    assert github.polls is (github.intake != "webhook")


SUMMARY = [
    # (id, [github] lines, check-config's intake line)
    ("default", "", "intake:              webhooks (POST / on the bot's port); failed deliveries of the last 72 h "
     "recovered"),
    ("poll", "intake = poll\npoll_interval_deliveries = 5", "intake:              GitHub's log of webhook deliveries, "
     "every 5 s (no inbound port needed); failed deliveries of the last 72 h recovered"),
    ("both-no-recovery", "intake = both\nrecover_deliveries_hours = 0", "intake:              webhooks, and GitHub's "
     "log of webhook deliveries every 15 s; failed deliveries not recovered"),
]


@pytest.mark.parametrize(("lines", "expected"), [c[1:] for c in SUMMARY], ids=[c[0] for c in SUMMARY])
def test_check_config_names_the_intake(tmp_path: Path, lines: str, expected: str) -> None:
    config, errors = site(tmp_path, lines)
    assert config is not None and errors == []
    assert [line for line in summary(config) if line.startswith("intake:")] == [expected]
