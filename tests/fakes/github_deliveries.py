"""The App's webhook on the fake GitHub: hookshot delivering events (or failing to), and the log of attempts.

`DeliveryLog.deliver` does what GitHub does when something happens: it POSTs the signed payload to the
App's webhook URL (`hook_url`; None: a URL nothing answers, as a bot in `intake = poll` has it) and logs
the attempt with its outcome (`OK`/200, the bot's status, or `failed to connect`/0), never trying again.
The log is served as GitHub serves it, with the App's JWT: `GET /app/hook/deliveries` (newest first,
`per_page` up to 100, pages by an opaque `cursor` named only in `Link: rel="next"`, `status=success|failure`
filtering on `status_code` as GitHub documents it), `GET /app/hook/deliveries/{id}` (the request's headers
and payload) and `POST /app/hook/deliveries/{id}/attempts` (a redelivery: a new attempt, same guid).
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlencode

import requests
from flask import Flask, Response, request

from tests.fakes import github_objects as objects
from tests.fakes.github_http import DEFAULT_PER_PAGE, MAX_PER_PAGE, json_response
from tests.fakes.github_state import ApiError, GitHubState
from tests.fakes.webhooks import delivery_headers, encode

JSON = Dict[str, Any]
HOOK_SECRET = "s3cret"
"""The webhook secret the fake App signs with (the one `tests/fakes/site.py` writes into app.cfg)."""
HOOK_TIMEOUT = 10.0
"""Seconds hookshot waits for the bot's answer (github.com's limit)."""
_SUMMARY_FIELDS = ("id", "guid", "delivered_at", "redelivery", "duration", "status", "status_code", "event",
                   "action", "installation_id", "repository_id", "throttled_at")


class DeliveryLog:
    """Every attempt to deliver the App's webhook, oldest first; thread-safe."""

    def __init__(self, state: GitHubState, secret: str = HOOK_SECRET) -> None:
        self.state = state
        self.secret = secret
        self.hook_url: Optional[str] = None
        """Where hookshot POSTs (the bot's `/`); None: a URL nothing answers."""
        self._attempts: List[JSON] = []
        self._ids = itertools.count(12_000_000_001)
        self._lock = threading.Lock()

    def deliver(self, event: str, payload: JSON, *, guid: Optional[str] = None,
                installation_id: Optional[int] = None, redelivery: bool = False) -> JSON:
        """Deliver `payload` as GitHub would (signed, to `hook_url`) and log the attempt; returns it."""
        guid = guid or str(uuid.uuid4())
        body = encode(payload)
        headers = delivery_headers(event, body, self.secret, guid)
        started = time.time()
        status, code, answer = "failed to connect", 0, ""
        if self.hook_url is not None:
            try:
                reply = requests.post(self.hook_url, data=body, headers=headers, timeout=HOOK_TIMEOUT)
                status, code, answer = ("OK" if reply.ok else f"Invalid HTTP Response: {reply.status_code}",
                                        reply.status_code, reply.text)
            except requests.Timeout:
                status = "timed out"
            except requests.ConnectionError:
                pass
        return self.record(event, payload, guid=guid, headers=headers, status=status, status_code=code,
                           answer=answer, delivered_at=started, duration=time.time() - started,
                           installation_id=installation_id, redelivery=redelivery)

    def record(self, event: str, payload: JSON, *, guid: str, status: str, status_code: int,
               delivered_at: Optional[float] = None, installation_id: Optional[int] = None,
               headers: Optional[Dict[str, str]] = None, answer: str = "", duration: float = 0.01,
               redelivery: bool = False) -> JSON:
        """Log one attempt as it ended (tests may write history: an old `delivered_at`, another
        installation's event)."""
        repository = payload.get("repository")
        with self._lock:
            attempt: JSON = {
                "id": next(self._ids), "guid": guid,
                "delivered_at": objects.iso(time.time() if delivered_at is None else delivered_at),
                "redelivery": redelivery, "duration": round(duration, 2), "status": status,
                "status_code": status_code, "event": event,
                "action": payload.get("action") if isinstance(payload.get("action"), str) else None,
                "installation_id": self.state.installation_id if installation_id is None else installation_id,
                "repository_id": repository.get("id") if isinstance(repository, dict) else None,
                "throttled_at": None, "url": self.hook_url or "https://bot.invalid/",
                "request": {"headers": headers or delivery_headers(event, encode(payload), self.secret, guid),
                            "payload": copy.deepcopy(payload)},
                "response": {"headers": {"Content-Type": "application/json"} if status_code else {},
                             "payload": answer or None},
            }
            self._attempts.append(attempt)
            return copy.deepcopy(attempt)

    def attempts(self) -> List[JSON]:
        """Every attempt, oldest first."""
        with self._lock:
            return copy.deepcopy(self._attempts)

    def page(self, status: Optional[str], cursor: Optional[int], per_page: int) -> Tuple[List[JSON], Optional[int]]:
        """One page of summaries, newest first, from attempt id `cursor` down; and the cursor after it."""
        with self._lock:
            items = [a for a in reversed(self._attempts) if _matches(a, status)
                     and (cursor is None or a["id"] <= cursor)]
        chosen = items[:per_page]
        return ([{k: a[k] for k in _SUMMARY_FIELDS} for a in chosen],
                items[per_page]["id"] if len(items) > per_page else None)

    def get(self, attempt_id: int) -> JSON:
        with self._lock:
            for attempt in self._attempts:
                if attempt["id"] == attempt_id:
                    return copy.deepcopy(attempt)
        raise ApiError(404, "Not Found")


