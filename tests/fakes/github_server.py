"""A stateful fake GitHub REST API over real HTTP, good enough for PyGithub 2.x to run unchanged against it.

Why real HTTP: the bot's retry, pagination, auth refresh and rate-limit code only gets exercised when the
client library parses genuine responses and headers. Every 2xx JSON body is checked against GitHub's
OpenAPI description; problems land in `schema_errors` (never raised inside the server).
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from flask import Flask
from waitress import wasyncore
from waitress.server import create_server

from tests.fakes.github_checks import CheckRuns
from tests.fakes.github_checks import register_routes as register_check_routes
from tests.fakes.github_deliveries import DeliveryLog, register_routes
from tests.fakes.github_faults import SECONDARY_RATE_LIMIT_MESSAGE, Fault, FaultQueue
from tests.fakes.github_http import RATE_LIMIT, GitHubApi, Journal
from tests.fakes.github_objects import error_body, user
from tests.fakes.github_state import ApiError, GitHubState
from tests.fakes.openapi import GitHubSchema

JSON = Dict[str, Any]


class FakeGitHub:
    """GitHub for one App with one installation, on 127.0.0.1; see the module docstring for the why.

    The socket is bound at construction, so `base_url` (and the API URLs inside stored objects) are known
    before `start()`.
    """

    def __init__(
        self,
        *,
        app_id: int = 424242,
        slug: str = "eessi-bot-test",
        installation_id: int = 13131313,
        token_ttl: float = 3600.0,
        validate: bool = True,
        schema: Optional[GitHubSchema] = None,
    ) -> None:
        self._map: Dict[int, Any] = {}
        flask_app = Flask(f"fake-github-{id(self)}")
        self._server = create_server(
            flask_app, map=self._map, host="127.0.0.1", port=0, threads=8, ident="github.com"
        )
        self.base_url = f"http://127.0.0.1:{self._server.effective_port}"
        self.state = GitHubState(
            app_id=app_id, slug=slug, installation_id=installation_id, token_ttl=token_ttl, api=self.base_url
        )
        self.faults = FaultQueue()
        self.journal = Journal()
        api_schema = schema or (GitHubSchema() if validate else None)
        GitHubApi(flask_app, self.state, self.faults, api_schema, self.journal)
        self.hook = DeliveryLog(self.state)
        """The App's webhook: `hook.hook_url`, `deliver(...)` and the log GitHub keeps of the attempts."""
        register_routes(flask_app, self.state, self.hook)
        self.checks = CheckRuns(self.state, self.journal, api_schema)
        """Check runs: `checks.runs()`, `checks.history(id)`, `checks.event(...)`, `checks.allowed`."""
        register_check_routes(flask_app, self.state, self.checks)
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve in a daemon thread; returns the base URL (`http://127.0.0.1:PORT`)."""
        if self._stopping.is_set():
            raise RuntimeError("a stopped FakeGitHub cannot be started again; make a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._serve, name=f"fake-github-{self.base_url}", daemon=True
            )
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and close every socket; idempotent."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        else:
            self._close()

    def __enter__(self) -> FakeGitHub:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self) -> None:
        # Our own loop (instead of server.run()) so stop() is a flag check in this thread, not a race.
        while not self._stopping.is_set() and self._map:
            wasyncore.loop(timeout=0.05, map=self._map, use_poll=True, count=1)
        self._close()

    def _close(self) -> None:
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        wasyncore.close_all(self._map, ignore_all=True)

    # --- the App -----------------------------------------------------------------------------------

    @property
    def app_id(self) -> int:
        return self.state.app_id

    @property
    def slug(self) -> str:
        return self.state.slug

    @property
    def installation_id(self) -> int:
        return self.state.installation_id

    @property
    def private_key_pem(self) -> str:
        return self.state.private_key_pem

    @property
    def bot_login(self) -> str:
        return str(self.state.bot_user["login"])

    @property
    def token_ttl(self) -> float:
        return self.state.token_ttl

    @token_ttl.setter
    def token_ttl(self, seconds: float) -> None:
        self.state.token_ttl = seconds

    @property
    def token_mints(self) -> int:
        return self.state.token_mints

    def app_jwt(self, *, issued_at: Optional[float] = None, lifetime: float = 540) -> str:
        return self.state.app_jwt(issued_at=issued_at, lifetime=lifetime)

    def issue_token(self) -> str:
        return self.state.issue_token()

    def expire_tokens(self) -> None:
        self.state.expire_tokens()

    # --- seeding and inspecting state --------------------------------------------------------------

    def add_repo(
        self,
        full_name: str,
        *,
        private: bool = False,
        clone_url: Optional[str] = None,
        ssh_url: Optional[str] = None,
        default_branch: str = "main",
        owner_type: str = "User",
    ) -> JSON:
        return self.state.add_repo(
            full_name,
            private=private,
            clone_url=clone_url,
            ssh_url=ssh_url,
            default_branch=default_branch,
            owner_type=owner_type,
        )

    def add_pull(
        self,
        full_name: str,
        number: int,
        *,
        title: str,
        user_login: str,
        base_ref: str = "main",
        base_sha: str,
        head_ref: str,
        head_sha: str,
        head_repo_full_name: Optional[str] = None,
        state: str = "open",
        merged: bool = False,
    ) -> JSON:
        try:
            return self.state.add_pull(
                full_name,
                number,
                title=title,
                user_login=user_login,
                base_ref=base_ref,
                base_sha=base_sha,
                head_ref=head_ref,
                head_sha=head_sha,
                head_repo_full_name=head_repo_full_name,
                state=state,
                merged=merged,
            )
        except ApiError as error:
            raise KeyError(f"unknown repo {full_name}; call add_repo() first") from error

    def update_pull(
        self,
        full_name: str,
        number: int,
        *,
        state: Optional[str] = None,
        merged: Optional[bool] = None,
        head_sha: Optional[str] = None,
    ) -> JSON:
        return self.state.update_pull(full_name, number, state=state, merged=merged, head_sha=head_sha)

    def add_comment(
        self,
        full_name: str,
        number: int,
        body: str,
        *,
        login: str = "alice",
        user_type: str = "User",
        author_association: str = "NONE",
    ) -> JSON:
        """A comment made by someone else (a human by default), as if typed on github.com."""
        author = user(login, user_type=user_type, api=self.base_url)
        try:
            return self.state.add_comment(
                full_name, number, body, author=author, via_app=False, association=author_association
            )
        except ApiError as error:
            raise KeyError(f"no pull request {full_name}#{number}; call add_pull() first") from error

    def comments(self, full_name: str, number: int) -> List[JSON]:
        return self.state.list_comments(full_name, number)

    def reactions(self, comment_id: int) -> List[JSON]:
        return self.state.reactions(comment_id)

    def labels(self, full_name: str, number: int) -> List[str]:
        return [str(item["name"]) for item in self.state.list_labels(full_name, number)]

    @property
    def requests(self) -> List[Tuple[str, str, int]]:
        """(method, path, status) of every request so far, in arrival order (a snapshot)."""
        with self.journal.lock:
            return list(self.journal.requests)

    @property
    def schema_errors(self) -> List[str]:
        """Schema problems of 2xx responses (and crashes of the fake itself); tests assert it is []."""
        with self.journal.lock:
            return list(self.journal.schema_errors)

    @property
    def delay(self) -> float:
        """Seconds every request waits before it is handled (0: none)."""
        return self.journal.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self.journal.delay = seconds

    def count(self, method: str, path_regex: str) -> int:
        """How many requests had this method (`*` for any) and a path matching `re.search(path_regex)`."""
        pattern = re.compile(path_regex)
        return sum(
            1
            for seen_method, path, _ in self.requests
            if method.upper() in ("*", seen_method) and pattern.search(path)
        )

    # --- fault injection ---------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        path_regex: str,
        *,
        status: int,
        count: int = 1,
        headers: Optional[Dict[str, str]] = None,
        body: Any = None,
        after_effect: bool = False,
    ) -> Fault:
        """Answer the next `count` matching requests with `status`; with `after_effect` the request is
        still applied first (an "uncertain write": the client sees the error, GitHub did the work)."""
        return self.faults.add(
            method,
            path_regex,
            status=status,
            count=count,
            headers=headers,
            body=body,
            after_effect=after_effect,
        )

    def inject_secondary_rate_limit(self, method: str, path_regex: str, retry_after: int = 1) -> Fault:
        """GitHub's abuse throttle: 403, a `retry-after` header and the "secondary rate limit" message."""
        return self.inject(
            method,
            path_regex,
            status=403,
            headers={"retry-after": str(retry_after)},
            body=error_body(SECONDARY_RATE_LIMIT_MESSAGE),
        )

    def inject_primary_rate_limit(self, method: str, path_regex: str, reset_in: int = 1) -> Fault:
        """Budget exhausted: 403 with `x-ratelimit-remaining: 0` and a reset `reset_in` seconds after now
        (now = when injected, not when served)."""
        message = f"API rate limit exceeded for installation ID {self.installation_id}."
        return self.inject(
            method,
            path_regex,
            status=403,
            headers={
                "x-ratelimit-remaining": "0",
                "x-ratelimit-used": str(RATE_LIMIT),
                "x-ratelimit-reset": str(int(time.time()) + reset_in),
            },
            body=error_body(message),
        )

    def inject_5xx(
        self, method: str, path_regex: str, *, status: int = 502, count: int = 1, after_effect: bool = False
    ) -> Fault:
        """A server error with GitHub's JSON error body (502 by default)."""
        return self.inject(method, path_regex, status=status, count=count, after_effect=after_effect)

    # --- the App's webhook -------------------------------------------------------------------------

    def deliver(self, event: str, payload: JSON, *, guid: Optional[str] = None,
                installation_id: Optional[int] = None) -> JSON:
        """What GitHub does when something happens: POST the signed payload to `hook.hook_url` (None: a URL
        nothing answers) and log the attempt; returns the logged attempt (`status_code` 0: not delivered)."""
        return self.hook.deliver(event, payload, guid=guid, installation_id=installation_id)
