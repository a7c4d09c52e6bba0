"""Webhook intake of `eessi-bot serve`, driven over HTTP like GitHub drives it."""

from __future__ import annotations

import threading
import time
import uuid
from typing import List

import pytest
import requests

from eessi_bot.commands import default_registry
from tests.e2e.harness import PR, REPO, BotProcess
from tests.fakes.github_server import FakeGitHub
from tests.fakes.webhooks import encode, pr_comment_payload, sign_sha1
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e


def comment_payload(github: FakeGitHub, body: str = "bot: help", sender: str = "maintainer") -> dict:
    """The comment is made on the fake GitHub first, so the bot can react to it, as on GitHub."""
    comment = github.add_comment(REPO, PR, body, login=sender)
    return pr_comment_payload(body, repo=REPO, pr_number=PR, comment_id=comment["id"], sender_login=sender)


def bot_comments(github: FakeGitHub) -> List[dict]:
    return [c for c in github.comments(REPO, PR) if c["user"]["login"] == github.bot_login]


def inbox_rows(bot: BotProcess, delivery_id: str) -> int:
    with bot.db() as conn:
        return int(conn.execute("SELECT COUNT(*) FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()[0])


def test_help_is_answered_once(bot: BotProcess, github: FakeGitHub) -> None:
    delivery = str(uuid.uuid4())
    payload = comment_payload(github)
    comment_id = payload["comment"]["id"]
    response, seconds = bot.send("issue_comment", payload, delivery)
    assert response.status_code == 202
    assert seconds < 0.05, f"acknowledged in {seconds * 1000:.1f} ms"
    (comment,) = wait_for(lambda: bot_comments(github))
    for spec in default_registry().specs:
        assert f"`bot: {spec.name}" in comment["body"]
    assert "Updates by the bot instance <code>test-bot</code>" in comment["body"]
    wait_for(lambda: github.reactions(comment_id))
    assert [r["content"] for r in github.reactions(comment_id)] == ["eyes"]

    again, _ = bot.send("issue_comment", payload, delivery)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    wait_for(bot.idle)
    time.sleep(0.3)
    assert len(bot_comments(github)) == 1
    assert github.count("POST", r"/issues/\d+/comments$") == 1


@pytest.mark.parametrize("mutation", ["wrong-secret", "tampered-body", "no-signature", "bad-header"])
def test_bad_signature_is_refused_and_not_stored(bot: BotProcess, github: FakeGitHub, mutation: str) -> None:
    delivery = str(uuid.uuid4())
    payload = comment_payload(github)
    if mutation == "wrong-secret":
        response, _ = bot.send("issue_comment", payload, delivery, secret="not-the-secret")
    elif mutation == "tampered-body":
        signed = encode(payload)
        tampered = signed.replace(b"bot: help", b"bot: show_config")
        response, _ = bot.send("issue_comment", payload, delivery, body=tampered,
                               headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})
        response2, _ = bot.send("issue_comment", payload, delivery, body=tampered)
        assert response2.status_code == 202  # correctly signed tampered body is a different, valid body
        return
    elif mutation == "no-signature":
        response = requests.post(bot.url + "/", data=encode(payload), timeout=5, headers={
            "X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": delivery, "Content-Type": "application/json"})
    else:
        response, _ = bot.send("issue_comment", payload, delivery, headers={"X-Hub-Signature-256": "md5=abc"})
    assert response.status_code == 401
    assert inbox_rows(bot, delivery) == 0
    assert bot_comments(github) == []


def test_forged_delivery_does_not_suppress_the_genuine_one(bot: BotProcess, github: FakeGitHub) -> None:
    """The EESSI bot recorded delivery ids before verifying, so a forgery could block a real delivery."""
    delivery = str(uuid.uuid4())
    payload = comment_payload(github)
    forged, _ = bot.send("issue_comment", payload, delivery, secret="forger")
    genuine, _ = bot.send("issue_comment", payload, delivery)
    assert (forged.status_code, genuine.status_code) == (401, 202)
    wait_for(lambda: bot_comments(github))


def test_sha1_only_accepted_for_relays(bot: BotProcess, github: FakeGitHub) -> None:
    body = encode(comment_payload(github))
    only_sha1 = {"X-Hub-Signature": sign_sha1(body, "s3cret"), "X-Hub-Signature-256": ""}
    response = requests.post(bot.url + "/webhook", data=body, timeout=5, headers={
        "X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature": only_sha1["X-Hub-Signature"], "Content-Type": "application/json"})
    assert response.status_code == 202
    wait_for(lambda: bot_comments(github))
    both, _ = bot.send("issue_comment", comment_payload(github), headers={"X-Hub-Signature-256": "sha256=" + "1" * 64,
                                                                     "X-Hub-Signature": sign_sha1(body, "s3cret")})
    assert both.status_code == 401, "a bad SHA-256 signature is not rescued by a SHA-1 one"


def test_malformed_and_oversized(bot: BotProcess) -> None:
    bad_json, _ = bot.send("issue_comment", {}, body=b"{not json")
    assert bad_json.status_code == 400
    not_object, _ = bot.send("issue_comment", {}, body=b"[1, 2]")
    assert not_object.status_code == 400
    big = b'{"x": "' + b"a" * (26 * 1024 * 1024) + b'"}'
    oversized, _ = bot.send("issue_comment", {}, body=big)
    assert oversized.status_code == 413
    assert bot.session.get(bot.url + "/healthz", timeout=5).status_code == 200


def test_ping_and_installation_are_acknowledged(bot: BotProcess) -> None:
    ping, _ = bot.send("ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
    assert ping.status_code == 202
    wait_for(lambda: bot.delivery_states().get("done") == 1)


def test_concurrent_same_delivery_processed_once(bot: BotProcess, github: FakeGitHub) -> None:
    delivery = str(uuid.uuid4())
    payload = comment_payload(github)
    statuses: List[int] = []

    def send() -> None:
        response, _ = bot.send("issue_comment", payload, delivery)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 202]
    wait_for(bot.idle)
    assert len(bot_comments(github)) == 1


def test_healthz_and_metrics(bot: BotProcess) -> None:
    bot.send("ping", {"zen": "x", "hook_id": 1})
    health = bot.session.get(bot.url + "/healthz", timeout=5).json()
    assert health["status"] == "ok"
    metrics = bot.session.get(bot.url + "/metrics", timeout=5).text
    assert 'eessi_bot_deliveries_total{event="ping",result="queued"} 1' in metrics
