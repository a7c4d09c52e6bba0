"""A target repository on disk, shaped like GitHub serves it: a `main` branch with `bot/*.sh`
scripts and PRs under `refs/pull/<N>/head`. Commits are made with an identity given here only."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org", "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"}

BUILD_SH = """#!/bin/bash
# a target repository's build step: show what was built, make an artefact
echo "building $(cat easystack.yml | tr '\\n' ' ')"
env > build-env.txt
sleep "${BUILD_SECONDS:-0}"
tar czf "eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.gz" easystack.yml
"""

CHECK_BUILD_SH = """#!/bin/bash
cat > "_bot_job${SLURM_JOB_ID}.result" <<EOT
[RESULT]
comment_description = :grin: SUCCESS built $(cat easystack.yml | tr '\\n' ' ')
status = SUCCESS
artefacts =
    eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.gz
EOT
"""


def git(repo: Path, *args: str, stdin: Optional[str] = None) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], env=IDENTITY, capture_output=True, text=True,
                            input=stdin, check=True)
    return result.stdout.strip()


@dataclass
class Upstream:
    path: Path

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def sha(self, ref: str) -> str:
        return git(self.path, "rev-parse", ref)

    def commit(self, branch: str, files: Dict[str, str], message: str) -> str:
        """Commit `files` (path → content) on `branch` (created from main if new)."""
        work = self.path if branch == "main" else self.path.parent / f"work-{branch.replace('/', '_')}"
        if not work.exists():
            git(self.path, "worktree", "add", "-q", "-b", branch, str(work), "main")
        for name, content in files.items():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            if name.startswith("bot/"):
                target.chmod(0o755)
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", message)
        return git(work, "rev-parse", "HEAD")

    def open_pr(self, number: int, files: Dict[str, str], branch: Optional[str] = None) -> str:
        """A PR branch with `files` changed, published as refs/pull/<number>/head; returns its head SHA."""
        head = self.commit(branch or f"pr{number}", files, f"PR {number}")
        git(self.path, "update-ref", f"refs/pull/{number}/head", head)
        return head


def make_upstream(root: Path) -> Upstream:
    """A repository with a buildable `main`: bot/build.sh, bot/check-build.sh and an easystack file."""
    path = root / "upstream"
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "commit", "-q", "--allow-empty", "-m", "root")
    upstream = Upstream(path)
    upstream.commit("main", {"bot/build.sh": BUILD_SH, "bot/check-build.sh": CHECK_BUILD_SH,
                             "easystack.yml": "easyconfigs:\n  - zlib-1.3.eb\n"}, "base")
    return upstream
