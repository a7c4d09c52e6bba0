"""A command that reached the bot late (taken from GitHub's log of deliveries after the bot was down) says
so inside its one response comment, at every chatlevel; golden files under tests/golden/late/."""

from __future__ import annotations

import logging
from typing import List, Optional

import pytest

from eessi_bot.adapters.config_files import load_config
from eessi_bot.commands import default_registry
from eessi_bot.core.config import Config
from eessi_bot.core.effects import CommentEffect, ReactionEffect
from eessi_bot.core.webhook import Delivery
from eessi_bot.events.context import EventContext
from eessi_bot.events.issue_comment import on_comment_created
from tests.fakes.deploys import FakeDeploys
from tests.fakes.jobs import FakeJobs
from tests.fakes.site import NODE_TYPE_MAP_WITH_GPU, write_site
from tests.fakes.webhooks import encode, pr_comment_payload
from tests.golden import assert_golden

REPO = "EESSI/software-layer"
PR = 42
SENT = 1_756_375_200.0  # 2025-08-28 10:00:00 UTC
RECEIVED = SENT + 2 * 3600 + 5
LATE_LINE = ("- this comment reached the bot late: GitHub sent it at 2025-08-28 10:00:00 UTC, the bot received it at "
             "2025-08-28 12:00:05 UTC (the bot was stopped or could not be reached, and took the comment from "
             "GitHub's log of deliveries afterwards)")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    cfg = write_site(tmp_path_factory.mktemp("late"), node_type_map=NODE_TYPE_MAP_WITH_GPU, chatlevel="basic",
                     command_permission="maintainer", build_permission="maintainer")
    loaded, problems = load_config(cfg, {"HOME": "/home/bot", "USER": "bot"})
    assert loaded is not None, [p.render() for p in problems]
    return loaded


def answer(config: Config, body: str, late_since: Optional[float]) -> List[str]:
    """The response comments the bot would post for `body`, and nothing else (reactions aside)."""
    payload = pr_comment_payload(body, repo=REPO, pr_number=PR, comment_id=2_345_678_901, sender_login="maintainer")
    ctx = EventContext(delivery=Delivery("d-late", "issue_comment", "created", f"{REPO}#{PR}", encode(payload)),
                       payload=payload, config=config, registry=default_registry(), jobs=FakeJobs(),
                       deploys=FakeDeploys(), received_at=RECEIVED, late_since=late_since,
                       log=logging.LoggerAdapter(logging.getLogger("test_late_answer"), {}))
    on_comment_created(ctx)
    assert all(isinstance(e, (CommentEffect, ReactionEffect)) for e in ctx.effects.items)
    return [e.body for e in ctx.effects.items if isinstance(e, CommentEffect)]


GOLDEN = [
    # (golden file, comment): late answers as the PR shows them
    ("help", "bot: help show_config"),
    ("build_basic", "bot: build for:arch=x86_64/amd/zen2 repo:software"),
]


@pytest.mark.parametrize(("name", "body"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_a_late_answer_matches_its_golden_file(config: Config, name: str, body: str) -> None:
    (comment,) = answer(config, body, SENT)
    assert LATE_LINE in comment.split("\n")
    assert_golden(f"late/{name}.md", comment)


CASES = [
    # (id, comment, late, response comments): the late line makes an answer where an acknowledgement
    # alone would stay quiet (chatlevel basic); other instances' business stays quiet
    ("build-in-time", "bot: build for:arch=x86_64/amd/zen2 repo:software", False, 0),
    ("build-late", "bot: build for:arch=x86_64/amd/zen2 repo:software", True, 1),
    ("other-instances-build-late", "bot: build for:arch=aarch64/neoverse_v1", True, 0),
    ("other-instance-late", "bot: help instance:elsewhere", True, 0),
]


@pytest.mark.parametrize(("body", "late", "comments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_only_a_late_command_for_this_instance_adds_an_answer(config: Config, body: str, late: bool,
                                                              comments: int) -> None:
    bodies = answer(config, body, SENT if late else None)
    assert len(bodies) == comments
    assert all(LATE_LINE in b.split("\n") for b in bodies)


def test_an_answer_in_time_has_no_late_line(config: Config) -> None:
    (comment,) = answer(config, "bot: help", None)
    assert "reached the bot late" not in comment
