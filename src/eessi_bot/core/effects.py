"""GitHub writes a handler wants, collected in memory and stored atomically with the delivery's end.

Every effect has an idempotency key: storing the same key again never posts twice. A comment's
body carries a hidden marker with its key, so after an uncertain POST the outbox can find it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Union

_MARKER_UNSAFE = re.compile(r"[^A-Za-z0-9_./#:@+=-]")
_COMMAND_LINE = re.compile(r"^( {0,3})bot:", re.MULTILINE)


def marker(key: str) -> str:
    """`<!-- eessi-bot:KEY -->`, with the key made safe inside an HTML comment."""
    safe = _MARKER_UNSAFE.sub("_", key).replace("--", "-_-")
    return f"<!-- eessi-bot:{safe} -->"


def neutralize_commands(body: str) -> str:
    """The bot never posts a line that starts with `bot:` (no instance may read it as a command).

    `&#98;` renders as `b`, so readers see the same text.
    """
    return _COMMAND_LINE.sub(lambda m: m.group(1) + "&#98;ot:", body)


@dataclass(frozen=True)
class CommentEffect:
    """Make a comment on `repo#issue_number` show `body` (create it once, edit it afterwards)."""

    key: str
    repo: str
    issue_number: int
    body: str


@dataclass(frozen=True)
class ReactionEffect:
    key: str
    repo: str
    comment_id: int
    content: str


CHECK_RUN = "check_run"
"""The outbox kind of check runs (beside `ports.store.COMMENT` and `REACTION`)."""


@dataclass(frozen=True)
class CheckRunEffect:
    """Make a check run on `repo` show `body` (`core.check_runs.encode`: the fields of its newest state).

    Stored like a comment: created once, then updated; bodies written between two sends coalesce into
    one update, and an unchanged body writes nothing. `issue_number` is the job's PR (for the logs)."""

    key: str
    repo: str
    issue_number: int
    body: str


Effect = Union[CommentEffect, ReactionEffect, CheckRunEffect]


@dataclass
class Effects:
    items: List[Effect] = field(default_factory=list)

    def comment(self, key: str, repo: str, issue_number: int, body: str) -> None:
        text = neutralize_commands(body).rstrip() + "\n\n" + marker(key)
        self.items.append(CommentEffect(key, repo, issue_number, text))

    def reaction(self, key: str, repo: str, comment_id: int, content: str) -> None:
        self.items.append(ReactionEffect(key, repo, comment_id, content))

    def check_run(self, key: str, repo: str, issue_number: int, body: str) -> None:
        self.items.append(CheckRunEffect(key, repo, issue_number, body))
