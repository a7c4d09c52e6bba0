"""GitHub through PyGithub, as the App installation configured in app.cfg.

PyGithub is built without its client-side throttle (it waits between all requests, see
reference/eessi-bot-measured.md) and with a retry that only repeats GETs: writes are retried by the
outbox, which knows whether a repeat could duplicate a comment. PyGithub's connection object is not
thread-safe, so every thread gets its own client; they share one installation token.

The App's log of webhook deliveries (`DeliveriesLog`) is read with the App's JWT through PyGithub's
raw request path (PyGithub does not wrap `/app/hook/deliveries`), following GitHub's `Link` pages.
Check runs go through the same raw path with the installation token (`core.check_runs` makes their JSON).
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import quote

import jwt
import requests
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from github import Auth, Github, GithubException, GithubIntegration
from github.Requester import Requester
from requests.utils import parse_header_links
from urllib3.util.retry import Retry

from eessi_bot.core.check_runs import CheckRun
from eessi_bot.core.config.model import GitHubSettings
from eessi_bot.core.deliveries import LoggedDelivery, logged_delivery
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.github import (
    CheckRunRef,
    Comment,
    CommentRef,
    DeliveryPage,
    GitHubError,
    NotFound,
    PullRequest,
    RateLimited,
    Rejected,
    Transient,
)

TOKEN_REFRESH_MARGIN = 600.0
"""Installation tokens live an hour; a new one is minted when less than this many seconds remain."""
SECONDARY_LIMIT_WAIT = 60.0
TIMEOUT = 20
DELIVERIES_PER_PAGE = 100
"""GitHub's maximum: an idle look at the log of deliveries is one request."""


def _read_retry() -> Retry:
    return Retry(total=2, connect=2, read=2, status=2, backoff_factor=0.3,
                 status_forcelist=(502, 503, 504), allowed_methods=frozenset({"GET"}),
                 raise_on_status=False, respect_retry_after_header=False)


def translate(status: int, headers: Mapping[str, Any], data: Any, now: float) -> GitHubError:
    """Turn an HTTP failure into the error class the bot reacts to."""
    lower = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    message = data.get("message", "") if isinstance(data, dict) else str(data or "")
    text = f"HTTP {status}: {message}".strip()
    if status in (403, 429):
        if "retry-after" in lower and lower["retry-after"].strip().isdigit():
            return RateLimited(text, now + float(lower["retry-after"]))
        if lower.get("x-ratelimit-remaining") == "0" and lower.get("x-ratelimit-reset", "").isdigit():
            return RateLimited(text, max(now, float(lower["x-ratelimit-reset"])) + 1.0)
        if "rate limit" in message.lower():
            return RateLimited(text, now + SECONDARY_LIMIT_WAIT)
    if status in (404, 410):
        return NotFound(text)
    if status >= 500 or status == 401:
        return Transient(text)
    return Rejected(text, status)


class _TokenProvider:
    """Mints installation tokens and renews them well before they expire."""

    def __init__(self, integration: GithubIntegration, installation_id: int, clock: Clock) -> None:
        self._integration = integration
        self._installation_id = installation_id
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Optional[str] = None
        self._expires_at = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._expires_at - self._clock.now() < TOKEN_REFRESH_MARGIN:
                try:
                    grant = self._integration.get_access_token(self._installation_id)
                except GithubException as exc:
                    raise translate(exc.status, exc.headers or {}, exc.data, self._clock.now()) from exc
                except requests.RequestException as exc:
                    raise Transient(f"cannot reach GitHub to mint a token: {exc}") from exc
                self._token = grant.token
                self._expires_at = grant.expires_at.timestamp()
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None


class _InstallationAuth(Auth.Auth):
    def __init__(self, provider: _TokenProvider) -> None:
        self._provider = provider

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        return self._provider.token()


