"""`eessi-bot try --repo PATH --branch BR [--config app.cfg] "bot: build ..."`: a site admin's dry run.

The command runs through the real pipeline with this site's configuration (Slurm included): the
branch of a local checkout plays a PR against its base branch, the jobs are submitted and followed
to their end, and the comments the bot would post are printed instead of sent. The bot's state
goes to a temporary directory, so a running bot's database is not touched; job directories go to
the configured `jobs_base_dir`.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Optional, TextIO

from eessi_bot.adapters.config_files import load_config_or_raise
from eessi_bot.cli.demo import PR_NUMBER, write_demo_config
from eessi_bot.cli.local_run import LocalRun, git
from eessi_bot.ports.github import PullRequest

REPO = "try/repository"


def run(repo: Path, branch: str, base: str, config_path: Optional[Path], command: str, timeout: float,
        out: TextIO, as_login: Optional[str] = None) -> int:
    with tempfile.TemporaryDirectory(prefix="eessi-bot-try-") as tmp:
        root = Path(tmp)
        config, problems = load_config_or_raise(config_path or write_demo_config(root),
                                                env=None if config_path else {"HOME": tmp, "USER": "try"})
        for problem in problems:
            out.write(problem.render() + "\n")
        config = dataclasses.replace(config, bot=dataclasses.replace(config.bot, data_dir=root / "state"))
        head = git(repo, "rev-parse", "--verify", f"{branch}^{{commit}}")
        base_sha = git(repo, "rev-parse", "--verify", f"{base}^{{commit}}")
        remote = root / "remote.git"
        git(repo, "clone", "-q", "--bare", "--no-local", str(repo.resolve()), str(remote))
        git(remote, "update-ref", f"refs/heads/{base}", base_sha)
        git(remote, "update-ref", f"refs/pull/{PR_NUMBER}/head", head)
        url = f"file://{remote}"
        pull = PullRequest(repo=REPO, number=PR_NUMBER, state="open", base_ref=base, base_sha=base_sha,
                           head_sha=head, clone_url=url, ssh_url=url, html_url=f"file://{repo.resolve()}")
        out.write(f"try: {branch} ({head[:12]}) as a PR against {base} ({base_sha[:12]}) on instance "
                  f"{config.instance}, backend {config.buildenv.job_backend}\n\n")
        local = LocalRun(config, out, REPO, pull)
        try:
            local.command(command)
            finished = local.follow(timeout)
            local.show_comments()
        finally:
            local.close()
        if not finished:
            out.write(f"\ntry: jobs still running after {timeout:.0f} s; they go on (see jobs_base_dir)\n")
            return 1
    return 0
