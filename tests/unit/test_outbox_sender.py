"""The outbox sender: paced, retried, never posting a comment twice."""

from __future__ import annotations

from typing import Callable, List

import pytest

from eessi_bot.core.effects import Effects, marker
from eessi_bot.core.pacing import Pacer
from eessi_bot.ports.github import NotFound, RateLimited, Rejected, Transient
from eessi_bot.ports.store import Store
from eessi_bot.ports.wakeup import Wakeup
from eessi_bot.service.identity import Identity
from eessi_bot.service.outbox_sender import FRESH_JOB_SETTLE, MAX_ATTEMPTS, OutboxSender
from tests.fakes.clock import FakeClock
from tests.fakes.github_port import FlakyGitHub

REPO = "org/repo"


class Setup:
    def __init__(self, store: Store, pacer: Pacer | None = None) -> None:
        self.clock = FakeClock()
        self.github = FlakyGitHub(app_id=7, slug="bot")
        self.store = store
        self.outbox = store.outbox
        self.sender = OutboxSender(self.outbox, self.github, Identity(7, self.github, store), self.clock, Wakeup(),
                                   pacer)

    def put(self, effects: Effects) -> None:
        with self.store.transaction() as tx:
            tx.put(effects, self.clock.now())

    def comment(self, key: str, body: str, issue: int = 1) -> None:
        effects = Effects()
        effects.comment(key, REPO, issue, body)
        self.put(effects)

    def bodies(self, issue: int = 1) -> list:
        """Comment texts without the marker (read directly, not through the recorded port calls)."""
        return [c.body.split("\n\n<!--")[0] for r, n, c in self.github.comments.values() if (r, n) == (REPO, issue)]


@pytest.fixture
def setup(store: Store) -> Setup:
    return Setup(store)


def test_create_then_edit_only_when_changed(setup: Setup) -> None:
    setup.comment("k", "first")
    setup.sender.send_due()
    setup.comment("k", "first")
    setup.sender.send_due()
    assert setup.github.calls == ["create"]
    setup.comment("k", "second")
    setup.sender.send_due()
    assert setup.github.calls == ["create", "edit"]
    assert setup.bodies() == ["second"]


def test_updates_between_sends_are_coalesced(setup: Setup) -> None:
    setup.comment("k", "v1")
    setup.sender.send_due()
    for version in ("v2", "v3", "v4"):
        setup.comment("k", version)
    setup.sender.send_due()
    assert setup.github.calls == ["create", "edit"]
    assert setup.bodies() == ["v4"]


def test_uncertain_post_is_not_repeated(setup: Setup) -> None:
    """A 5xx after GitHub made the comment: the next attempt finds it by its marker."""
    setup.github.fail("create", Transient("HTTP 502"), after_effect=True)
    setup.comment("k", "hello")
    setup.sender.send_due()
    assert len(setup.github.comments) == 1
    setup.clock.advance(5)
    setup.sender.send_due()
    assert setup.github.calls == ["create", "list"]
    assert setup.bodies() == ["hello"]
    item = setup.outbox.get("k")
    assert item is not None and item.result_id is not None and not item.in_flight


def test_post_that_never_happened_is_retried(setup: Setup) -> None:
    setup.github.fail("create", Transient("timeout"))
    setup.comment("k", "hello")
    setup.sender.send_due()
    assert setup.github.comments == {}
    setup.clock.advance(5)
    setup.sender.send_due()
    assert setup.github.calls == ["create", "list", "create"]
    assert setup.bodies() == ["hello"]


def test_copied_marker_does_not_fool_the_bot(setup: Setup) -> None:
    """A user quoting our marker must not make the bot adopt (and later edit) the user's comment."""
    setup.github.fail("create", Transient("timeout"))
    setup.comment("k", "hello")
    setup.sender.send_due()
    setup.github.add_user_comment(REPO, 1, "look: " + marker("k"), login="mallory")
    setup.clock.advance(5)
    setup.sender.send_due()
    assert setup.bodies()[-1] == "hello"
    assert setup.github.calls == ["create", "list", "create"]


