"""Run the bot's real pipeline on this machine without GitHub: for `demo` and `try`.

Comments are fed as webhook deliveries through the inbox, workers and outbox; an in-memory GitHub
records what the bot posts; the job manager follows the jobs (local processes or Slurm) and every
change of a job's row is printed as it happens.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Mapping, Optional, TextIO

from eessi_bot.adapters.memory_github import MemoryGitHub
from eessi_bot.adapters.system_clock import SystemClock
from eessi_bot.cli.runtime import Runtime
from eessi_bot.core.config import Config
from eessi_bot.core.uploads import Upload, UploadState
from eessi_bot.core.webhook import parse_delivery
from eessi_bot.ports.github import PullRequest

IDENTITY = {"GIT_AUTHOR_NAME": "eessi-bot demo", "GIT_AUTHOR_EMAIL": "demo@eessi-bot.invalid",
            "GIT_COMMITTER_NAME": "eessi-bot demo", "GIT_COMMITTER_EMAIL": "demo@eessi-bot.invalid"}
"""Only the demo's own example commits need an author; the bot itself never commits."""


def git(repo: Path, *args: str, env: Optional[Mapping[str, str]] = None) -> str:
    argv = ["git", "-C", str(repo), *args]
    result = subprocess.run(argv, capture_output=True, text=True, check=False,
                            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(repo), **(env or {})},
                            timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


class LocalRun:
    def __init__(self, config: Config, out: TextIO, repo: str, pull: PullRequest,
                 delivery_prefix: str = "local") -> None:
        """`delivery_prefix` names the deliveries (`<prefix>-1`, ...) and so the jobs' `event_*`
        directories: `try` gives each run its own."""
        self.config = config
        self.out = out
        self.github = MemoryGitHub(app_id=config.github.app_id, slug=config.instance)
        self.github.add_pull(pull)
        self.pull = pull
        self.runtime = Runtime(config, self.github, SystemClock())
        self.repo = repo
        self._ids = itertools.count(1)
        self._delivery_prefix = delivery_prefix
        self._shown: Dict[str, int] = {}

    def command(self, text: str, sender: str = "maintainer") -> None:
        """`text` as a new PR comment by `sender` (an `issue_comment.created` delivery)."""
        comment = self.github.create_comment(self.repo, self.pull.number, text)
        payload = {
            "action": "created",
            "issue": {"number": self.pull.number, "pull_request": {"url": self.pull.html_url}},
            "comment": {"id": comment.id, "body": text, "user": {"login": sender, "type": "User"},
                        "html_url": comment.html_url},
            "repository": {"full_name": self.repo},
            "sender": {"login": sender, "type": "User"},
        }
        self.github.comments.pop(comment.id)
        self._deliver("issue_comment", payload, text)

    def label(self, name: str, sender: str = "maintainer") -> None:
        """The label `name` added to the PR by `sender` (a `pull_request.labeled` delivery)."""
        payload = {
            "action": "labeled",
            "number": self.pull.number,
            "label": {"name": name},
            "pull_request": {"number": self.pull.number, "state": self.pull.state, "merged": False,
                             "html_url": self.pull.html_url},
            "repository": {"full_name": self.repo},
            "sender": {"login": sender, "type": "User"},
        }
        self._deliver("pull_request", payload, f"label {name} added by {sender}")

    def _deliver(self, event: str, payload: Mapping[str, object], what: str) -> None:
        """Through the inbox and the workers, as a webhook would come; then what it led to."""
        delivery_id = f"{self._delivery_prefix}-{next(self._ids)}"
        delivery = parse_delivery({"x-github-event": event, "x-github-delivery": delivery_id},
                                  json.dumps(payload).encode("utf-8"))
        self.runtime.inbox.store(delivery, self.runtime.clock.now())
        self.runtime.drain()
        row = self.runtime.inbox.get(delivery.id)
        self.out.write(f"> {what}\n  {row.outcome if row is not None else '?'}\n")
        self._progress()

    def follow(self, timeout: float) -> bool:
        """Run the job manager until every job has finished (True) or `timeout` seconds passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.runtime.manage()
            self._progress()
            if not self.runtime.jobs.active(self.config.buildenv.job_backend):
                return True
            time.sleep(min(1.0, self.config.job_manager.poll_interval))
        return False

    def follow_deploy(self, timeout: float) -> List[Upload]:
        """Run job manager cycles and deployer rounds until no upload of the PR waits any more; the
        PR's uploads then (some still pending if `timeout` seconds passed)."""
        deadline = time.monotonic() + timeout
        while True:
            self.runtime.manage()
            self._progress()
            uploads = self.runtime.store.uploads.for_pr(self.repo, self.pull.number)
            if all(u.state is not UploadState.PENDING for u in uploads) or time.monotonic() > deadline:
                return uploads
            time.sleep(0.2)

    def _progress(self) -> None:
        for job in self.runtime.jobs.for_pr(self.repo, self.pull.number):
            for row in job.rows[self._shown.get(job.key, 0):]:
                comment = row.comment if len(row.comment) < 100 else row.comment[:97] + "..."
                self.out.write(f"  job {job.job_id} ({job.node_type}, {job.repo_id}): {row.status}: {comment}\n")
            self._shown[job.key] = len(job.rows)

    def show_comments(self) -> None:
        bodies = self.github.bodies(self.repo, self.pull.number)
        self.out.write(f"\nthe bot posted {len(bodies)} comment(s) on {self.repo}#{self.pull.number}:\n")
        for body in bodies:
            self.out.write("\n" + "-" * 72 + "\n" + body + "\n")

    def cancel_unfinished(self, timeout: float = 15.0) -> None:
        """Cancel jobs still queued or running, and wait until the batch system reports them."""
        self.runtime.job_service.cancel(self.repo, self.pull.number, None, "eessi-bot (run stopped)")
        self.follow(timeout)

    def close(self) -> None:
        self.runtime.db.close()
