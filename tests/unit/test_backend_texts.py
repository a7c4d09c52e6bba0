"""Default texts follow the backend (issue 14): a local job's rows and check-config's summary never talk
about Slurm, a site's own templates are used as written, and Slurm keeps EESSI's texts byte for byte."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import List

import pytest

from eessi_bot.adapters.config_files import load_config
from eessi_bot.cli.check_config import summary
from eessi_bot.core.config import Config
from eessi_bot.core.config.defaults import TEMPLATES, template_for
from eessi_bot.core.job_comment import render_job_comment, submitted_row
from eessi_bot.core.jobs import Job, JobState, JobStatus
from eessi_bot.core.transitions import Seen, advance
from tests.fakes.site import write_site
from tests.golden import assert_golden

ENV = {"HOME": "/home/bot", "USER": "bot"}
T0 = 1_756_375_200.0
"""Aug 28 10:00:00 UTC 2025, as in the golden formats."""
HELD = JobStatus("PENDING", "JobHeldUser", held=True)
BEGIN = JobStatus("PENDING", "BeginTime", eligible_time="2025-08-28T10:02:00")
SLURM_WORDS = ("slurm", "sbatch", "squeue", "scontrol", "sacct", "scancel")
OWN = "job waits for a free slot{extra_info}"
EESSI = "job awaits launch by Slurm scheduler{extra_info}"


def load(root: Path, backend: str, extra: str = "", buildenv_extra: str = "") -> Config:
    config, problems = load_config(write_site(root, backend=backend, extra=extra, buildenv_extra=buildenv_extra),
                                   ENV)
    assert config is not None, [p.render() for p in problems]
    return config


def job(config: Config, backend: str, delay: int = 0) -> Job:
    """A job of `backend` right after its submission, as jobs/build.py records it."""
    pr_dir = "/project/bot/jobs/2025.08/EESSI/software-layer/pr_42"
    new = Job(key="d:0:cpu_zen2:r", build_key="d:0", repo="EESSI/software-layer", pr_number=42, node_type="cpu_zen2",
              repo_id="eessi.io-2023.06-software", software_subdir="x86_64/amd/zen2", accelerator=None,
              on_arch="x86_64/amd/zen2", on_accelerator=None, job_dir=f"{pr_dir}/event_d/run_000/x",
              backend=backend, comment_key="job:d:0:cpu_zen2:r", state=JobState.SUBMITTED, job_id="7",
              symlink=f"{pr_dir}/7", created_at=T0, updated_at=T0)
    return new.with_row(submitted_row(config.templates, "7", T0, delay or None))


def released_row(config: Config, backend: str, delayed_begin: bool = False) -> str:
    seen = Seen(BEGIN if delayed_begin else HELD)
    step = advance(job(config, backend, 120 if delayed_begin else 0), seen, config.templates, T0 + 60, delayed_begin)
    assert step.job.state is JobState.RELEASED
    return step.job.rows[-1].comment


ROWS = [
    # (id, backend, [new_job_comments] of app.cfg, delayed_begin, the released (or received) row)
    ("slurm-default-is-eessi", "slurm", "", False, "job awaits launch by Slurm scheduler"),
    ("slurm-delayed-begin-says-when", "slurm", "", True,
     "job awaits launch by Slurm scheduler (eligible to start from 2025-08-28T10:02:00)"),
    ("local-default-names-no-slurm", "local", "", False, "job awaits launch as a local process"),
    ("local-own-text-as-written", "local", f"awaits_launch = {OWN}", False, "job waits for a free slot"),
    ("slurm-own-text-as-written", "slurm", f"awaits_launch = {OWN}", False, "job waits for a free slot"),
    ("local-eessi-text-written-is-kept", "local", f"awaits_launch = {EESSI}", False,
     "job awaits launch by Slurm scheduler"),
    ("local-empty-value-is-the-default", "local", "awaits_launch =", False, "job awaits launch as a local process"),
    ("local-quotes-alone-are-the-default", "local", 'awaits_launch = ""', False,
     "job awaits launch as a local process"),
]


@pytest.mark.parametrize(("backend", "section", "delayed", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_released_row_follows_the_backend(tmp_path: Path, backend: str, section: str, delayed: bool,
                                          expected: str) -> None:
    extra = f"\n[new_job_comments]\n{section}\n" if section else ""
    config = load(tmp_path, backend, extra)
    assert released_row(config, backend, delayed) == expected


@pytest.mark.parametrize("backend", ["slurm", "local"])
def test_every_default_text_of_a_backend(tmp_path: Path, backend: str) -> None:
    """Slurm: each default is EESSI's, byte for byte. Local: no default names Slurm or its commands."""
    config = load(tmp_path, backend)
    for spec in TEMPLATES:
        text = template_for(config.templates, spec.name, backend)
        if backend == "slurm":
            assert text == spec.default, spec.name
        else:
            assert not [w for w in SLURM_WORDS if w in text.lower()], (spec.name, text)


