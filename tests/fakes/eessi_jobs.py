"""Job directories as the EESSI bot leaves them (reference §1.4, §5.4, §5.7): `YYYY.MM/pr_N/event_X/
run_000/<arch>/<repo id>` with `cfg/job.cfg` and `_bot_job<ID>.metadata`, the `pr_N/<ID>` link and
the job manager's `job_ids_dir/submitted/<ID>` (or `finished/<ID>`) link."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

JOB_CFG = """[site_config]
local_tmp = /tmp/$USER/EESSI

[repository]
repos_cfg_dir = {job_dir}/cfg
repo_id = {repo_id}
container = docker://ghcr.io/eessi/build-node:debian12

[architecture]
software_subdir = {arch}
os_type = linux
accelerator = {accel}
"""

METADATA = """[PR]
repo = {repo}
pr_number = {pr}
pr_comment_id = {comment_id}

"""


def eessi_job(jobs_base_dir: Path, job_ids_dir: Path, job_id: str, repo: str, pr: int, comment_id: int,
              arch: str = "x86_64/amd/zen2", repo_id: str = "eessi.io-2023.06-software", finished: bool = False,
              result: Optional[str] = None, month: str = "2026.11") -> Path:
    """Make one EESSI bot job directory with its links; its path."""
    pr_dir = jobs_base_dir / month / f"pr_{pr}"
    job_dir = pr_dir / "event_4c1f2e00-0000-11ee-8000-000000000000" / "run_000" / Path(arch) / repo_id
    (job_dir / "cfg").mkdir(parents=True)
    (job_dir / "cfg" / "job.cfg").write_text(JOB_CFG.format(job_dir=job_dir, repo_id=repo_id, arch=arch, accel=""))
    (job_dir / f"_bot_job{job_id}.metadata").write_text(METADATA.format(repo=repo, pr=pr, comment_id=comment_id))
    (job_dir / "run.sh").write_text("#!/bin/bash\necho built > built.txt\n")
    if result is not None:
        (job_dir / f"_bot_job{job_id}.result").write_text(result)
    (pr_dir / job_id).symlink_to(job_dir)
    listing = job_ids_dir / ("finished" if finished else "submitted")
    listing.mkdir(parents=True, exist_ok=True)
    (listing / job_id).symlink_to(job_dir)
    return job_dir


SUCCESS = """[RESULT]
comment_description = :grin: SUCCESS built by the EESSI bot
status = SUCCESS
artefacts =
    eessi-2023.06-software-linux-x86_64-amd-zen2-1690000000.tar.gz
"""
