"""`eessi-bot demo`: the bot's pipeline on embedded defaults, with no GitHub and no network.

A throwaway configuration (local backend, SQLite in a temporary directory), an in-memory GitHub and
comments fed as webhook deliveries through the real inbox, workers and outbox; the comments the bot
would post are printed.
"""

from __future__ import annotations

import json
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Dict, TextIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from eessi_bot.adapters.config_files import load_config_or_raise
from eessi_bot.adapters.memory_github import MemoryGitHub
from eessi_bot.adapters.system_clock import SystemClock
from eessi_bot.cli.runtime import Runtime
from eessi_bot.core.webhook import parse_delivery
from eessi_bot.ports.github import PullRequest

REPO = "example/software-layer"
PR_NUMBER = 1
COMMANDS = ("bot: help", "bot: show_config")

APP_CFG = """\
[github]
app_id = 1
app_name = demo-bot
installation_id = 1
private_key = {root}/app.pem
webhook_secret = demo-secret

[bot]
data_dir = {root}/state

[bot_control]
command_permission = maintainer
chatlevel = basic

[buildenv]
jobs_base_dir = {root}/jobs
job_backend = local
build_permission = maintainer

[architecturetargets]
node_type_map = {{
    "cpu_zen2": {{"os": "linux", "cpu_subdir": "x86_64/amd/zen2", "slurm_params": "-p zen2",
                  "repo_targets": ["eessi.io-2023.06-software"]}},
    "cpu_zen4": {{"os": "linux", "cpu_subdir": "x86_64/amd/zen4", "slurm_params": "-p zen4",
                  "repo_targets": ["eessi.io-2023.06-software"]}}}}

[repo_targets]
repos_cfg_dir = {root}/repos
"""

REPOS_CFG = """\
[eessi.io-2023.06-software]
repo_name = software.eessi.io
repo_version = 2023.06
container = docker://ghcr.io/eessi/build-node:debian12
"""


def write_demo_config(root: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = root / "app.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pem.chmod(0o600)
    (root / "repos").mkdir()
    (root / "repos" / "repos.cfg").write_text(REPOS_CFG, encoding="utf-8")
    cfg = root / "app.cfg"
    cfg.write_text(APP_CFG.format(root=root), encoding="utf-8")
    return cfg


def comment_payload(body: str, comment_id: int, login: str = "maintainer") -> Dict[str, Any]:
    user = {"login": login, "id": 7, "type": "User"}
    return {
        "action": "created",
        "issue": {"number": PR_NUMBER, "pull_request": {"url": f"https://api.github.com/repos/{REPO}/pulls/1"}},
        "comment": {"id": comment_id, "body": body, "user": user,
                    "html_url": f"https://github.com/{REPO}/pull/{PR_NUMBER}#issuecomment-{comment_id}"},
        "repository": {"full_name": REPO},
        "sender": user,
    }


def run(out: TextIO) -> int:
    with tempfile.TemporaryDirectory(prefix="eessi-bot-demo-") as tmp:
        root = Path(tmp)
        config, _ = load_config_or_raise(write_demo_config(root), env={"HOME": tmp})
        github = MemoryGitHub(app_id=config.github.app_id, slug="demo-bot")
        github.add_pull(_pull())
        runtime = Runtime(config, github, SystemClock())
        out.write(f"demo: instance {config.instance}, state in {config.bot.data_dir}\n")
        for number, text in enumerate(COMMANDS, start=1):
            _feed(runtime, out, text, number)
        out.write(f"\ndemo: the bot posted {len(github.comments)} comment(s) on {REPO}#{PR_NUMBER}:\n")
        for _, _, comment in github.comments.values():
            out.write("\n" + "-" * 72 + "\n" + comment.body + "\n")
        runtime.db.close()
    return 0


def _feed(runtime: Runtime, out: TextIO, text: str, number: int) -> None:
    body = json.dumps(comment_payload(text, 500 + number)).encode("utf-8")
    delivery = parse_delivery({"x-github-event": "issue_comment", "x-github-delivery": f"demo-{number}"}, body)
    runtime.inbox.store(delivery, runtime.clock.now())
    runtime.drain()
    row = runtime.inbox.get(delivery.id)
    assert row is not None
    out.write(f"demo: comment {text!r} -> {row['state']}: {textwrap.shorten(str(row['outcome']), 100)}\n")


def _pull() -> PullRequest:
    return PullRequest(repo=REPO, number=PR_NUMBER, state="open", base_ref="main", base_sha="0" * 40,
                       head_sha="1" * 40, clone_url=f"https://github.com/{REPO}.git",
                       ssh_url=f"git@github.com:{REPO}.git", html_url=f"https://github.com/{REPO}/pull/1")
