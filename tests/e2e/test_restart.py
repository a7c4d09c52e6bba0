"""Restart safety of the job manager: killed with SIGKILL while 10 jobs run, 3 end while it is down."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.harness import PR, REPO, BotProcess
from tests.e2e.test_intake import bot_comments, comment_payload
from tests.fakes.github_server import FakeGitHub
from tests.fakes.upstream import make_upstream
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

NODES = [f"node{i}" for i in range(5)]
REPOS = ["eessi.io-2023.06-compat", "eessi.io-2023.06-software"]

GATED_BUILD = """#!/bin/bash
# wait until the test opens this job's gate, then build
node=$(sed -n 's/^node_type = //p' cfg/job.cfg)
repo=$(sed -n 's/^repo_id = //p' cfg/job.cfg)
while [ ! -e "@GATES@/$node-$repo" ]; do sleep 0.2; done
echo built > built.txt
"""


def finished_rows(github: FakeGitHub) -> Counter:
    marker = re.compile(r"<!-- eessi-bot:job:([^ ]+) -->")
    counts: Counter = Counter()
    for comment in bot_comments(github):
        found = marker.search(comment["body"])
        if found:
            counts[found.group(1)] += comment["body"].count("|finished|")
    return counts


def test_kill_9_with_jobs_in_flight(tmp_path: Path) -> None:
    gates = tmp_path / "gates"
    gates.mkdir()
    upstream = make_upstream(tmp_path / "remote")
    upstream.commit("main", {"bot/build.sh": GATED_BUILD.replace("@GATES@", str(gates))}, "gated build")
    head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
    nodes = {n: {"os": "linux", "cpu_subdir": f"x86_64/amd/zen{i}", "slurm_params": "", "repo_targets": REPOS}
             for i, n in enumerate(NODES)}
    with FakeGitHub() as github:
        github.add_repo(REPO, clone_url=upstream.url, ssh_url=upstream.url)
        github.add_pull(REPO, PR, title="t", user_login="c", base_sha=upstream.sha("main"), head_ref="pr7",
                        head_sha=head)
        bot = BotProcess(tmp_path / "site", github, node_type_map=json.dumps(nodes),
                         buildenv_extra="local_max_jobs = 10", extra_config="\n[job_manager]\npoll_interval = 1\n")
        bot.start()
        bot.send("issue_comment", comment_payload(github, "bot: build for:arch=x86_64/amd/.*"))
        wait_for(lambda: sum("|running|" in c["body"] for c in bot_comments(github)) == 10, timeout=60)
        bot.kill()

        with sqlite3.connect(tmp_path / "site" / "state" / "eessi-bot.sqlite3") as conn:
            rows = conn.execute("SELECT node_type, repo_id, job_dir, job_id FROM jobs").fetchall()
        assert len(rows) == 10
        for node, repo, _, _ in rows[:3]:
            (gates / f"{node}-{repo}").touch()
        for _, _, job_dir, _ in rows[:3]:
            exit_file = Path(job_dir) / "_bot_local.exit"
            wait_for(exit_file.exists, timeout=30)
        assert sum(finished_rows(github).values()) == 0, "nothing is reported while the bot is down"

        bot.start()
        wait_for(lambda: sum(finished_rows(github).values()) == 3, timeout=30)
        for node, repo, _, _ in rows[3:]:
            (gates / f"{node}-{repo}").touch()
        wait_for(lambda: sum(finished_rows(github).values()) == 10, timeout=60)
        wait_for(bot.idle)
        time.sleep(1.5)
        counts = finished_rows(github)
        assert len(counts) == 10 and set(counts.values()) == {1}, counts
        assert len([c for c in bot_comments(github) if c["body"].startswith("New job")]) == 10
        bot.stop()
        assert github.schema_errors == []
