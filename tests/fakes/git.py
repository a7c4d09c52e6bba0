"""A recording fake of the `Git` port: a pinned checkout and job trees of a few files, no git."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

from eessi_bot.core.jobs import Checkout
from eessi_bot.ports.git import GitError

BASE_SHA = "b" * 40
HEAD_SHA = "h" * 40


class FakeGit:
    def __init__(self) -> None:
        self.prepared: List[Tuple[str, str, int, Optional[str], Optional[str]]] = []
        """(url, base ref, PR number, head SHA, token) of each fetch."""
        self.trees: List[Path] = []
        self.fail: Optional[GitError] = None

    def prepare(self, url: str, base_ref: str, pr_number: int, head_sha: Optional[str] = None,
                token: Optional[str] = None) -> Checkout:
        self.prepared.append((url, base_ref, pr_number, head_sha, token))
        if self.fail is not None:
            raise self.fail
        return Checkout(url=url, base_ref=base_ref, base_sha=BASE_SHA, head_sha=head_sha or HEAD_SHA,
                        merge_base=BASE_SHA, merged_tree="t" * 40)

    def make_tree(self, checkout: Checkout, dest: Path, pr_number: int) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "easystack.yml").write_text("easyconfigs:\n  - GCC-13.2.0.eb\n", encoding="utf-8")
        (dest / f"{pr_number}.diff").write_text(f"diff of {checkout.head_sha}\n", encoding="utf-8")
        self.trees.append(dest)
