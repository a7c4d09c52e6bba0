"""`bot: build` over HTTP: the bot as a process, the fake GitHub, a real git repository, local jobs."""

from __future__ import annotations

import configparser
import sqlite3
import uuid
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest

from tests.e2e.harness import PR, REPO, BotProcess
from tests.e2e.test_intake import bot_comments, comment_payload
from tests.fakes.github_server import FakeGitHub
from tests.fakes.upstream import BUILD_SH, Upstream, make_upstream
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

ZEN2_ZEN4 = """{
    "cpu_zen2": {"os": "linux", "cpu_subdir": "x86_64/amd/zen2", "slurm_params": "-p zen2",
                 "repo_targets": ["eessi.io-2023.06-software"]},
    "cpu_zen4": {"os": "linux", "cpu_subdir": "x86_64/amd/zen4", "slurm_params": "-p zen4",
                 "repo_targets": ["eessi.io-2023.06-software"]}}"""


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    return make_upstream(tmp_path / "remote")


@pytest.fixture
def builder(tmp_path: Path, upstream: Upstream) -> Iterator[tuple]:
    with FakeGitHub() as github:
        github.add_repo(REPO, clone_url=upstream.url, ssh_url=upstream.url)
        head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - zlib-1.3.eb\n  - GCC-13.2.0.eb\n"})
        github.add_pull(REPO, PR, title="Add GCC", user_login="contributor", base_sha=upstream.sha("main"),
                        head_ref="pr7", head_sha=head)
        bot = BotProcess(tmp_path / "site", github, node_type_map=ZEN2_ZEN4,
                         extra_config="\n[job_manager]\npoll_interval = 1\n")
        bot.start()
        yield bot, github
        bot.cancel_local_jobs()
        bot.stop()
        assert github.schema_errors == []


def jobs(bot: BotProcess) -> list:
    with bot.db() as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM jobs").fetchall()


def test_build_for_zen2_makes_one_job(builder: tuple) -> None:
    bot, github = builder
    delivery = str(uuid.uuid4())
    payload = comment_payload(github, "bot: build for:arch=x86_64/amd/zen2")
    response, seconds = bot.send("issue_comment", payload, delivery)
    assert response.status_code == 202 and seconds < 0.05
    comment = wait_for(lambda: [c for c in bot_comments(github) if c["body"].startswith("New job")])
    wait_for(bot.idle)
    (job,) = jobs(bot)
    assert job["node_type"] == "cpu_zen2" and job["job_id"] is not None
    job_dir = Path(job["job_dir"])
    cfg = configparser.ConfigParser()
    cfg.read(job_dir / "cfg" / "job.cfg")
    assert cfg["architecture"]["software_subdir"] == "x86_64/amd/zen2"
    assert "GCC-13.2.0.eb" in (job_dir / "easystack.yml").read_text()
    assert f"job id `{job['job_id']}` awaits release by job manager" in comment[0]["body"]

    again, _ = bot.send("issue_comment", payload, delivery)
    assert again.status_code == 200
    wait_for(bot.idle)
    assert len([c for c in bot_comments(github) if c["body"].startswith("New job")]) == 1
    assert len(jobs(bot)) == 1


def test_failures_are_answered_and_the_bot_keeps_serving(builder: tuple, upstream: Upstream) -> None:
    bot, github = builder
    bot.send("issue_comment", comment_payload(github, "bot: build for:arch=aarch64/neoverse_v1 instance:test-bot"))
    no_match = wait_for(lambda: [c for c in bot_comments(github) if "no node type of this instance" in c["body"]])
    assert len(no_match) == 1
    upstream.commit("main", {"easystack.yml": "easyconfigs:\n  - zlib-1.3.1.eb\n"}, "main moves on")
    bot.send("issue_comment", comment_payload(github, "bot: build for:arch=x86_64/amd/zen2"))
    conflict = wait_for(lambda: [c for c in bot_comments(github) if "could not be prepared" in c["body"]])
    assert "Unable to download or merge changes" in conflict[0]["body"]
    bot.send("issue_comment", comment_payload(github, "bot: help"))
    wait_for(lambda: [c for c in bot_comments(github) if "How to send commands" in c["body"]])
    wait_for(bot.idle)
    assert jobs(bot) == []
    assert bot.delivery_states() == {"done": 3}


def test_two_targets_to_finished_and_status(builder: tuple, upstream: Upstream) -> None:
    """Both job comments end with a finished SUCCESS row soon after the jobs end; status shows both."""
    bot, github = builder
    upstream.commit("main", {"bot/build.sh": BUILD_SH.replace("sleep \"${BUILD_SECONDS:-0}\"", "sleep 2")},
                    "a build that takes a moment")
    bot.send("issue_comment", comment_payload(github, "bot: build for:arch=x86_64/amd/.*"))

    def finished() -> list:
        done = [c for c in bot_comments(github) if c["body"].startswith("New job") and "|finished|" in c["body"]]
        return done if len(done) == 2 else []

    comments = wait_for(finished, timeout=60)
    ended = {}
    for row in jobs(bot):
        marker = Path(row["job_dir"]) / f"_bot_job{row['job_id']}.done"
        ended[row["job_id"]] = marker.stat().st_mtime
    reported = max(datetime.fromisoformat(c["updated_at"].replace("Z", "+00:00")).timestamp() for c in comments)
    assert reported - max(ended.values()) < 10, "reported within 10 s of the jobs' end"
    for comment in comments:
        body = comment["body"]
        assert body.index("|released|") < body.index("|running|") < body.index("|finished|")
        assert ":grin: SUCCESS built" in body and "job ended `COMPLETED`, exit code `0:0`" in body
    bot.send("issue_comment", comment_payload(github, "bot: status"))
    status = wait_for(lambda: [c for c in bot_comments(github) if "This is the status of all" in c["body"]])
    table = status[0]["body"]
    head = upstream.sha(f"refs/pull/{PR}/head")
    assert table.count(":grin: SUCCESS") == 2 and table.count(f"`{head[:12]}`") == 2
    assert "|`amd-zen2`|`x86_64/amd/zen2`|eessi.io-2023.06-software|finished|" in table
    assert "|`amd-zen4`|`x86_64/amd/zen4`|eessi.io-2023.06-software|finished|" in table
