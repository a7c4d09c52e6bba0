"""The bot's real pipeline (inbox → workers → outbox) in-process, on a real SQLite file and an
in-memory GitHub: for handler tests that need no HTTP."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

from eessi_bot.adapters.config_files import load_config
from eessi_bot.cli.runtime import Runtime
from eessi_bot.core.jobs import Job, JobState
from eessi_bot.core.webhook import parse_delivery
from eessi_bot.ports.github import PullRequest
from tests.fakes.clock import FakeClock
from tests.fakes.github_port import FlakyGitHub
from tests.fakes.site import write_site
from tests.fakes.upstream import Upstream
from tests.fakes.webhooks import encode, pr_comment_payload, pr_payload
from tests.waiting import wait_for

REPO = "eessi/software-layer"
PR = 7


class Pipeline:
    def __init__(self, root: Path, **site: Any) -> None:
        config, problems = load_config(write_site(root, **site), {"HOME": str(root)})
        assert config is not None, [p.render() for p in problems]
        self.config = config
        self.github = FlakyGitHub(app_id=config.github.app_id, slug="test-bot-app")
        self.clock = FakeClock()
        self.runtime = Runtime(config, self.github, self.clock)

    def open_pr(self, upstream: Upstream, head: str, clone_url: Optional[str] = None) -> None:
        """Make GitHub know PR #PR of `upstream` (head `head` on its `main`)."""
        self.github.add_pull(PullRequest(repo=REPO, number=PR, state="open", base_ref="main",
                                         base_sha=upstream.sha("main"), head_sha=head,
                                         clone_url=clone_url or upstream.url, ssh_url=upstream.url,
                                         html_url=f"https://github.com/{REPO}/pull/{PR}"))

    def deliver(self, event: str, payload: Dict[str, Any], delivery_id: Optional[str] = None) -> str:
        """Store a delivery as the webhook endpoint would, run it and send its writes; the outcome."""
        delivery = parse_delivery({"x-github-event": event, "x-github-delivery": delivery_id or str(uuid.uuid4())},
                                  encode(payload))
        self.runtime.inbox.store(delivery, self.clock.now())
        self.runtime.drain()
        row = self.runtime.inbox.get(delivery.id)
        assert row is not None
        return str(row.outcome)

    def comment(self, body: str, sender: str = "maintainer", sender_type: str = "User", **kwargs: Any) -> str:
        made = self.github.add_user_comment(REPO, PR, body, login=sender)
        payload = pr_comment_payload(body, repo=REPO, pr_number=PR, comment_id=made.id, sender_login=sender,
                                     sender_type=sender_type, **kwargs)
        return self.deliver("issue_comment", payload)

    def pull_request(self, action: str, **kwargs: Any) -> str:
        return self.deliver("pull_request", pr_payload(action, repo=REPO, number=PR, **kwargs))

    def bot_comments(self) -> List[str]:
        """Bodies of the bot's comments on the PR, in order (read directly, not through the port)."""
        return [c.body for r, n, c in self.github.comments.values() if (r, n) == (REPO, PR) and c.via_app_id]

    def close(self) -> None:
        """Cancel the local jobs this pipeline started (detached processes, held until released) and
        wait until they are gone, so nothing writes into a directory the test is removing."""
        started = [Path(d) for (d,) in self.runtime.db.connection().execute(
            "SELECT job_dir FROM jobs WHERE job_id IS NOT NULL AND backend = 'local'").fetchall()
            if Path(d).is_dir()]
        for directory in started:
            if directory.is_dir():
                (directory / "_bot_local.cancel").touch()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all((d / "_bot_local.exit").exists() for d in started):
            time.sleep(0.05)
        self.runtime.db.close()

    def finished_job(self, timeout: float = 90.0) -> Job:
        """Run the job manager until the PR's one job has finished; that job (AssertionError after
        `timeout` seconds, naming the state it is stuck in)."""
        def finished() -> Optional[Job]:
            (job,) = self.runtime.jobs.for_pr(REPO, PR)
            if job.state is JobState.FINISHED:
                return job
            self.runtime.manage()
            return None

        job = wait_for(finished, timeout=timeout, interval=0.2)
        assert job is not None
        return job

    def reactions(self) -> List[str]:
        return [content for _, _, content in self.github.reactions]
