"""Exactly once across SIGKILL: every stored delivery is handled after a restart, and nothing twice."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.harness import BotProcess
from tests.e2e.test_intake import bot_comments, comment_payload
from tests.fakes.github_server import FakeGitHub
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

MARKER = re.compile(r"<!-- eessi-bot:response:[^:]+:(\d+) -->")


def test_kill_9_mid_way(tmp_path: Path, github: FakeGitHub) -> None:
    """100 deliveries; the bot is killed while answering them, restarted, and GitHub redelivers all 100.

    Three comment POSTs fail with 502 after GitHub made the comment (an uncertain write): the bot
    must find those comments by their marker instead of posting them again.
    """
    bot = BotProcess(tmp_path, github)
    bot.start()
    github.delay = 0.01
    github.inject_5xx("POST", r"/issues/\d+/comments$", count=3, after_effect=True)
    deliveries = [(str(uuid.uuid4()), comment_payload(github)) for _ in range(100)]
    for delivery_id, payload in deliveries[:70]:
        response, _ = bot.send("issue_comment", payload, delivery_id)
        assert response.status_code == 202
    wait_for(lambda: len(bot_comments(github)) >= 15, timeout=30)
    bot.kill()
    answered_before_kill = len(bot_comments(github))
    assert answered_before_kill < 70, "the kill came too late to test anything"

    bot.start()
    for delivery_id, payload in deliveries[70:]:
        assert bot.send("issue_comment", payload, delivery_id)[0].status_code == 202
    for delivery_id, payload in deliveries:
        assert bot.send("issue_comment", payload, delivery_id)[0].status_code == 200
    wait_for(bot.idle, timeout=90)

    answers = Counter(int(m.group(1)) for c in bot_comments(github) for m in MARKER.finditer(c["body"]))
    asked = {payload["comment"]["id"] for _, payload in deliveries}
    assert set(answers) == asked
    assert max(answers.values()) == 1, [cid for cid, n in answers.items() if n > 1]
    assert len(bot_comments(github)) == 100
    for comment_id in asked:
        assert [r["content"] for r in github.reactions(comment_id)] == ["eyes"]
    assert bot.delivery_states() == {"done": 100}
    bot.stop()