def _matches(attempt: JSON, status: Optional[str]) -> bool:
    code = attempt["status_code"]
    if status == "success":
        return 200 <= code <= 399
    if status == "failure":
        return 400 <= code <= 599
    return True


def register_routes(app: Flask, state: GitHubState, log: DeliveryLog) -> None:
    """The three routes of GitHub's `apps/*-webhook-deliver*` operations, on the fake's Flask app (its
    hooks record, fault and schema-check them like every other route)."""

    def authenticate() -> None:
        state.authenticate_app(request.headers.get("Authorization", ""))

    def list_deliveries() -> Response:
        authenticate()
        status = request.args.get("status")
        if status not in (None, "success", "failure"):
            raise ApiError(422, "Validation Failed")
        per_page = min(max(_int(request.args.get("per_page"), DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
        cursor_text = request.args.get("cursor")
        cursor = _int(cursor_text[3:], -1) if cursor_text and cursor_text.startswith("v1_") else None
        if cursor_text is not None and (cursor is None or cursor < 0):
            raise ApiError(400, "Invalid cursor")
        items, after = log.page(status, cursor, per_page)
        headers = {}
        if after is not None:
            query = urlencode({**({"status": status} if status else {}), "per_page": per_page,
                               "cursor": f"v1_{after}"})
            headers["Link"] = f'<{state.api}/app/hook/deliveries?{query}>; rel="next"'
        return json_response(items, 200, headers)

    def get_delivery(delivery_id: int) -> Response:
        authenticate()
        return json_response(log.get(delivery_id))

    def redeliver(delivery_id: int) -> Response:
        authenticate()
        attempt = log.get(delivery_id)
        threading.Thread(target=log.deliver, args=(attempt["event"], attempt["request"]["payload"]),
                         kwargs={"guid": attempt["guid"], "installation_id": attempt["installation_id"],
                                 "redelivery": True}, daemon=True).start()
        return json_response({}, 202)

    app.add_url_rule("/app/hook/deliveries", "GET deliveries", list_deliveries, methods=["GET"])
    app.add_url_rule("/app/hook/deliveries/<int:delivery_id>", "GET delivery", get_delivery, methods=["GET"])
    app.add_url_rule("/app/hook/deliveries/<int:delivery_id>/attempts", "POST attempts", redeliver,
                     methods=["POST"])


def _int(text: Optional[str], default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
