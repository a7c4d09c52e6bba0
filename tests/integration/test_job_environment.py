"""What a job sees of the bot's environment, on both backends (the real Slurm and local processes):
what `[buildenv] job_environment` names (MODULEPATH, http_proxy, the `module` function), never a
secret-looking name, even when `job_environment = *` asks for everything."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from tests.fakes.pipeline import PR, Pipeline
from tests.fakes.upstream import make_upstream
from tests.slurm import cancel_all, read_env0

BOT_ENV = {
    "MODULEPATH": "/cvmfs/software.eessi.io/versions/2023.06/init/modules",
    "http_proxy": "http://proxy.example:3128/",
    "BASH_FUNC_module%%": '() {  echo "module $*" >> module-calls.txt\n}',
    "UNLISTED_SITE_VARIABLE": "unlisted",
}
SECRETS = {"GITHUB_APP_SECRET_TOKEN": "webhook-secret-value", "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
           "MY_API_TOKEN": "api-token-value"}

BUILD_SH = """#!/bin/bash
# a build step as EESSI's: `module load` under set -e, a proxy from the environment
set -e
env -0 > build-env0.txt
if [ "$(type -t module)" = function ]; then module load EESSI-extend; fi
tar czf "eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.gz" easystack.yml
"""


@pytest.fixture
def job_name() -> str:
    return f"bot-env-{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=["local", "slurm"])
def backend(request: pytest.FixtureRequest, job_name: str) -> Iterator[str]:
    """Each backend; the Slurm one needs the real Slurm, and its jobs are cancelled afterwards."""
    if request.param == "local":
        yield "local"
        return
    request.getfixturevalue("slurm_cluster")
    yield "slurm"
    cancel_all(job_name)


def run_one_job(root: Path, backend: str, job_name: str, setting: Optional[str], bots: List[Pipeline]) -> Path:
    """A `bot: build` on one zen2 node type with the bot's environment holding BOT_ENV and SECRETS, run
    to its end; the job directory."""
    upstream = make_upstream(root / "remote")
    upstream.commit("main", {"bot/build.sh": BUILD_SH}, "build.sh as EESSI's")
    head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
    nodes = {"cpu_zen2": {"os": "linux", "cpu_subdir": "x86_64/amd/zen2",
                          "slurm_params": "-p zen2" if backend == "slurm" else "",
                          "repo_targets": ["eessi.io-2023.06-software"]}}
    extra = f"job_name = {job_name}" + (f"\njob_environment = {setting}" if setting is not None else "")
    bot = Pipeline(root / "site", backend=backend, node_type_map=json.dumps(nodes), buildenv_extra=extra,
                   extra="\n[job_manager]\npoll_interval = 1\n")
    bots.append(bot)
    bot.open_pr(upstream, head)
    bot.comment("bot: build for:arch=x86_64/amd/zen2")
    job = bot.finished_job()
    assert (job.end_state, job.result_status) == ("COMPLETED", "SUCCESS"), job
    return Path(job.job_dir)


@pytest.mark.parametrize(("setting", "seen", "unseen"), [
    ("MODULEPATH http_proxy", ["MODULEPATH", "http_proxy"], ["BASH_FUNC_module%%", "UNLISTED_SITE_VARIABLE"]),
    (None, ["MODULEPATH", "http_proxy", "BASH_FUNC_module%%"], ["UNLISTED_SITE_VARIABLE"]),
    ("* GITHUB_* *TOKEN* AWS_SECRET_ACCESS_KEY", list(BOT_ENV), []),
], ids=["named", "default", "everything-asked"])
def test_a_job_sees_what_is_named_and_never_a_secret(tmp_path: Path, backend: str, job_name: str,
                                                    monkeypatch: pytest.MonkeyPatch, bots: List[Pipeline],
                                                    setting: Optional[str], seen: List[str],
                                                    unseen: List[str]) -> None:
    for name, value in {**BOT_ENV, **SECRETS}.items():
        monkeypatch.setenv(name, value)
    job_dir = run_one_job(tmp_path, backend, job_name, setting, bots)
    env: Dict[str, str] = read_env0(job_dir / "build-env0.txt")
    assert {name: env.get(name) for name in seen} == {name: BOT_ENV[name] for name in seen}
    assert [name for name in unseen if name in env] == []
    raw = (job_dir / "build-env0.txt").read_text()
    for name, value in SECRETS.items():
        assert name not in raw and value not in raw, f"{name} reached the job"
    calls = job_dir / "module-calls.txt"
    assert (calls.read_text() if calls.exists() else None) == (
        "module load EESSI-extend\n" if "BASH_FUNC_module%%" in seen else None)
