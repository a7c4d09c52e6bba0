"""The GitHub port in memory with scripted failures, for unit tests of the outbox and handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple

from eessi_bot.adapters.memory_github import MemoryGitHub
from eessi_bot.core.check_runs import CheckRun
from eessi_bot.ports.github import CheckRunRef, Comment, CommentRef, GitHubError


@dataclass
class FlakyGitHub(MemoryGitHub):
    """`fail(verb, error, after_effect)`: the next call of `verb` raises `error`; with `after_effect`
    the write happens first (GitHub did it, the answer got lost)."""

    failures: List[Tuple[str, GitHubError, bool]] = field(default_factory=list)
    calls: List[str] = field(default_factory=list)

    def fail(self, verb: str, error: GitHubError, after_effect: bool = False) -> None:
        self.failures.append((verb, error, after_effect))

    def _maybe_fail(self, verb: str, after: bool) -> None:
        for index, (name, error, after_effect) in enumerate(self.failures):
            if name == verb and after_effect == after:
                del self.failures[index]
                raise error

    def create_comment(self, repo: str, issue_number: int, body: str) -> CommentRef:
        self.calls.append("create")
        self._maybe_fail("create", False)
        ref = super().create_comment(repo, issue_number, body)
        self._maybe_fail("create", True)
        return ref

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        self.calls.append("edit")
        self._maybe_fail("edit", False)
        super().edit_comment(repo, comment_id, body)
        self._maybe_fail("edit", True)

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        self.calls.append("react")
        self._maybe_fail("react", False)
        super().add_reaction(repo, comment_id, content)

    def iter_comments(self, repo: str, issue_number: int) -> Iterator[Comment]:
        self.calls.append("list")
        self._maybe_fail("list", False)
        return super().iter_comments(repo, issue_number)

    def create_check_run(self, repo: str, run: CheckRun, details_url: Optional[str]) -> CheckRunRef:
        self.calls.append("create check run")
        self._maybe_fail("create check run", False)
        ref = super().create_check_run(repo, run, details_url)
        self._maybe_fail("create check run", True)
        return ref

    def update_check_run(self, repo: str, check_run_id: int, run: CheckRun, details_url: Optional[str]) -> None:
        self.calls.append("update check run")
        self._maybe_fail("update check run", False)
        super().update_check_run(repo, check_run_id, run, details_url)

    def add_user_comment(self, repo: str, issue_number: int, body: str, login: str = "alice") -> Comment:
        """A comment made by a person (not via any App)."""
        ref = super().create_comment(repo, issue_number, body)
        comment = Comment(ref.id, body, login, None, ref.html_url)
        self.comments[ref.id] = (repo, issue_number, comment)
        self.writes.pop()
        return comment
