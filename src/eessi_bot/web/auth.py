"""The status token (`[bot] status_token`): when set, the status pages and `/metrics` need it, as
`Authorization: Bearer <token>` (Prometheus' `authorization` setting) or `?token=<token>` (a browser).

A browser that came with `?token=` gets a cookie so that the links of the pages, which never carry the
token, keep working: the cookie holds an HMAC of the token, not the token. Compared in constant time.
`/healthz` and the webhook routes never need it: GitHub, relays and liveness probes do not have it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Optional, Tuple

from flask import Request, Response

COOKIE = "eessi_bot_status"


def _cookie_value(token: str) -> str:
    return hmac.new(token.encode("utf-8"), b"eessi-bot status page", hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def authorised(request: Request, token: str) -> Tuple[bool, bool]:
    """(may see the page, should get the cookie). No token configured: everyone may."""
    if not token:
        return True, False
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and _same(given.strip(), token):
        return True, False
    query: Optional[str] = request.args.get("token")
    if query is not None and _same(query, token):
        return True, True
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and _same(cookie, _cookie_value(token)), False


def refused() -> Response:
    response = Response("a status token is needed: Authorization: Bearer <token>, or ?token=<token>\n", 401,
                        mimetype="text/plain")
    response.headers["WWW-Authenticate"] = 'Bearer realm="eessi-bot"'
    return response


def remember(response: Response, token: str) -> None:
    """The cookie for a browser that came with `?token=` (HttpOnly; SameSite=Strict: no other site's page
    can use it)."""
    response.set_cookie(COOKIE, _cookie_value(token), httponly=True, samesite="Strict", path="/")
