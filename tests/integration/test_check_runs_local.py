"""Check runs end to end in-process: the real pipeline, real local jobs and git, the PyGithub adapter
against the fake GitHub over HTTP (requests and answers checked against GitHub's OpenAPI description).

A build of two targets gives two check runs, both seen `in_progress` and both ending `completed` /
`success`; Re-run by a maintainer submits that target again (one new job, one new check run), by
someone else nothing; the Cancel button on a sleeping job cancels it and its check run ends `cancelled`;
an App without the Checks permission builds on with its comments and one warning.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from eessi_bot.adapters.config_files import load_config
from eessi_bot.adapters.github_app import GitHubApp
from eessi_bot.adapters.system_clock import SystemClock
from eessi_bot.cli.runtime import Runtime
from eessi_bot.core.jobs import Job, JobState
from eessi_bot.core.webhook import parse_delivery
from eessi_bot.jobs.check_runs import META_KEY
from tests.fakes.github_server import FakeGitHub
from tests.fakes.site import write_site
from tests.fakes.upstream import BUILD_SH, Upstream, make_upstream
from tests.fakes.webhooks import encode, pr_comment_payload
from tests.waiting import wait_for

REPO = "eessi/software-layer"
PR = 7
ZEN2 = "test-bot: x86_64/amd/zen2 eessi.io-2023.06-"


class Bot:
    """The bot's runtime as `serve` sends (a fresh job comment and check run wait for the job manager's
    first look), driven from the test's thread: deliveries stored and drained, manager cycles run."""

    def __init__(self, root: Path, github: FakeGitHub, upstream: Upstream, build_seconds: int) -> None:
        upstream.commit("main", {"bot/build.sh": BUILD_SH.replace('"${BUILD_SECONDS:-0}"', str(build_seconds))},
                        "a build that takes a while")
        head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
        github.add_repo(REPO, clone_url=upstream.url, ssh_url=upstream.url)
        github.add_pull(REPO, PR, title="Add GCC", user_login="contributor", base_sha=upstream.sha("main"),
                        head_ref="pr7", head_sha=head)
        self.head = head
        self.github = github
        path = write_site(root, pem=github.private_key_pem.encode(), app_id=github.app_id,
                          installation_id=github.installation_id, api_url=github.base_url,
                          extra="\n[job_manager]\npoll_interval = 1\n")
        config, problems = load_config(path, {"HOME": str(root)})
        assert config is not None, [p.render() for p in problems]
        self.runtime = Runtime(config, GitHubApp(config.github, github.private_key_pem, SystemClock()),
                               SystemClock())
        self.runtime.sender.settle = 5.0

    def deliver(self, event: str, payload: Dict[str, Any]) -> str:
        delivery = parse_delivery({"x-github-event": event, "x-github-delivery": str(uuid.uuid4())},
                                  encode(payload))
        self.runtime.inbox.store(delivery, time.time())
        self.runtime.drain()
        row = self.runtime.inbox.get(delivery.id)
        assert row is not None
        return str(row.outcome)

    def command(self, body: str, sender: str = "maintainer") -> str:
        made = self.github.add_comment(REPO, PR, body, login=sender)
        return self.deliver("issue_comment", pr_comment_payload(body, repo=REPO, pr_number=PR, comment_id=made["id"],
                                                                sender_login=sender))

    def click(self, run_id: int, action: str, sender: str, identifier: Optional[str] = None) -> str:
        return self.deliver("check_run", self.github.checks.event(run_id, action, sender, identifier=identifier))

    def jobs(self) -> List[Job]:
        return self.runtime.jobs.for_pr(REPO, PR)

    def follow(self, done: Any, timeout: float = 90.0) -> None:
        """Job manager cycles (each sends what it wrote) until `done()`."""
        def cycled() -> bool:
            self.runtime.manage()
            return bool(done())
        wait_for(cycled, timeout=timeout, interval=0.2)

    def runs(self) -> Dict[str, Dict[str, Any]]:
        """The check runs on GitHub by external_id (the job's key)."""
        return {run["external_id"]: run for run in self.github.checks.runs(REPO)}

    def answers(self) -> List[str]:
        return [c["body"] for c in self.github.comments(REPO, PR)
                if c["user"]["login"] == self.github.bot_login and not c["body"].startswith("New job")]

    def close(self) -> None:
        for job in self.jobs():
            directory = Path(job.job_dir)
            if job.job_id and directory.is_dir():
                (directory / "_bot_local.cancel").touch()
        wait_for(lambda: all((Path(j.job_dir) / "_bot_local.exit").exists() for j in self.jobs() if j.job_id
                             and Path(j.job_dir).is_dir()), timeout=15)
        self.runtime.db.close()


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake
        assert fake.schema_errors == []


def make_bot(tmp_path: Path, github: FakeGitHub, build_seconds: int) -> Bot:
    return Bot(tmp_path / "site", github, make_upstream(tmp_path / "remote"), build_seconds)