def test_local_job_comment_golden(tmp_path: Path) -> None:
    """The comment of a released local job, whole (tests/golden/local/; UPDATE_GOLDEN=1 rewrites it)."""
    config = load(tmp_path, "local")
    released = advance(job(config, "local"), Seen(HELD), config.templates, T0 + 60, False).job
    running = advance(released, Seen(JobStatus("RUNNING")), config.templates, T0 + 120, False).job
    assert_golden("local/job_comment_running.md",
                  render_job_comment(config.templates, config.instance, running, "8c3f0e5ab1d2c3e4"))


def node_lines(lines: List[str]) -> List[str]:
    return [line for line in lines if line.startswith("  - ")]


SUMMARY = [
    # (id, backend, [buildenv] extra, the job backend line, the node type lines)
    ("slurm-lists-sbatch-options", "slurm", "",
     "job backend:         slurm (handover hold_release, job name eessi-bot)",
     ["  - cpu_zen2: linux x86_64/amd/zen2; repos eessi.io-2023.06-compat, eessi.io-2023.06-software; sbatch -p zen2",
      "  - cpu_zen4: linux x86_64/amd/zen4; repos eessi.io-2023.06-software; sbatch -p zen4"]),
    ("local-lists-its-own-facts", "local", "local_max_jobs = 3",
     "job backend:         local (jobs run as processes of this machine, at most 3 at once; of slurm_params "
     "only --time is used, as the time limit)",
     ["  - cpu_zen2: linux x86_64/amd/zen2; repos eessi.io-2023.06-compat, eessi.io-2023.06-software; "
      "time limit 1-00:00:00",
      "  - cpu_zen4: linux x86_64/amd/zen4; repos eessi.io-2023.06-software; time limit 1-00:00:00"]),
    ("local-site-time-limit", "local", "local_max_jobs = 1\nslurm_params = --time=2:30:00",
     "job backend:         local (jobs run as processes of this machine, at most 1 at once; of slurm_params "
     "only --time is used, as the time limit)",
     ["  - cpu_zen2: linux x86_64/amd/zen2; repos eessi.io-2023.06-compat, eessi.io-2023.06-software; "
      "time limit 02:30:00",
      "  - cpu_zen4: linux x86_64/amd/zen4; repos eessi.io-2023.06-software; time limit 02:30:00"]),
    ("local-unusable-time-limit", "local", "local_max_jobs = 1\nslurm_params = -t soon",
     "job backend:         local (jobs run as processes of this machine, at most 1 at once; of slurm_params "
     "only --time is used, as the time limit)",
     ["  - cpu_zen2: linux x86_64/amd/zen2; repos eessi.io-2023.06-compat, eessi.io-2023.06-software; "
      "cannot understand the time limit 'soon', so its jobs will be refused",
      "  - cpu_zen4: linux x86_64/amd/zen4; repos eessi.io-2023.06-software; "
      "cannot understand the time limit 'soon', so its jobs will be refused"]),
]


@pytest.mark.parametrize(("backend", "buildenv_extra", "backend_line", "nodes"), [s[1:] for s in SUMMARY],
                         ids=[s[0] for s in SUMMARY])
def test_check_config_summary_follows_the_backend(tmp_path: Path, backend: str, buildenv_extra: str,
                                                  backend_line: str, nodes: List[str]) -> None:
    lines = summary(load(tmp_path, backend, buildenv_extra=buildenv_extra))
    assert backend_line in lines
    assert node_lines(lines) == nodes
    if backend == "local":
        assert not [line for line in lines if "sbatch" in line or "handover" in line]


def test_summary_of_a_local_node_with_an_accelerator(tmp_path: Path) -> None:
    config = load(tmp_path, "local")
    gpu = replace(config.node_types[0], name="gpu_h100", accel="nvidia/cc90", slurm_params=("-p", "gpu", "-t", "90"))
    lines = summary(replace(config, node_types=(gpu,)))
    assert node_lines(lines) == ["  - gpu_h100: linux x86_64/amd/zen2, accel nvidia/cc90; repos "
                                 "eessi.io-2023.06-compat, eessi.io-2023.06-software; time limit 01:30:00"]
