"""The inbox: stored once, claimed in order per PR, resumed after a crash."""

from __future__ import annotations

from pathlib import Path

from eessi_bot.adapters.sqlite.db import Database
from eessi_bot.adapters.sqlite.inbox import Inbox
from eessi_bot.core.effects import Effects
from eessi_bot.core.webhook import Delivery, parse_delivery


def delivery(delivery_id: str, number: int = 1, repo: str = "o/r") -> Delivery:
    body = f'{{"action":"created","issue":{{"number":{number}}},"repository":{{"full_name":"{repo}"}}}}'
    return parse_delivery({"x-github-delivery": delivery_id, "x-github-event": "issue_comment"}, body.encode())


def test_same_id_is_stored_once(tmp_path: Path) -> None:
    inbox = Inbox(Database(tmp_path / "db"))
    assert inbox.store(delivery("a"), 1.0)
    assert not inbox.store(delivery("a"), 2.0)
    assert inbox.counts() == {"pending": 1}


def test_one_subject_at_a_time_in_order(tmp_path: Path) -> None:
    inbox = Inbox(Database(tmp_path / "db"))
    for index, (delivery_id, number) in enumerate([("a1", 1), ("a2", 1), ("b1", 2)]):
        inbox.store(delivery(delivery_id, number), float(index))
    first = inbox.claim("w1", 10.0)
    second = inbox.claim("w2", 10.0)
    assert first is not None and second is not None
    assert (first.delivery.id, second.delivery.id) == ("a1", "b1")
    assert inbox.claim("w3", 10.0) is None, "a2 must wait until a1 of the same PR is done"
    inbox.finish("a1", Effects(), "ok", 11.0)
    third = inbox.claim("w3", 12.0)
    assert third is not None and third.delivery.id == "a2"


def test_unfinished_work_is_resumed_after_a_crash(tmp_path: Path) -> None:
    inbox = Inbox(Database(tmp_path / "db"))
    inbox.store(delivery("a"), 1.0)
    claimed = inbox.claim("w1", 2.0)
    assert claimed is not None and claimed.attempts == 1
    restarted = Inbox(Database(tmp_path / "db"))
    assert restarted.requeue_unfinished() == 1
    again = restarted.claim("w1", 3.0)
    assert again is not None and again.delivery.id == "a" and again.attempts == 2


def test_retry_waits_and_fail_is_final(tmp_path: Path) -> None:
    inbox = Inbox(Database(tmp_path / "db"))
    inbox.store(delivery("a"), 1.0)
    inbox.store(delivery("b", 2), 1.0)
    assert inbox.claim("w", 2.0) is not None
    inbox.retry("a", "GitHub down", 100.0)
    claimed = inbox.claim("w", 3.0)
    assert claimed is not None and claimed.delivery.id == "b"
    inbox.fail("b", "malformed", 4.0)
    assert inbox.claim("w", 50.0) is None
    assert inbox.next_ready_at() == 100.0
    assert inbox.claim("w", 100.0) is not None
    assert inbox.counts() == {"failed": 1, "processing": 1}


def test_a_retrying_delivery_is_not_overtaken_by_a_later_one_of_its_pr(tmp_path: Path) -> None:
    """A `bot: cancel` (or a close) must not run before the build it follows, which waits for a retry."""
    inbox = Inbox(Database(tmp_path / "db"))
    inbox.store(delivery("build"), 1.0)
    inbox.store(delivery("cancel"), 2.0)
    inbox.store(delivery("other-pr", 9), 3.0)
    claimed = inbox.claim("w", 10.0)
    assert claimed is not None and claimed.delivery.id == "build"
    inbox.retry("build", "GitHub 502", 100.0)
    later = inbox.claim("w", 11.0)
    assert later is not None and later.delivery.id == "other-pr"
    assert inbox.claim("w", 12.0) is None
    again = inbox.claim("w", 100.0)
    assert again is not None and again.delivery.id == "build"
