"""What the bot needs from GitHub, and how GitHub's failures reach it.

The adapter (PyGithub) translates HTTP into these values and errors; the outbox and the workers
decide what to do about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Protocol

from eessi_bot.core.check_runs import CheckRun
from eessi_bot.core.deliveries import LoggedDelivery


@dataclass(frozen=True)
class PullRequest:
    repo: str
    number: int
    state: str
    base_ref: str
    base_sha: str
    head_sha: str
    clone_url: str
    ssh_url: str
    html_url: str


@dataclass(frozen=True)
class CommentRef:
    id: int
    html_url: str


@dataclass(frozen=True)
class CheckRunRef:
    id: int
    html_url: str


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: str
    via_app_id: Optional[int]
    html_url: str


class GitHubError(Exception):
    """Base of GitHub failures. `retry_at` (epoch seconds) is when trying again makes sense."""

    retry_at: Optional[float] = None


class RateLimited(GitHubError):
    """Primary or secondary rate limit: GitHub says when to come back."""

    def __init__(self, message: str, retry_at: float) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class Transient(GitHubError):
    """5xx, timeouts, connection errors: a retry later may succeed. For a write the effect is unknown."""


class NotFound(GitHubError):
    """404 (or 410): the thing is gone or the App cannot see it."""


class Rejected(GitHubError):
    """Any other 4xx: retrying the same request will not help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class GitHub(Protocol):
    """The bot's narrow view of the GitHub REST API (one installation)."""

    def get_pull(self, repo: str, number: int) -> PullRequest: ...

    def create_comment(self, repo: str, issue_number: int, body: str) -> CommentRef: ...

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None: ...

    def iter_comments(self, repo: str, issue_number: int) -> Iterator[Comment]: ...

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None: ...

    def add_label(self, repo: str, issue_number: int, label: str) -> None: ...

    def remove_label(self, repo: str, issue_number: int, label: str) -> None:
        """Removing a label the issue does not have is not an error."""
        ...

    def git_token(self) -> Optional[str]:
        """A token for `git fetch` over https (private repositories), or None where none is needed."""
        ...

    def app_slug(self) -> str:
        """The App's slug: its comments are authored by `<slug>[bot]`."""
        ...

    def create_check_run(self, repo: str, run: CheckRun, details_url: Optional[str]) -> CheckRunRef:
        """`POST /repos/{repo}/check-runs` (needs the App's Checks permission, else Rejected 403)."""
        ...

    def update_check_run(self, repo: str, check_run_id: int, run: CheckRun, details_url: Optional[str]) -> None:
        """`PATCH /repos/{repo}/check-runs/{id}`: the check run shows `run` from now on."""
        ...

    def find_check_run(self, repo: str, run: CheckRun) -> Optional[CheckRunRef]:
        """This App's check run of `run.head_sha` named `run.name` with `run.external_id`, if GitHub has
        one (after a create whose answer was lost)."""
        ...


@dataclass(frozen=True)
class DeliveryPage:
    """One page of the App's log of webhook deliveries, newest first."""

    items: List[LoggedDelivery]
    next_url: Optional[str]
    """GitHub's `Link: rel="next"` URL as given (its cursor is GitHub's), None on the last page."""


class DeliveriesLog(Protocol):
    """The App's log of webhook deliveries, read with the App's JWT. It is App-wide: every installation's
    deliveries are in it (`LoggedDelivery.installation_id` tells them apart)."""

    def list_deliveries(self, next_url: Optional[str] = None) -> DeliveryPage:
        """The newest page (100 attempts), or the page `next_url` (from the previous page) points at."""
        ...

    def delivery_payload(self, delivery_id: int) -> Any:
        """The payload GitHub sent in one attempt (`request.payload`; None when the log holds none)."""
        ...
