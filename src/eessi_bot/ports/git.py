"""Git as a port: what a build of a PR is made of, and how the bot gets job trees from it.

The bot fetches a target repository once per command (into a mirror) and then makes one
self-contained working tree per job from it; keeping that behind a Protocol lets handlers be tested
with a fake that records what was asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Protocol

from eessi_bot.core.jobs import Checkout

__all__ = ["STAGES", "Checkout", "Git", "GitError"]

#: The stages of a failure, as the EESSI bot's `[download_pr_comments]` texts name them.
STAGES = ("clone", "checkout", "pr_diff", "apply")

_STDERR_KEEP = 4096


class GitError(Exception):
    """A git step failed; `stage` picks the EESSI bot's `[download_pr_comments]` text.

    - "clone": the repository or its base branch cannot be fetched,
    - "checkout": the base branch does not exist,
    - "pr_diff": refs/pull/N/head cannot be fetched or does not hold the pinned head SHA,
    - "apply": the PR's changes conflict with the base branch tip.

    `stderr` is git's stderr, trimmed to its last ~4 KB, with any token removed.
    """

    def __init__(self, stage: str, message: str, stderr: str = "") -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown git stage {stage!r}")
        super().__init__(message)
        self.stage = stage
        self.message = message
        self.stderr = stderr[-_STDERR_KEEP:]

    def __str__(self) -> str:
        return f"{self.stage}: {self.message}"


class Git(Protocol):
    def prepare(
        self,
        url: str,
        base_ref: str,
        pr_number: int,
        head_sha: Optional[str] = None,
        token: Optional[str] = None,
    ) -> Checkout:
        """Fetch the base branch and the PR head once and merge them; raises GitError."""
        ...

    def make_tree(self, checkout: Checkout, dest: Path, pr_number: int) -> None:
        """(Re)create `dest` as a self-contained repository: base tip plus the PR's changes
        (uncommitted), and `<pr_number>.diff`; raises GitError."""
        ...