class GitHubApp:
    """The `eessi_bot.ports.github.GitHub` port for one App installation."""

    def __init__(self, settings: GitHubSettings, private_key_pem: str, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._integration = GithubIntegration(
            auth=Auth.AppAuth(settings.app_id, private_key_pem), base_url=settings.api_url,
            timeout=TIMEOUT, retry=None, seconds_between_requests=None, seconds_between_writes=None,
        )
        self._tokens = _TokenProvider(self._integration, settings.installation_id, clock)
        self._local = threading.local()
        self.rate_limit: Optional[Tuple[int, int]] = None
        """(remaining, limit) of GitHub's primary rate limit as its last answer said (status page, metrics)."""
        self._app_key: Any = None
        self._private_key_pem = private_key_pem

    def _client(self) -> Github:
        client: Optional[Github] = getattr(self._local, "client", None)
        if client is None:
            client = Github(auth=_InstallationAuth(self._tokens), base_url=self._settings.api_url,
                            timeout=TIMEOUT, retry=_read_retry(), seconds_between_requests=None,
                            seconds_between_writes=None, per_page=100, lazy=True)
            self._local.client = client
        return client

    def _note_rate(self, headers: Mapping[str, Any]) -> None:
        lower = {str(k).lower(): str(v) for k, v in headers.items()}
        remaining, limit = lower.get("x-ratelimit-remaining", ""), lower.get("x-ratelimit-limit", "")
        if remaining.isdigit() and limit.isdigit():
            self.rate_limit = (int(remaining), int(limit))

    def _call(self, verb: str, url: str, *, body: Optional[Dict[str, Any]] = None,
              parameters: Optional[Dict[str, Any]] = None) -> Tuple[Dict[str, Any], Any]:
        try:
            headers, data = self._client().requester.requestJsonAndCheck(verb, url, parameters=parameters, input=body)
        except GithubException as exc:
            self._note_rate(exc.headers or {})
            error = translate(exc.status, exc.headers or {}, exc.data, self._clock.now())
            if exc.status == 401:
                self._tokens.invalidate()
            raise error from exc
        except requests.RequestException as exc:
            raise Transient(f"{verb} {url}: {exc}") from exc
        self._note_rate(headers)
        return headers, data

    def get_pull(self, repo: str, number: int) -> PullRequest:
        _, data = self._call("GET", f"/repos/{repo}/pulls/{number}")
        base_repo = data["base"]["repo"]
        return PullRequest(
            repo=repo, number=number, state=data["state"], base_ref=data["base"]["ref"],
            base_sha=data["base"]["sha"], head_sha=data["head"]["sha"], clone_url=base_repo["clone_url"],
            ssh_url=base_repo["ssh_url"], html_url=data["html_url"],
        )

    def create_comment(self, repo: str, issue_number: int, body: str) -> CommentRef:
        _, data = self._call("POST", f"/repos/{repo}/issues/{issue_number}/comments", body={"body": body})
        return CommentRef(id=int(data["id"]), html_url=str(data["html_url"]))

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        self._call("PATCH", f"/repos/{repo}/issues/comments/{comment_id}", body={"body": body})

    def iter_comments(self, repo: str, issue_number: int) -> Iterator[Comment]:
        page = 1
        while True:
            _, data = self._call("GET", f"/repos/{repo}/issues/{issue_number}/comments",
                                 parameters={"per_page": 100, "page": page})
            for item in data:
                app = item.get("performed_via_github_app")
                yield Comment(id=int(item["id"]), body=item.get("body") or "",
                              author=item["user"]["login"] if item.get("user") else "",
                              via_app_id=app.get("id") if isinstance(app, dict) else None,
                              html_url=str(item.get("html_url", "")))
            if len(data) < 100:
                return
            page += 1

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        self._call("POST", f"/repos/{repo}/issues/comments/{comment_id}/reactions", body={"content": content})

    def add_label(self, repo: str, issue_number: int, label: str) -> None:
        self._call("POST", f"/repos/{repo}/issues/{issue_number}/labels", body={"labels": [label]})

    def remove_label(self, repo: str, issue_number: int, label: str) -> None:
        try:
            self._call("DELETE", f"/repos/{repo}/issues/{issue_number}/labels/{quote(label, safe='')}")
        except NotFound:
            return

    def git_token(self) -> Optional[str]:
        return self._tokens.token()

    def app_slug(self) -> str:
        try:
            return str(self._integration.get_app().slug)
        except GithubException as exc:
            raise translate(exc.status, exc.headers or {}, exc.data, self._clock.now()) from exc
        except requests.RequestException as exc:
            raise Transient(f"GET /app: {exc}") from exc

    def _app_requester(self) -> Requester:
        """This thread's requester that signs with the App's JWT (GETs retried, like the client's)."""
        requester: Optional[Requester] = getattr(self._local, "app_requester", None)
        if requester is None:
            integration = GithubIntegration(
                auth=Auth.AppAuth(self._settings.app_id, sign_func=self._sign), base_url=self._settings.api_url,
                timeout=TIMEOUT, retry=_read_retry(), seconds_between_requests=None, seconds_between_writes=None)
            requester = integration.requester
            self._local.app_requester = requester
        return requester

    def _sign(self, claims: Dict[str, Any]) -> str:
        """The App's JWT, signed with the key parsed once (PyGithub parses the PEM for every JWT, about
        60 ms of CPU each, and the log of deliveries is read with one JWT per request)."""
        if self._app_key is None:
            self._app_key = load_pem_private_key(self._private_key_pem.encode("utf-8"), password=None)
        return jwt.encode(claims, self._app_key, algorithm="RS256")

    def _app_get(self, url: str, parameters: Optional[Dict[str, Any]] = None) -> Tuple[Dict[str, Any], Any]:
        try:
            return self._app_requester().requestJsonAndCheck("GET", url, parameters=parameters)
        except GithubException as exc:
            raise translate(exc.status, exc.headers or {}, exc.data, self._clock.now()) from exc
        except requests.RequestException as exc:
            raise Transient(f"GET {url}: {exc}") from exc

    def list_deliveries(self, next_url: Optional[str] = None) -> DeliveryPage:
        if next_url is None:
            headers, data = self._app_get("/app/hook/deliveries", {"per_page": DELIVERIES_PER_PAGE})
        else:
            headers, data = self._app_get(next_url)
        items: List[LoggedDelivery] = [
            parsed for parsed in (logged_delivery(item) for item in (data if isinstance(data, list) else []))
            if parsed is not None]
        return DeliveryPage(items, next_link(headers.get("link")))

    def delivery_payload(self, delivery_id: int) -> Any:
        _, data = self._app_get(f"/app/hook/deliveries/{int(delivery_id)}")
        request = data.get("request") if isinstance(data, dict) else None
        return request.get("payload") if isinstance(request, dict) else None

    def create_check_run(self, repo: str, run: CheckRun, details_url: Optional[str]) -> CheckRunRef:
        _, data = self._call("POST", f"/repos/{repo}/check-runs", body=run.request(details_url, create=True))
        return CheckRunRef(id=int(data["id"]), html_url=str(data.get("html_url") or ""))

    def update_check_run(self, repo: str, check_run_id: int, run: CheckRun, details_url: Optional[str]) -> None:
        self._call("PATCH", f"/repos/{repo}/check-runs/{int(check_run_id)}",
                   body=run.request(details_url, create=False))

    def find_check_run(self, repo: str, run: CheckRun) -> Optional[CheckRunRef]:
        """One page (100) of the commit's check runs of that name by this App: a job's re-runs are new jobs
        with check runs of their own, and far fewer than that."""
        _, data = self._call("GET", f"/repos/{repo}/commits/{quote(run.head_sha, safe='')}/check-runs",
                             parameters={"check_name": run.name, "filter": "all", "app_id": self._settings.app_id,
                                         "per_page": 100})
        for item in data.get("check_runs", []) if isinstance(data, dict) else []:
            if isinstance(item, dict) and item.get("external_id") == run.external_id:
                return CheckRunRef(id=int(item["id"]), html_url=str(item.get("html_url") or ""))
        return None


def next_link(header: Optional[str]) -> Optional[str]:
    """The URL of `rel="next"` in a `Link` header, as GitHub gave it (never a cursor made here)."""
    for link in parse_header_links(header or ""):
        if link.get("rel") == "next" and link.get("url"):
            return str(link["url"])
    return None
