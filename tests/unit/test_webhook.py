"""Webhook signature verification and delivery parsing (the pure part of the intake)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from eessi_bot.core.webhook import DeliveryError, Verdict, parse_delivery, sign, verify_signature

SECRET = "It's a Secret to Everybody"
BODY = b"Hello, World!"
# GitHub's documented example: https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries
GITHUB_EXAMPLE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def sha1(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


@pytest.mark.parametrize(("headers", "verdict"), [
    ({"x-hub-signature-256": GITHUB_EXAMPLE}, Verdict.OK),
    ({"x-hub-signature-256": GITHUB_EXAMPLE.upper().replace("SHA256", "sha256")}, Verdict.OK),
    ({"x-hub-signature-256": "sha256=" + "0" * 64}, Verdict.MISMATCH),
    ({"x-hub-signature-256": GITHUB_EXAMPLE[:-1]}, Verdict.MISMATCH),
    ({"x-hub-signature-256": "sha1=" + "0" * 40}, Verdict.MALFORMED),
    ({"x-hub-signature-256": "757107ea0eb2509fc211221cce984b8a"}, Verdict.MALFORMED),
    ({"x-hub-signature-256": "sha256="}, Verdict.MALFORMED),
    ({"x-hub-signature": sha1(BODY)}, Verdict.OK),
    ({"x-hub-signature": sha1(BODY, "wrong")}, Verdict.MISMATCH),
    ({"x-hub-signature-256": "sha256=" + "0" * 64, "x-hub-signature": sha1(BODY)}, Verdict.MISMATCH),
    ({}, Verdict.MISSING),
], ids=["github-example", "uppercase-hex", "zeros", "truncated", "wrong-scheme", "no-scheme", "empty",
        "sha1-only", "sha1-wrong-secret", "sha256-wins-over-sha1", "none"])
def test_verify(headers: dict, verdict: Verdict) -> None:
    assert verify_signature(SECRET, BODY, headers) is verdict


def test_sign_matches_github() -> None:
    assert sign(SECRET, BODY) == GITHUB_EXAMPLE


@pytest.mark.parametrize(("headers", "body", "message"), [
    ({"x-github-event": "ping"}, b"{}", "X-GitHub-Delivery"),
    ({"x-github-delivery": "abc", "x-github-event": ""}, b"{}", "X-GitHub-Event"),
    ({"x-github-delivery": "a b", "x-github-event": "ping"}, b"{}", "X-GitHub-Delivery"),
    ({"x-github-delivery": "x" * 101, "x-github-event": "ping"}, b"{}", "X-GitHub-Delivery"),
    ({"x-github-delivery": "abc", "x-github-event": "Ping!"}, b"{}", "X-GitHub-Event"),
    ({"x-github-delivery": "abc", "x-github-event": "ping"}, b"{nope", "not valid JSON"),
    ({"x-github-delivery": "abc", "x-github-event": "ping"}, b"\xff\xfe", "not valid JSON"),
    ({"x-github-delivery": "abc", "x-github-event": "ping"}, b"[]", "not a JSON object"),
])
def test_malformed_deliveries(headers: dict, body: bytes, message: str) -> None:
    with pytest.raises(DeliveryError, match=message):
        parse_delivery(headers, body)


@pytest.mark.parametrize(("payload", "action", "subject"), [
    (b'{"action":"created","issue":{"number":5},"repository":{"full_name":"o/r"}}', "created", "o/r#5"),
    (b'{"action":"opened","pull_request":{"number":9},"repository":{"full_name":"o/r"}}', "opened", "o/r#9"),
    (b'{"zen":"x","hook_id":1}', None, None),
    (b'{"action":5,"issue":{"number":"5"},"repository":{"full_name":"o/r"}}', None, None),
])
def test_delivery_action_and_subject(payload: bytes, action: object, subject: object) -> None:
    delivery = parse_delivery({"x-github-delivery": "d-1", "x-github-event": "issue_comment"}, payload)
    assert (delivery.action, delivery.subject) == (action, subject)