def test_rate_limit_waits_until_reset(setup: Setup) -> None:
    setup.github.fail("create", RateLimited("secondary rate limit", setup.clock.now() + 60))
    setup.comment("k", "hello")
    assert setup.sender.send_due() == pytest.approx(60)
    setup.clock.advance(30)
    setup.sender.send_due()
    assert setup.github.comments == {}
    setup.clock.advance(31)
    setup.sender.send_due()
    assert setup.bodies() == ["hello"]


def test_refused_write_is_given_up_not_retried(setup: Setup) -> None:
    setup.github.fail("create", Rejected("HTTP 422: body too long", 422))
    setup.comment("k", "hello")
    setup.sender.send_due()
    setup.clock.advance(3600)
    assert setup.sender.send_due() is None
    assert setup.github.calls == ["create"]
    assert setup.outbox.counts() == {"pending": 0, "failed": 1, "sent": 0}


def test_deleted_comment_is_made_again(setup: Setup) -> None:
    setup.comment("k", "v1")
    setup.sender.send_due()
    setup.github.comments.clear()
    setup.comment("k", "v2")
    setup.sender.send_due()
    setup.sender.send_due()
    assert setup.github.calls == ["create", "edit", "create"]
    assert setup.bodies() == ["v2"]


def test_github_outages_are_waited_out(setup: Setup) -> None:
    """A result must not be lost because GitHub answered 5xx for an hour."""
    for _ in range(MAX_ATTEMPTS + 3):
        setup.github.fail("react", Transient("HTTP 503"))
    effects = Effects()
    effects.reaction("r", REPO, 5, "eyes")
    setup.put(effects)
    for _ in range(MAX_ATTEMPTS + 4):
        setup.sender.send_due()
        setup.clock.advance(400)
    assert setup.github.calls.count("react") == MAX_ATTEMPTS + 4
    assert setup.outbox.counts() == {"pending": 0, "failed": 0, "sent": 1}


class Broken(FlakyGitHub):
    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        self.calls.append("react")
        raise KeyError("a bug")


def test_a_bug_is_given_up_after_a_few_attempts(store: Store) -> None:
    setup = Setup(store)
    setup.github = Broken(app_id=7, slug="bot")
    setup.sender.github = setup.github
    effects = Effects()
    effects.reaction("r", REPO, 5, "eyes")
    setup.put(effects)
    for _ in range(MAX_ATTEMPTS + 3):
        setup.sender.send_due()
        setup.clock.advance(400)
    assert setup.github.calls.count("react") == MAX_ATTEMPTS
    assert setup.outbox.counts()["failed"] == 1


def test_a_rate_limit_holds_back_every_write(setup: Setup) -> None:
    """GitHub's Retry-After is for the App, not for one request: nothing else goes out meanwhile."""
    setup.github.fail("create", RateLimited("secondary rate limit", setup.clock.now() + 60))
    setup.comment("a", "first", issue=1)
    setup.comment("b", "second", issue=2)
    assert setup.sender.send_due() == pytest.approx(60)
    assert setup.github.calls == ["create"]
    setup.clock.advance(61)
    setup.sender.send_due()
    assert setup.github.calls == ["create", "create", "create"]


def test_pacing_holds_writes_back(store: Store) -> None:
    setup = Setup(store, Pacer(((60.0, 3),)))
    for number in range(5):
        setup.comment(f"k{number}", "x", issue=number)
    wait = setup.sender.send_due()
    assert setup.github.calls == ["create"] * 3
    assert wait == pytest.approx(60)
    setup.clock.advance(60)
    setup.sender.send_due()
    assert setup.github.calls == ["create"] * 5


def test_never_posts_a_command_line(setup: Setup) -> None:
    setup.comment("k", "try this:\nbot: build\n   bot: help\n`bot: help` is fine")
    setup.sender.send_due()
    ((_, _, comment),) = setup.github.comments.values()
    body = comment.body
    assert not any(line.lstrip(" ").startswith("bot:") for line in body.splitlines())
    assert "&#98;ot: build" in body


def test_not_found_reaction_target_is_given_up(setup: Setup) -> None:
    setup.github.fail("react", NotFound("HTTP 404"))
    effects = Effects()
    effects.reaction("r", REPO, 5, "eyes")
    setup.put(effects)
    setup.sender.send_due()
    assert setup.outbox.counts()["failed"] == 1


# -- a fresh job comment waits for the job manager's first look (issue 15) -----------------------------

JOB_KEY = "job:d1:3:cpu_zen2:eessi.io-2023.06-software"


