"""Webhook payload builders start from GitHub's recorded payloads and sign exactly the bytes they send."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from pathlib import Path
from typing import Optional

import pytest

from tests.fakes import webhooks
from tests.fakes.fixtures import fixtures_dir

SECRET = "it's-a-secret"
REPO = "EESSI/software-layer"


def verifies(body: bytes, signature: str, secret: str = SECRET) -> bool:
    """What a receiver does: recompute HMAC-SHA256 over the raw bytes and compare in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def test_fixtures_dir_explains_how_to_fetch_missing_fixtures(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EESSI_BOT_FIXTURES_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=re.escape("scripts/fetch-fixtures.sh")):
        fixtures_dir()


@pytest.mark.parametrize(
    ("event", "action", "at_least"),
    [
        ("issue_comment", "created", 5),
        ("pull_request", "opened", 4),
        ("pull_request", "labeled", 2),
        ("ping", None, 1),
    ],
)
def test_examples_are_real_recorded_payloads(event: str, action: Optional[str], at_least: int) -> None:
    found = webhooks.examples(event, action)
    assert len(found) >= at_least
    assert all(action is None or payload["action"] == action for payload in found)


def test_examples_are_deep_copies() -> None:
    webhooks.examples("issue_comment", "created")[0]["issue"]["number"] = -1
    assert webhooks.examples("issue_comment", "created")[0]["issue"]["number"] != -1


def test_unknown_event_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="issue_comment"):
        webhooks.examples("no_such_event")


def test_pr_comment_payload_is_on_a_pull_request() -> None:
    payload = webhooks.pr_comment_payload("bot: build", repo=REPO, pr_number=42, installation_id=7)
    issue = payload["issue"]
    assert set(issue["pull_request"]) >= {"url", "html_url", "diff_url", "patch_url"}
    assert issue["pull_request"]["html_url"] == f"https://github.com/{REPO}/pull/42"
    assert issue["number"] == 42
    assert issue["url"] == f"https://api.github.com/repos/{REPO}/issues/42"
    assert payload["comment"]["body"] == "bot: build"
    assert payload["comment"]["html_url"].startswith(f"https://github.com/{REPO}/pull/42#issuecomment-")
    assert payload["installation"]["id"] == 7
    repository = payload["repository"]
    assert (repository["full_name"], repository["name"], repository["owner"]["login"]) == (
        REPO,
        "software-layer",
        "EESSI",
    )
    assert repository["clone_url"] == f"https://github.com/{REPO}.git"
    assert repository["ssh_url"] == f"git@github.com:{REPO}.git"
    assert "Codertocat/Hello-World" not in webhooks.encode(payload).decode()


def test_pr_comment_payload_people_and_ids() -> None:
    first = webhooks.pr_comment_payload("a", sender_login="bot[bot]", sender_type="Bot")
    second = webhooks.pr_comment_payload("b")
    assert first["comment"]["id"] != second["comment"]["id"]
    assert first["comment"]["user"]["login"] == first["sender"]["login"] == "bot[bot]"
    assert first["sender"]["type"] == "Bot"
    assert "installation" not in first
    assert webhooks.pr_comment_payload("c", comment_id=5)["comment"]["id"] == 5


@pytest.mark.parametrize(
    ("action", "label", "merged"),
    [
        ("opened", None, False),
        ("labeled", "bot:deploy", False),
        ("closed", None, True),
        ("enqueued", None, False),
    ],
)
def test_pr_payload(action: str, label: Optional[str], merged: bool) -> None:
    payload = webhooks.pr_payload(action, repo=REPO, number=9, label=label, merged=merged, installation_id=3)
    pull = payload["pull_request"]
    assert payload["action"] == action
    assert payload["number"] == pull["number"] == 9
    assert pull["html_url"] == f"https://github.com/{REPO}/pull/9"
    assert pull["base"]["repo"]["full_name"] == REPO
    assert pull["merged"] is merged
    assert payload["installation"]["id"] == 3
    if label:
        assert payload["label"]["name"] == label
        assert label in [item["name"] for item in pull["labels"]]
    if merged:
        assert pull["state"] == "closed"
        assert pull["merged_at"]


def test_signature_verifies_only_for_the_exact_bytes() -> None:
    body = webhooks.encode(webhooks.pr_comment_payload("bot: build ✓ café", repo=REPO))
    signature = webhooks.sign(body, SECRET)
    assert verifies(body, signature)
    assert not verifies(body.replace(b"bot: build", b"bot: xuild"), signature)
    assert not verifies(body, webhooks.sign(body, "wrong secret"))
    assert (
        webhooks.sign_sha1(body, SECRET)
        == "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    )


def test_encode_is_compact_utf8_like_node() -> None:
    body = webhooks.encode({"title": "café ✓", "n": [1, 2]})
    assert body == '{"title":"café ✓","n":[1,2]}'.encode()
    assert json.loads(body) == {"title": "café ✓", "n": [1, 2]}


def test_delivery_headers() -> None:
    body = webhooks.encode(webhooks.pr_payload("opened"))
    headers = webhooks.delivery_headers("pull_request", body, SECRET)
    assert headers["X-GitHub-Event"] == "pull_request"
    assert uuid.UUID(headers["X-GitHub-Delivery"]).version == 4
    assert verifies(body, headers["X-Hub-Signature-256"])
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("GitHub-Hookshot/")
    assert webhooks.delivery_headers("ping", body, SECRET, delivery_id="d-1")["X-GitHub-Delivery"] == "d-1"
