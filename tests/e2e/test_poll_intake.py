"""Deliveries without a relay and without losses: the bot as a process against the fake GitHub, whose hookshot
logs every attempt to deliver the App's webhook (and fails where the bot does not listen).

* `intake = poll`, no webhook ever reaching the bot: `bot: help` is answered within two poll intervals,
  and a build runs to its end.
* Default intake (webhooks): the bot is stopped, a `bot: build` comment is posted (GitHub cannot deliver
  it), the bot is started: the build runs and is reported, its answer says it came late; restarted again,
  nothing is done twice.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from tests.e2e.harness import PR, REPO, BotProcess
from tests.e2e.test_intake import bot_comments
from tests.fakes.github_server import FakeGitHub
from tests.fakes.upstream import make_upstream
from tests.fakes.webhooks import pr_comment_payload
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

POLL_INTERVAL = 3
LIST = r"^/app/hook/deliveries$"
DETAIL = r"^/app/hook/deliveries/\d+$"
ZEN2 = """{"cpu_zen2": {"os": "linux", "cpu_subdir": "x86_64/amd/zen2", "slurm_params": "",
                        "repo_targets": ["eessi.io-2023.06-software"]}}"""
BUILD = "bot: build for:arch=x86_64/amd/zen2"
LATE = "this comment reached the bot late"


@pytest.fixture
def github(tmp_path: Path) -> Iterator[FakeGitHub]:
    upstream = make_upstream(tmp_path / "remote")
    head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - zlib-1.3.eb\n  - GCC-13.2.0.eb\n"})
    with FakeGitHub() as fake:
        fake.add_repo(REPO, clone_url=upstream.url, ssh_url=upstream.url)
        fake.add_pull(REPO, PR, title="Add zlib", user_login="contributor", base_sha=upstream.sha("main"),
                      head_ref="pr7", head_sha=head)
        yield fake
        assert fake.schema_errors == []


def post(github: FakeGitHub, body: str) -> Dict[str, Any]:
    """A maintainer's comment on the PR, and GitHub's attempt to deliver it (the logged attempt)."""
    comment = github.add_comment(REPO, PR, body, login="maintainer")
    payload = pr_comment_payload(body, repo=REPO, pr_number=PR, comment_id=comment["id"],
                                 sender_login="maintainer", installation_id=github.installation_id)
    return github.deliver("issue_comment", payload)


def answers(github: FakeGitHub, command: str) -> List[Dict[str, Any]]:
    return [c for c in bot_comments(github) if f"received bot command `{command}`" in c["body"]]


def finished_jobs(github: FakeGitHub) -> List[Dict[str, Any]]:
    return [c for c in bot_comments(github) if c["body"].startswith("New job") and "|finished|" in c["body"]]


def job_count(bot: BotProcess) -> int:
    with sqlite3.connect(bot.root / "state" / "eessi-bot.sqlite3") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


def make_bot(tmp_path: Path, github: FakeGitHub, github_config: str = "") -> BotProcess:
    return BotProcess(tmp_path / "site", github, node_type_map=ZEN2, github_config=github_config,
                      extra_config="\n[job_manager]\npoll_interval = 1\n")


def test_poll_intake_needs_no_webhook(tmp_path: Path, github: FakeGitHub) -> None:
    bot = make_bot(tmp_path, github, f"intake = poll\npoll_interval_deliveries = {POLL_INTERVAL}")
    bot.start()
    try:
        wait_for(lambda: github.count("GET", LIST) >= 1, timeout=10)
        sent = time.monotonic()
        attempt = post(github, "bot: help")
        (answer,) = wait_for(lambda: answers(github, "help"), timeout=2 * POLL_INTERVAL)
        assert time.monotonic() - sent < 2 * POLL_INTERVAL
        assert LATE not in answer["body"]

        post(github, BUILD)
        (job,) = wait_for(lambda: finished_jobs(github), timeout=90)
        assert "SUCCESS" in job["body"]
        wait_for(bot.idle)
        assert job_count(bot) == 1
        assert [a["status_code"] for a in github.hook.attempts()] == [0, 0], "no webhook ever reached the bot"
        assert attempt["guid"] in bot.log.read_text()
    finally:
        bot.cancel_local_jobs()
        bot.stop()


def test_a_comment_sent_while_the_bot_was_down_is_built_once(tmp_path: Path, github: FakeGitHub) -> None:
    bot = make_bot(tmp_path, github)
    github.hook.hook_url = bot.url + "/"
    bot.start()
    try:
        assert post(github, "bot: help")["status_code"] == 202
        wait_for(lambda: answers(github, "help"))
        wait_for(bot.idle)
        bot.stop()

        missed = post(github, BUILD)
        assert (missed["status"], missed["status_code"]) == ("failed to connect", 0)
        bot.start()
        (job,) = wait_for(lambda: finished_jobs(github), timeout=90)
        assert "SUCCESS" in job["body"]
        (answer,) = wait_for(lambda: answers(github, BUILD[5:]))
        assert LATE in answer["body"]
        wait_for(bot.idle)

        lists = github.count("GET", LIST)
        bot.stop()
        bot.start()
        wait_for(lambda: github.count("GET", LIST) > lists, timeout=10)
        time.sleep(1.5)
        wait_for(bot.idle)
        assert job_count(bot) == 1
        assert len(finished_jobs(github)) == 1 and len(answers(github, BUILD[5:])) == 1
        assert github.count("GET", DETAIL) == 1, "the missed delivery was fetched once, and never again"
        assert len([c for c in bot_comments(github) if c["body"].startswith("New job")]) == 1
    finally:
        bot.cancel_local_jobs()
        bot.stop()
