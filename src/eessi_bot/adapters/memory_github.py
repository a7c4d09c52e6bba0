"""GitHub kept in memory: for the demo, `replay --dry-run` and unit tests. Records every write.

It also keeps a log of webhook deliveries (`DeliveriesLog`): `log_delivery` adds an attempt, and the
log is read newest first in pages of `page_size`, as GitHub serves it. Check runs are kept with every
state they were written with (`check_run_history`).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from eessi_bot.core.check_runs import CheckRun
from eessi_bot.core.deliveries import LoggedDelivery
from eessi_bot.ports.github import CheckRunRef, Comment, CommentRef, DeliveryPage, NotFound, PullRequest, Rejected


@dataclass
class Write:
    verb: str
    repo: str
    target: int
    body: str


@dataclass
class MemoryGitHub:
    app_id: int = 1
    slug: str = "eessi-bot"
    pulls: Dict[Tuple[str, int], PullRequest] = field(default_factory=dict)
    comments: Dict[int, Tuple[str, int, Comment]] = field(default_factory=dict)
    reactions: List[Tuple[str, int, str]] = field(default_factory=list)
    labels: Dict[Tuple[str, int], List[str]] = field(default_factory=dict)
    writes: List[Write] = field(default_factory=list)
    on_write: Optional[Callable[[Write], None]] = None
    logged: List[Tuple[LoggedDelivery, Any]] = field(default_factory=list)
    """The log of webhook deliveries, oldest first: each attempt and its payload."""
    page_size: int = 100
    reads: List[str] = field(default_factory=list)
    """`list` and `get <id>` for every read of the log of deliveries."""
    check_runs: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    """Check runs by id, as GitHub would show them (the request's fields, `repo` and `id` added)."""
    check_run_history: Dict[int, List[Tuple[str, Optional[str]]]] = field(default_factory=dict)
    """Every (status, conclusion) a check run was written with, in order."""
    checks_allowed: bool = True
    """False: check-run calls are refused as GitHub refuses an App without the Checks permission."""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, write: Write) -> None:
        self.writes.append(write)
        if self.on_write is not None:
            self.on_write(write)

    def add_pull(self, pull: PullRequest) -> None:
        self.pulls[(pull.repo, pull.number)] = pull

    def get_pull(self, repo: str, number: int) -> PullRequest:
        try:
            return self.pulls[(repo, number)]
        except KeyError:
            raise NotFound(f"no pull request {repo}#{number}") from None

    def create_comment(self, repo: str, issue_number: int, body: str) -> CommentRef:
        with self._lock:
            comment_id = next(self._ids)
            url = f"https://github.com/{repo}/pull/{issue_number}#issuecomment-{comment_id}"
            comment = Comment(comment_id, body, f"{self.slug}[bot]", self.app_id, url)
            self.comments[comment_id] = (repo, issue_number, comment)
            self._record(Write("create", repo, issue_number, body))
        return CommentRef(comment_id, url)

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        with self._lock:
            if comment_id not in self.comments:
                raise NotFound(f"no comment {comment_id}")
            _, number, old = self.comments[comment_id]
            self.comments[comment_id] = (repo, number, Comment(old.id, body, old.author, old.via_app_id,
                                                               old.html_url))
            self._record(Write("edit", repo, comment_id, body))

    def iter_comments(self, repo: str, issue_number: int) -> Iterator[Comment]:
        with self._lock:
            found = [c for r, n, c in self.comments.values() if r == repo and n == issue_number]
        return iter(found)

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        with self._lock:
            if (repo, comment_id, content) not in self.reactions:
                self.reactions.append((repo, comment_id, content))
                self._record(Write("react", repo, comment_id, content))

    def add_label(self, repo: str, issue_number: int, label: str) -> None:
        with self._lock:
            current = self.labels.setdefault((repo, issue_number), [])
            if label not in current:
                current.append(label)
                self._record(Write("label", repo, issue_number, label))

    def remove_label(self, repo: str, issue_number: int, label: str) -> None:
        with self._lock:
            current = self.labels.get((repo, issue_number), [])
            if label in current:
                current.remove(label)
                self._record(Write("unlabel", repo, issue_number, label))

    def git_token(self) -> Optional[str]:
        return None

    def app_slug(self) -> str:
        return self.slug

    def bodies(self, repo: str, issue_number: int) -> List[str]:
        return [c.body for c in self.iter_comments(repo, issue_number)]

    def log_delivery(self, item: LoggedDelivery, payload: Any) -> None:
        with self._lock:
            self.logged.append((item, payload))

    def list_deliveries(self, next_url: Optional[str] = None) -> DeliveryPage:
        with self._lock:
            self.reads.append("list")
            newest_first = [item for item, _ in reversed(self.logged)]
        start = int(next_url.rpartition("=")[2]) if next_url else 0
        end = start + self.page_size
        return DeliveryPage(newest_first[start:end], f"memory:deliveries?start={end}" if end < len(newest_first)
                            else None)

    def delivery_payload(self, delivery_id: int) -> Any:
        with self._lock:
            self.reads.append(f"get {delivery_id}")
            for item, payload in self.logged:
                if item.id == delivery_id:
                    return payload
        raise NotFound(f"no delivery {delivery_id}")

    def create_check_run(self, repo: str, run: CheckRun, details_url: Optional[str]) -> CheckRunRef:
        self._check_permission()
        with self._lock:
            run_id = next(self._ids)
            url = f"https://github.com/{repo}/runs/{run_id}"
            self.check_runs[run_id] = {**run.request(details_url, create=True), "repo": repo, "id": run_id,
                                       "html_url": url}
            self.check_run_history[run_id] = [(run.status, run.conclusion)]
            self._record(Write("create check run", repo, run_id, json.dumps(self.check_runs[run_id])))
        return CheckRunRef(run_id, url)

    def update_check_run(self, repo: str, check_run_id: int, run: CheckRun, details_url: Optional[str]) -> None:
        self._check_permission()
        with self._lock:
            if check_run_id not in self.check_runs:
                raise NotFound(f"no check run {check_run_id}")
            self.check_runs[check_run_id].update(run.request(details_url, create=False))
            self.check_run_history[check_run_id].append((run.status, run.conclusion))
            self._record(Write("update check run", repo, check_run_id, json.dumps(self.check_runs[check_run_id])))

    def find_check_run(self, repo: str, run: CheckRun) -> Optional[CheckRunRef]:
        self._check_permission()
        with self._lock:
            for found in self.check_runs.values():
                if (found["repo"], found["head_sha"], found["name"], found.get("external_id")) == (
                        repo, run.head_sha, run.name, run.external_id):
                    return CheckRunRef(int(found["id"]), str(found["html_url"]))
        return None

    def _check_permission(self) -> None:
        if not self.checks_allowed:
            raise Rejected("HTTP 403: Resource not accessible by integration", 403)
