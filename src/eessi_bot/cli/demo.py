"""`eessi-bot demo`: the bot's main job on embedded defaults, with no GitHub and no network.

An example target repository (shipped with the package: `bot/*.sh` and an easystack file) gets a
PR; `bot: build` on it runs through the real pipeline on the local backend: the PR is fetched into a
mirror, a job directory is prepared, the job is submitted held, released, runs the repository's
scripts, and its result is reported; then `bot: status`. Progress and the comments the bot would
post are printed. Everything lives in a temporary directory.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import TextIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from eessi_bot.adapters.config_files import load_config_or_raise
from eessi_bot.cli.local_run import IDENTITY, LocalRun, git
from eessi_bot.ports.github import PullRequest

REPO = "example/software-layer"
PR_NUMBER = 1
COMMANDS = ("bot: help", "bot: build for:arch=x86_64/amd/zen2", "bot: status")
TIMEOUT = 120.0

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
local_tmp = {root}/tmp/$USER

[architecturetargets]
node_type_map = {{
    "cpu_zen2": {{"os": "linux", "cpu_subdir": "x86_64/amd/zen2", "slurm_params": "-p zen2",
                  "repo_targets": ["eessi.io-2023.06-software"]}},
    "cpu_zen4": {{"os": "linux", "cpu_subdir": "x86_64/amd/zen4", "slurm_params": "-p zen4",
                  "repo_targets": ["eessi.io-2023.06-software"]}}}}

[repo_targets]
repos_cfg_dir = {root}/repos

[job_manager]
poll_interval = 1
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


def make_example_repository(root: Path) -> PullRequest:
    """The shipped example repository, with a PR (branch and refs/pull/1/head) that adds a package."""
    repo = root / "software-layer"
    shutil.copytree(Path(str(resources.files("eessi_bot") / "data" / "demo-repo")), repo)
    for script in (repo / "bot").iterdir():
        script.chmod(0o755)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "example software layer", env=IDENTITY)
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "add-gcc")
    with (repo / "easystack.yml").open("a", encoding="utf-8") as easystack:
        easystack.write("  - GCC-13.2.0.eb\n")
    git(repo, "commit", "-q", "-am", "add GCC 13.2.0", env=IDENTITY)
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "update-ref", f"refs/pull/{PR_NUMBER}/head", head)
    git(repo, "checkout", "-q", "main")
    url = f"file://{repo}"
    return PullRequest(repo=REPO, number=PR_NUMBER, state="open", base_ref="main", base_sha=base, head_sha=head,
                       clone_url=url, ssh_url=url, html_url=f"https://github.com/{REPO}/pull/{PR_NUMBER}")


def run(out: TextIO) -> int:
    with tempfile.TemporaryDirectory(prefix="eessi-bot-demo-") as tmp:
        root = Path(tmp)
        config, _ = load_config_or_raise(write_demo_config(root), env={"HOME": tmp, "USER": "demo"})
        pull = make_example_repository(root)
        out.write(f"demo: instance {config.instance}, local backend, state and jobs in {root}\n"
                  f"demo: {REPO}#{PR_NUMBER} adds GCC-13.2.0 to easystack.yml\n\n")
        local = LocalRun(config, out, REPO, pull)
        finished = False
        try:
            local.command(COMMANDS[0])
            local.command(COMMANDS[1])
            finished = local.follow(TIMEOUT)
            local.command(COMMANDS[2])
            local.show_comments()
        finally:
            if not finished:
                local.cancel_unfinished()
            local.close()
        if not finished:
            out.write(f"\ndemo: the job did not finish within {TIMEOUT:.0f} s\n")
            return 1
        out.write("\ndemo: done\n")
    return 0
