"""Every real webhook payload of @octokit/webhooks-examples goes through the bot without harm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.fixtures import webhook_examples_path
from tests.fakes.pipeline import Pipeline

EXAMPLES = json.loads(webhook_examples_path().read_text())
CASES = [(event["name"], index, example) for event in EXAMPLES for index, example in enumerate(event["examples"])]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return Pipeline(tmp_path_factory.mktemp("site"), chatlevel="chatty")


@pytest.mark.parametrize(("event", "index", "payload"), CASES, ids=[f"{e}-{i}" for e, i, _ in CASES])
def test_example_is_handled_or_ignored(bot: Pipeline, event: str, index: int, payload: dict) -> None:
    outcome = bot.deliver(event, payload)
    row_states = bot.runtime.inbox.counts()
    assert "failed" not in row_states, outcome
    assert "gave up" not in outcome and "retrying" not in outcome


def test_examples_cover_the_events_the_bot_acts_on() -> None:
    names = {event["name"] for event in EXAMPLES}
    assert {"issue_comment", "pull_request", "ping", "installation"} <= names
    assert len(CASES) > 100
    assert Path(webhook_examples_path()).stat().st_size > 1_000_000
