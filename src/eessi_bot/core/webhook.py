"""Webhook deliveries: signature verification and header parsing, before anything is stored.

GitHub signs the raw body with HMAC-SHA256 (`X-Hub-Signature-256`). The SHA-1 header is accepted
only when no SHA-256 header is present, for relays (smee) that forward it alone.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

MAX_BODY_BYTES = 25 * 1024 * 1024
"""GitHub caps payloads at 25 MB; anything larger is refused with 413."""

_DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_EVENT_NAME = re.compile(r"^[a-z0-9_]{1,60}$")


class Verdict(enum.Enum):
    OK = "ok"
    MISSING = "missing signature"
    MALFORMED = "malformed signature header"
    MISMATCH = "signature does not match"


def verify_signature(secret: str, body: bytes, headers: Mapping[str, str]) -> Verdict:
    """Check the HMAC of `body` in constant time. `headers` keys must be lower-case."""
    sha256 = headers.get("x-hub-signature-256")
    if sha256 is not None:
        return _compare(secret, body, sha256, "sha256", hashlib.sha256)
    sha1 = headers.get("x-hub-signature")
    if sha1 is not None:
        return _compare(secret, body, sha1, "sha1", hashlib.sha1)
    return Verdict.MISSING


def _compare(secret: str, body: bytes, header: str, prefix: str, digest: Any) -> Verdict:
    scheme, sep, received = header.strip().partition("=")
    if not sep or scheme != prefix or not received:
        return Verdict.MALFORMED
    expected = hmac.new(secret.encode("utf-8"), body, digest).hexdigest()
    if hmac.compare_digest(expected, received.lower()):
        return Verdict.OK
    return Verdict.MISMATCH


def sign(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub would send for `body` (used by replay --url)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class DeliveryError(ValueError):
    """A verified request that still cannot be a delivery (HTTP 400)."""


@dataclass(frozen=True)
class Delivery:
    """A verified webhook delivery as stored in the inbox."""

    id: str
    event: str
    action: Optional[str]
    subject: Optional[str]
    """`owner/repo#N` for events about one issue or PR; deliveries of one subject run in order."""
    body: bytes

    def payload(self) -> Mapping[str, Any]:
        data = json.loads(self.body)
        if not isinstance(data, dict):
            raise DeliveryError("the payload is not a JSON object")
        return data


def parse_delivery(headers: Mapping[str, str], body: bytes) -> Delivery:
    """Build a Delivery from a verified request; raises DeliveryError for a malformed one."""
    delivery_id = headers.get("x-github-delivery", "").strip()
    if not _DELIVERY_ID.match(delivery_id):
        raise DeliveryError("missing or malformed X-GitHub-Delivery header")
    event = headers.get("x-github-event", "").strip()
    if not _EVENT_NAME.match(event):
        raise DeliveryError("missing or malformed X-GitHub-Event header")
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DeliveryError(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise DeliveryError("the payload is not a JSON object")
    action = payload.get("action")
    return Delivery(
        id=delivery_id,
        event=event,
        action=action if isinstance(action, str) else None,
        subject=_subject(payload),
        body=body,
    )


def _subject(payload: Mapping[str, Any]) -> Optional[str]:
    repo = payload.get("repository")
    full_name = repo.get("full_name") if isinstance(repo, dict) else None
    if not isinstance(full_name, str):
        return None
    for key in ("issue", "pull_request"):
        item = payload.get(key)
        if isinstance(item, dict) and isinstance(item.get("number"), int):
            return f"{full_name}#{item['number']}"
    return None
