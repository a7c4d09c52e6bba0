"""`[buildenv] job_sandbox = bwrap` end to end, on the local backend and the real Slurm: a PR's bot/build.sh
that copies the App's private key, app.cfg and the bot's database into its job directory can with no
sandbox, cannot with it, and the build still succeeds; where bwrap is missing the job fails clearly.

The site lives outside /tmp and the test runner's home (a sandboxed job gets an empty /tmp and home of
its own): only the paths the bot hands to the job (cfg/sandbox.cfg) hide those files here.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

from eessi_bot.adapters.sqlite.db import DB_NAME
from eessi_bot.core.jobs import Job
from tests.fakes.pipeline import PR, Pipeline
from tests.fakes.upstream import Upstream, git, make_upstream
from tests.slurm import cancel_all

STEAL_SH = """#!/bin/bash
# PR code: keep in the job dir whatever it can read of the bot's files, then build as usual
cat {key} > stolen-key.txt 2>&1
cat {cfg} > stolen-app-cfg.txt 2>&1
head -c 15 {db} > stolen-db.txt 2>&1
tar czf "eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.gz" easystack.yml
"""
SECRETS = {"stolen-key.txt": "PRIVATE KEY", "stolen-app-cfg.txt": "webhook_secret = s3cret",
           "stolen-db.txt": "SQLite format 3"}
"""What each copy holds when the read worked."""


@pytest.fixture
def site_dir() -> Iterator[Path]:
    """Where the bot's site lives: outside /tmp and the home, removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="eessi-bot-sandbox-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pipelines(site_dir: Path) -> Iterator[List[Pipeline]]:
    """Pipelines of a test, closed (their local jobs cancelled and waited for) before the site goes."""
    made: List[Pipeline] = []
    yield made
    for bot in made:
        bot.close()


@pytest.fixture
def job_name() -> str:
    return f"bot-sbx-{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=["local", "slurm"])
def backend(request: pytest.FixtureRequest, job_name: str) -> Iterator[str]:
    """Each backend; the Slurm one needs the real Slurm, and its jobs are cancelled afterwards."""
    if request.param == "slurm":
        request.getfixturevalue("slurm_cluster")
    yield str(request.param)
    if request.param == "slurm":
        cancel_all(job_name)


def make_bot(site_dir: Path, backend: str, job_name: str, sandbox: Optional[str],
             pipelines: List[Pipeline]) -> Pipeline:
    nodes = {"cpu_zen2": {"os": "linux", "cpu_subdir": "x86_64/amd/zen2",
                          "slurm_params": "-p zen2" if backend == "slurm" else "",
                          "repo_targets": ["eessi.io-2023.06-software"]}}
    extra = f"job_name = {job_name}" + (f"\njob_sandbox = {sandbox}" if sandbox else "")
    bot = Pipeline(site_dir / "site", backend=backend, node_type_map=json.dumps(nodes), buildenv_extra=extra,
                   extra="\n[job_manager]\npoll_interval = 1\n")
    pipelines.append(bot)
    return bot


def build_to_the_end(bot: Pipeline, upstream: Upstream, head: str) -> Job:
    bot.open_pr(upstream, head)
    bot.comment("bot: build for:arch=x86_64/amd/zen2")
    return bot.finished_job()


@pytest.mark.parametrize("sandbox", [None, "bwrap"], ids=["no-sandbox", "bwrap"])
def test_the_sandbox_keeps_the_bots_secrets_from_pr_code(tmp_path: Path, site_dir: Path, backend: str,
                                                        job_name: str, pipelines: List[Pipeline],
                                                        sandbox: Optional[str]) -> None:
    bot = make_bot(site_dir, backend, job_name, sandbox, pipelines)
    site = site_dir / "site"
    upstream = make_upstream(tmp_path / "remote")
    steal = STEAL_SH.format(key=site / "app.pem", cfg=site / "app.cfg", db=bot.config.bot.data_dir / DB_NAME)
    head = upstream.open_pr(PR, {"bot/build.sh": steal})

    job = build_to_the_end(bot, upstream, head)

    assert (job.end_state, job.result_status) == ("COMPLETED", "SUCCESS"), job
    job_dir = Path(job.job_dir)
    read = {name: secret in (job_dir / name).read_text(errors="replace") for name, secret in SECRETS.items()}
    assert read == dict.fromkeys(SECRETS, sandbox is None)
    assert "SUCCESS" in bot.bot_comments()[-1]
    if sandbox:
        hidden = (job_dir / "cfg" / "sandbox.cfg").read_text().splitlines()
        assert {f"hide = {path}" for path in (site / "app.pem", site / "app.cfg", bot.config.bot.data_dir,
                                              Path.home())} <= set(hidden)


def path_without_bwrap(root: Path) -> str:
    """This machine's PATH with every program but bwrap: the job runs where bubblewrap is not installed."""
    farm = root / "bin"
    farm.mkdir()
    real = shutil.which("bwrap")
    assert real is not None, "bwrap is not installed (scripts/test.sh installs bubblewrap)"
    bin_dir = Path(real).parent
    for program in bin_dir.iterdir():
        if program.name != "bwrap":
            (farm / program.name).symlink_to(program)
    rest = [d for d in os.environ.get("PATH", "").split(":") if d and Path(d).resolve() != bin_dir.resolve()]
    return ":".join([str(farm), *rest])


def test_a_job_where_bwrap_is_missing_fails_clearly(tmp_path: Path, site_dir: Path, backend: str, job_name: str,
                                                    pipelines: List[Pipeline],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", path_without_bwrap(tmp_path))  # the bot's, which its jobs get
    bot = make_bot(site_dir, backend, job_name, "bwrap", pipelines)
    upstream = make_upstream(tmp_path / "remote")
    head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})

    job = build_to_the_end(bot, upstream, head)

    assert (job.end_state, job.result_status) == ("FAILED", "FAILURE"), job
    job_dir = Path(job.job_dir)
    output = (job_dir / f"slurm-{job.job_id}.out").read_text()
    assert "job_sandbox = bwrap: bwrap (bubblewrap) was not found" in output
    assert "== bot/build.sh ==" not in output  # the PR's code never ran unsandboxed
    assert not list(job_dir.glob("*.tar.gz"))
    assert "The job sandbox (<code>job_sandbox = bwrap</code>) could not start" in bot.bot_comments()[-1]


def test_names_the_job_writes_are_cleared_from_the_prs_tree(tmp_path: Path, site_dir: Path, job_name: str,
                                                            pipelines: List[Pipeline]) -> None:
    """A PR that ships links named like the job's own files (slurm-<ID>.out, _bot_job<ID>.result, ...)
    would have them written through, outside any sandbox: they are gone before the job runs."""
    bot = make_bot(site_dir, "local", job_name, "bwrap", pipelines)
    victim = site_dir / "victim"
    victim.write_text("untouched\n")
    upstream = make_upstream(tmp_path / "remote")
    upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
    work = upstream.path.parent / f"work-pr{PR}"
    names = [f"slurm-{n}.out" for n in range(1, 21)] + [f"_bot_job{n}.done" for n in range(1, 21)]
    for name in names:
        (work / name).symlink_to(victim)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "links")
    head = git(work, "rev-parse", "HEAD")
    git(upstream.path, "update-ref", f"refs/pull/{PR}/head", head)

    job = build_to_the_end(bot, upstream, head)

    assert (job.end_state, job.result_status) == ("COMPLETED", "SUCCESS"), job
    assert victim.read_text() == "untouched\n"
    assert [p.name for p in Path(job.job_dir).iterdir() if p.is_symlink()] == []
