"""`bot: build` on a real Slurm: held jobs on the right partitions and nodes, no secrets in jobs,
sbatch errors on the PR."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from tests.fakes.pipeline import PR, Pipeline
from tests.fakes.upstream import Upstream, make_upstream
from tests.slurm import SlurmSession, cancel_all, release, scontrol_job, squeue_job, wait_state

SECRETS = {"GITHUB_APP_SECRET_TOKEN": "webhook-secret-value", "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
           "GITHUB_TOKEN": "ghp_secretvalue"}


def node_map(extra: str = "") -> str:
    nodes: Dict[str, Dict[str, object]] = {
        "cpu_zen2": {"cpu_subdir": "x86_64/amd/zen2", "slurm_params": "-p zen2"},
        "cpu_zen3": {"cpu_subdir": "x86_64/amd/zen3", "slurm_params": "-p x86_64 --constraint=zen3"},
        "cpu_zen4": {"cpu_subdir": "x86_64/amd/zen4", "slurm_params": "-p zen4 --time=00:30:00"},
    }
    if extra:
        nodes["broken"] = {"cpu_subdir": "x86_64/intel/haswell", "slurm_params": extra}
    for node in nodes.values():
        node.update(os="linux", repo_targets=["eessi.io-2023.06-software"])
    return json.dumps(nodes)


@pytest.fixture
def job_name() -> Iterator[str]:
    name = f"bot-test-{uuid.uuid4().hex[:8]}"
    yield name
    cancel_all(name)


def pipeline(root: Path, upstream: Upstream, job_name: str, monkeypatch: pytest.MonkeyPatch,
             nodes: str) -> Pipeline:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    bot = Pipeline(root / "site", backend="slurm", node_type_map=nodes, buildenv_extra=f"job_name = {job_name}")
    head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
    bot.open_pr(upstream, head)
    return bot


def submitted(bot: Pipeline) -> List[dict]:
    rows = bot.runtime.db.connection().execute("SELECT node_type, job_id, job_dir, state, error FROM jobs")
    return [dict(r) for r in rows]


def test_three_node_types_three_held_jobs(slurm: SlurmSession, tmp_path: Path, job_name: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    upstream = make_upstream(tmp_path / "remote")
    bot = pipeline(tmp_path, upstream, job_name, monkeypatch, node_map())
    bot.comment("bot: build for:arch=x86_64/amd/.*")
    jobs = {j["node_type"]: j for j in submitted(bot)}
    assert sorted(jobs) == ["cpu_zen2", "cpu_zen3", "cpu_zen4"]
    expected = {"cpu_zen2": ("zen2", "(null)"), "cpu_zen3": ("x86_64", "zen3"), "cpu_zen4": ("zen4", "(null)")}
    for node, job in jobs.items():
        queued = squeue_job(job["job_id"])
        assert queued is not None and queued["state"] == "PENDING" and queued["reason"] == "JobHeldUser"
        shown = scontrol_job(job["job_id"])
        assert shown is not None
        assert (shown["Partition"], shown.get("Features", "(null)")) == expected[node], shown
        assert shown["JobName"] == job_name
        assert Path(shown["WorkDir"]) == Path(job["job_dir"])
        assert shown["TimeLimit"] == ("00:30:00" if node == "cpu_zen4" else "1-00:00:00")
    assert len([c for c in bot.bot_comments() if c.startswith("New job")]) == 3

    job = jobs["cpu_zen2"]
    release(job["job_id"])
    wait_state(job["job_id"], "COMPLETED", timeout=60)
    job_env = (Path(job["job_dir"]) / "build-env.txt").read_text()
    for name, value in SECRETS.items():
        assert name not in job_env and value not in job_env
    assert f"SLURM_JOB_ID={job['job_id']}" in job_env
    assert "GCC-13.2.0.eb" in (Path(job["job_dir"]) / f"slurm-{job['job_id']}.out").read_text()
    bot.close()


def test_sbatch_error_is_reported_and_other_jobs_run(slurm: SlurmSession, tmp_path: Path, job_name: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """software-layer #547: "Invalid account or account/partition combination" surfaced only as a traceback."""
    upstream = make_upstream(tmp_path / "remote")
    bot = pipeline(tmp_path, upstream, job_name, monkeypatch, node_map(extra="-p nosuch"))
    bot.comment("bot: build for:arch=x86_64/.*")
    jobs = {j["node_type"]: j for j in submitted(bot)}
    assert jobs["broken"]["state"] == "submit_failed" and jobs["broken"]["job_id"] is None
    assert sum(1 for j in jobs.values() if j["state"] == "submitted") == 3
    (answer,) = [c for c in bot.bot_comments() if "Updates by the bot instance" in c]
    assert "submitting the job on node type `broken` for repository `eessi.io-2023.06-software` failed" in answer
    assert "invalid partition" in answer.lower()
    bot.close()