@pytest.mark.parametrize(("key", "settle", "first_calls"), [
    (JOB_KEY, FRESH_JOB_SETTLE, []),
    ("jobs:d1:3", FRESH_JOB_SETTLE, []),
    ("response:org/repo:77", FRESH_JOB_SETTLE, ["create"]),
    (JOB_KEY, 0.0, ["create"]),
], ids=["job-comment-settles", "summary-settles", "answer-never-waits", "send-due-alone-sends-at-once"])
def test_a_fresh_job_comment_waits_at_most_the_settle_time(setup: Setup, key: str, settle: float,
                                                           first_calls: list) -> None:
    setup.sender.settle = settle
    setup.comment(key, "submitted")
    setup.sender.send_due()
    assert setup.github.calls == first_calls
    setup.clock.advance(FRESH_JOB_SETTLE - 0.1)
    setup.sender.send_due()
    assert setup.github.calls == first_calls
    setup.clock.advance(0.1)
    setup.sender.send_due()
    assert setup.github.calls == ["create"]
    assert setup.bodies() == ["submitted"]


def test_a_newer_state_ends_the_wait_and_the_comment_is_created_with_it(setup: Setup) -> None:
    """The job manager's release stores a new body: it goes out at once, as the comment's first version."""
    setup.sender.settle = FRESH_JOB_SETTLE
    setup.comment(JOB_KEY, "submitted")
    assert setup.sender.send_due() == pytest.approx(FRESH_JOB_SETTLE)
    setup.clock.advance(0.5)
    setup.comment(JOB_KEY, "submitted, released")
    setup.sender.send_due()
    assert setup.github.calls == ["create"]
    assert setup.bodies() == ["submitted, released"]
    setup.clock.advance(FRESH_JOB_SETTLE)
    setup.sender.send_due()
    assert setup.github.calls == ["create"], "created once"
    setup.comment(JOB_KEY, "submitted, released, running")
    setup.sender.send_due()
    assert setup.github.calls == ["create", "edit"], "a made comment's edits never wait"


def test_the_reaction_and_the_answer_go_out_while_job_comments_wait(setup: Setup) -> None:
    setup.sender.settle = FRESH_JOB_SETTLE
    for number in range(3):
        setup.comment(f"job:d1:3:node{number}:repo", "submitted", issue=1)
    effects = Effects()
    effects.reaction("reaction:org/repo:77", REPO, 77, "eyes")
    effects.comment("response:org/repo:77", REPO, 1, "submitted 3 jobs")
    setup.put(effects)
    setup.sender.send_due()
    assert setup.github.calls == ["react", "create"]
    assert setup.bodies() == ["submitted 3 jobs"]
    assert setup.outbox.counts() == {"pending": 3, "failed": 0, "sent": 2}


def _made_then_changed(setup: Setup) -> None:
    setup.comment(JOB_KEY, "submitted")
    setup.sender.send_due()
    setup.sender.settle = FRESH_JOB_SETTLE
    setup.comment(JOB_KEY, "submitted, released")


def _changed_before_the_first_look(setup: Setup) -> None:
    setup.sender.settle = FRESH_JOB_SETTLE
    setup.comment(JOB_KEY, "submitted")
    setup.comment(JOB_KEY, "submitted, released")


def _uncertain_post(setup: Setup) -> None:
    setup.github.fail("create", Transient("timeout"), after_effect=True)
    setup.comment(JOB_KEY, "submitted, released")
    setup.sender.send_due()
    setup.sender.settle = FRESH_JOB_SETTLE
    setup.clock.advance(5)


@pytest.mark.parametrize(("before", "calls"), [
    (_made_then_changed, ["create", "edit"]),
    (_changed_before_the_first_look, ["create"]),
    (_uncertain_post, ["create", "list"]),
], ids=["made-then-changed", "newer-state-at-the-first-look", "uncertain-post-looked-for"])
def test_what_goes_out_at_once(setup: Setup, before: Callable[[Setup], None], calls: List[str]) -> None:
    """Only the build's first body of a comment never sent waits: a comment made (or maybe made, by a POST
    whose answer was lost) or one whose job the manager has already moved on goes out now."""
    before(setup)
    setup.sender.send_due()
    assert setup.github.calls == calls
    assert setup.bodies() == ["submitted, released"]
