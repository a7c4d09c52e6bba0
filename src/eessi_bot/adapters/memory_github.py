"""GitHub kept in memory: for the demo, `replay --dry-run` and unit tests. Records every write."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from eessi_bot.ports.github import Comment, CommentRef, NotFound, PullRequest


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
