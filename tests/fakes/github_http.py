"""The HTTP face of the fake GitHub: routes, auth, headers, pagination, faults, recording, schema checks.

Kept apart from `github_server.FakeGitHub` (the test-facing API) so each file stays readable.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlencode

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from tests.fakes.github_faults import Fault, FaultQueue
from tests.fakes.github_objects import error_body
from tests.fakes.github_state import ApiError, GitHubState
from tests.fakes.openapi import GitHubSchema

JSON = Dict[str, Any]
RATE_LIMIT = 5000
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
_CONTENT_TYPE = "application/json; charset=utf-8"


def json_response(body: Any, status: int = 200, headers: Optional[Dict[str, str]] = None) -> Response:
    response = Response(json.dumps(body, separators=(",", ":")), status=status, content_type=_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class Journal:
    """What happened: requests, schema problems, rate-limit budget; plus the per-request delay knob."""

    def __init__(self) -> None:
        self.requests: List[Tuple[str, str, int]] = []
        self.schema_errors: List[str] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        self._rate_used = 0
        self._rate_reset = int(time.time()) + 3600

    def record(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.requests.append((method, path, status))

    def problem(self, message: str) -> None:
        with self.lock:
            self.schema_errors.append(message)

    def standard_headers(self) -> Dict[str, str]:
        with self.lock:
            self._rate_used += 1
            used = self._rate_used
        return {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(max(0, RATE_LIMIT - used)),
            "x-ratelimit-reset": str(self._rate_reset),
            "x-ratelimit-used": str(used),
            "x-ratelimit-resource": "core",
            "x-github-request-id": ":".join(secrets.token_hex(n).upper() for n in (2, 3, 3, 4, 4)),
            "x-github-api-version-selected": "2022-11-28",
            "x-github-media-type": "github.v3; format=json",
        }


class GitHubApi:
    """Registers GitHub's routes on a Flask app and serves them from a `GitHubState`."""

    def __init__(
        self,
        app: Flask,
        state: GitHubState,
        faults: FaultQueue,
        schema: Optional[GitHubSchema],
        journal: Journal,
    ) -> None:
        self.state = state
        self.faults = faults
        self.schema = schema
        self.journal = journal
        app.before_request(self._before)
        app.after_request(self._after)
        app.register_error_handler(ApiError, self._api_error)
        app.register_error_handler(HTTPException, self._http_error)
        app.register_error_handler(Exception, self._crash)
        repo = "/repos/<owner>/<repo>"
        routes: List[Tuple[str, str, Callable[..., Response]]] = [
            ("/app", "GET", self.get_app),
            ("/app/installations/<int:installation_id>/access_tokens", "POST", self.create_token),
            (repo, "GET", self.get_repo),
            (f"{repo}/pulls/<int:number>", "GET", self.get_pull),
            (f"{repo}/issues/<int:number>/comments", "GET", self.list_comments),
            (f"{repo}/issues/<int:number>/comments", "POST", self.create_comment),
            (f"{repo}/issues/comments/<int:comment_id>", "GET", self.get_comment),
            (f"{repo}/issues/comments/<int:comment_id>", "PATCH", self.edit_comment),
            (f"{repo}/issues/comments/<int:comment_id>/reactions", "POST", self.create_reaction),
            (f"{repo}/issues/<int:number>/labels", "GET", self.list_labels),
            (f"{repo}/issues/<int:number>/labels", "POST", self.add_labels),
            (f"{repo}/issues/<int:number>/labels", "PUT", self.set_labels),
            (f"{repo}/issues/<int:number>/labels/<path:name>", "DELETE", self.remove_label),
        ]
        for rule, method, view in routes:
            app.add_url_rule(rule, f"{method} {rule}", view, methods=[method])

    # --- hooks -------------------------------------------------------------------------------------

    def _before(self) -> Optional[Response]:
        if self.journal.delay > 0:
            time.sleep(self.journal.delay)
        fault = self.faults.take(request.method, request.path)
        g.pending_fault = None
        if fault is None:
            return None
        if fault.after_effect:
            g.pending_fault = fault
            return None
        g.fault_served = True
        return self._fault_response(fault)

    def _after(self, response: Response) -> Response:
        pending: Optional[Fault] = g.get("pending_fault")
        if not g.get("fault_served"):
            self._validate(response)
        if pending is not None:
            response = self._fault_response(pending)
        for name, value in self.journal.standard_headers().items():
            response.headers.setdefault(name, value)
        self.journal.record(request.method, request.path, response.status_code)
        return response

    def _fault_response(self, fault: Fault) -> Response:
        return json_response(fault.response_body(), fault.status, fault.headers)

    def _validate(self, response: Response) -> None:
        if self.schema is None or not 200 <= response.status_code < 300:
            return
        where = f"{request.method} {request.path} -> {response.status_code}"
        template = self.schema.match(request.method, request.path)
        if template is None:
            self.journal.problem(f"{where}: not a documented GitHub operation")
            return
        body = json.loads(response.get_data()) if response.is_json else None
        for problem in self.schema.errors(template, request.method, response.status_code, body):
            self.journal.problem(f"{where}: {problem}")

    def _api_error(self, error: ApiError) -> Response:
        return json_response(error_body(error.message), error.status)

    def _http_error(self, error: HTTPException) -> Response:
        status = error.code or 500
        if status in (404, 405):  # GitHub answers unknown method/route pairs with 404
            return json_response(error_body("Not Found"), 404)
        return json_response(error_body(error.description or "Error"), status)

    def _crash(self, error: Exception) -> Response:
        self.journal.problem(f"{request.method} {request.path}: the fake crashed: {traceback.format_exc()}")
        return json_response(error_body(f"fake GitHub crashed: {error!r}"), 500)

    # --- helpers -----------------------------------------------------------------------------------

    def _installation(self) -> None:
        self.state.authenticate_installation(request.headers.get("Authorization", ""))

    def _body(self) -> Any:
        data = request.get_json(silent=True)
        if data is None and request.get_data():
            raise ApiError(400, "Problems parsing JSON")
        return data

    def _field(self, name: str) -> str:
        data = self._body()
        value = data.get(name) if isinstance(data, dict) else None
        if not isinstance(value, str):
            raise ApiError(422, f'Invalid request.\n\n"{name}" wasn\'t supplied.')
        return value

    def _label_names(self) -> List[str]:
        data = self._body()
        items = data.get("labels") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ApiError(422, 'Invalid request.\n\n"labels" wasn\'t supplied.')
        return [str(item["name"] if isinstance(item, dict) else item) for item in items]

    def _paginated(self, items: List[JSON]) -> Response:
        per_page = min(max(self._int_arg("per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
        page = max(self._int_arg("page", 1), 1)
        last = max(1, math.ceil(len(items) / per_page))
        others = {key: value for key, value in request.args.items() if key not in ("page", "per_page")}

        def url(number: int) -> str:
            query = urlencode({**others, "per_page": per_page, "page": number})
            return f"{self.state.api}{request.path}?{query}"

        links: List[Tuple[str, int]] = []
        if page > 1:
            links += [("prev", min(page - 1, last)), ("first", 1)]
        if page < last:
            links += [("next", page + 1), ("last", last)]
        headers = (
            {"Link": ", ".join(f'<{url(number)}>; rel="{rel}"' for rel, number in links)} if links else {}
        )
        return json_response(items[(page - 1) * per_page : page * per_page], 200, headers)

    @staticmethod
    def _int_arg(name: str, default: int) -> int:
        try:
            return int(request.args.get(name, default))
        except ValueError:
            return default

    # --- App (JWT) routes --------------------------------------------------------------------------

    def get_app(self) -> Response:
        self.state.authenticate_app(request.headers.get("Authorization", ""))
        return json_response(self.state.app)

    def create_token(self, installation_id: int) -> Response:
        self.state.authenticate_app(request.headers.get("Authorization", ""))
        data = self._body()
        permissions = data.get("permissions") if isinstance(data, dict) else None
        return json_response(self.state.mint_token(installation_id, permissions or None), 201)

    # --- installation-token routes -----------------------------------------------------------------

    def get_repo(self, owner: str, repo: str) -> Response:
        self._installation()
        return json_response(self.state.get_repo(f"{owner}/{repo}"))

    def get_pull(self, owner: str, repo: str, number: int) -> Response:
        self._installation()
        return json_response(self.state.get_pull(f"{owner}/{repo}", number))

    def list_comments(self, owner: str, repo: str, number: int) -> Response:
        self._installation()
        return self._paginated(self.state.list_comments(f"{owner}/{repo}", number))

    def create_comment(self, owner: str, repo: str, number: int) -> Response:
        self._installation()
        body = self._field("body")
        comment = self.state.add_comment(
            f"{owner}/{repo}", number, body, author=self.state.bot_user, via_app=True
        )
        return json_response(comment, 201)

    def get_comment(self, owner: str, repo: str, comment_id: int) -> Response:
        self._installation()
        return json_response(self.state.get_comment(f"{owner}/{repo}", comment_id))

    def edit_comment(self, owner: str, repo: str, comment_id: int) -> Response:
        self._installation()
        return json_response(self.state.edit_comment(f"{owner}/{repo}", comment_id, self._field("body")))

    def create_reaction(self, owner: str, repo: str, comment_id: int) -> Response:
        self._installation()
        content = self._field("content")
        item, created = self.state.add_reaction(
            f"{owner}/{repo}", comment_id, content, author=self.state.bot_user
        )
        return json_response(item, 201 if created else 200)

    def list_labels(self, owner: str, repo: str, number: int) -> Response:
        self._installation()
        return json_response(self.state.list_labels(f"{owner}/{repo}", number))

    def add_labels(self, owner: str, repo: str, number: int) -> Response:
        self._installation()
        return json_response(self.state.add_labels(f"{owner}/{repo}", number, self._label_names()))

    def set_labels(self, owner: str, repo: str, number: int) -> Response:
        self._installation()
        names = self._label_names()
        return json_response(self.state.add_labels(f"{owner}/{repo}", number, names, replace=True))

    def remove_label(self, owner: str, repo: str, number: int, name: str) -> Response:
        self._installation()
        return json_response(self.state.remove_label(f"{owner}/{repo}", number, name))