def finished(bot: Bot, count: int) -> bool:
    jobs = bot.jobs()
    return len(jobs) == count and all(j.state is JobState.FINISHED for j in jobs) and \
        bot.runtime.outbox.counts()["pending"] == 0


def test_two_targets_rerun_by_a_maintainer_and_by_someone_else(tmp_path: Path, github: FakeGitHub) -> None:
    bot = make_bot(tmp_path, github, build_seconds=2)
    try:
        assert bot.command("bot: build for:arch=x86_64/amd/zen2").startswith("handled build")
        bot.follow(lambda: finished(bot, 2))
        runs = bot.runs()
        assert sorted(run["name"] for run in runs.values()) == [ZEN2 + "compat", ZEN2 + "software"]
        for job in bot.jobs():
            run = runs[job.key]
            assert github.checks.history(run["id"])[-2:] == [("in_progress", None), ("completed", "success")]
            assert github.checks.history(run["id"])[0] == ("queued", None)
            assert len(github.checks.history(run["id"])) <= 3, "created with its newest waiting state"
            assert run["head_sha"] == bot.head and run["output"]["title"] == f"job {job.job_id}: SUCCESS"
            (comment,) = [c for c in github.comments(REPO, PR) if "awaits release by job manager" in c["body"]
                          and f"job id `{job.job_id}`" in c["body"]]
            assert run["details_url"] == comment["html_url"]

        software = runs[next(j.key for j in bot.jobs() if j.repo_id.endswith("software"))]
        assert bot.click(software["id"], "rerequested", "stranger").endswith("by stranger: no build permission")
        assert len(bot.jobs()) == 2 and len(github.checks.runs()) == 2
        (refusal,) = bot.answers()
        assert (f"account `stranger` has NO permission to re-run the check run `{ZEN2}software`; nothing was "
                "done") in refusal

        outcome = bot.click(software["id"], "rerequested", "maintainer")
        assert outcome.startswith("re-run of job ") and " by maintainer: submitted " in outcome
        bot.follow(lambda: finished(bot, 3))
        new = [j for j in bot.jobs() if j.key not in runs]
        assert [(j.node_type, j.repo_id) for j in new] == [("cpu_zen2", "eessi.io-2023.06-software")]
        again = bot.runs()[new[0].key]
        assert (again["name"], again["head_sha"], again["status"], again["conclusion"]) == (
            ZEN2 + "software", bot.head, "completed", "success")
        assert len(github.checks.runs()) == 3 and len(bot.answers()) == 1, "acknowledged only at chatty"
    finally:
        bot.close()


def test_cancel_button_on_a_sleeping_job(tmp_path: Path, github: FakeGitHub) -> None:
    bot = make_bot(tmp_path, github, build_seconds=600)
    try:
        bot.command("bot: build for:arch=x86_64/amd/zen2 repo:software")
        bot.follow(lambda: any(j.state is JobState.RUNNING for j in bot.jobs())
                   and any(r["status"] == "in_progress" for r in bot.runs().values()))
        (job,) = bot.jobs()
        run = bot.runs()[job.key]
        assert [a["identifier"] for a in run["actions"]] == ["cancel"]

        assert bot.click(run["id"], "requested_action", "stranger", "cancel").endswith("no build permission")
        bot.runtime.manage()
        assert bot.jobs()[0].state is JobState.RUNNING

        assert bot.click(run["id"], "requested_action", "maintainer", "cancel") == (
            f"cancel of job {job.job_id} by maintainer: cancelled")
        bot.follow(lambda: finished(bot, 1), timeout=60)
        (ended,) = bot.jobs()
        assert (ended.end_state, ended.cancelled_by) == ("CANCELLED", "maintainer")
        assert github.checks.history(run["id"])[-1] == ("completed", "cancelled")
        final = bot.runs()[job.key]
        assert final["output"]["title"] == f"job {job.job_id}: cancelled by maintainer" and final["actions"] == []
    finally:
        bot.close()


def test_without_the_checks_permission_jobs_go_on_with_one_warning(tmp_path: Path, github: FakeGitHub,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    github.checks.allowed = False
    bot = make_bot(tmp_path, github, build_seconds=0)
    try:
        with caplog.at_level(logging.WARNING):
            bot.command("bot: build for:arch=x86_64/amd/zen2")
            bot.follow(lambda: finished(bot, 2))
        warnings = [r.getMessage() for r in caplog.records if "check runs are off" in r.getMessage()]
        assert len(warnings) == 1 and "grant the GitHub App the repository permission Checks (read & write)" in \
            warnings[0]
        assert github.checks.runs() == [] and github.count("POST", r"/check-runs$") == 1
        job_comments = [c["body"] for c in github.comments(REPO, PR) if c["body"].startswith("New job")]
        assert len(job_comments) == 2 and all("|finished|" in body for body in job_comments)
        assert bot.runtime.check_runs.report(time.time())["state"] == "suspended"
        assert bot.runtime.store.get_meta(META_KEY) is not None
    finally:
        bot.close()
