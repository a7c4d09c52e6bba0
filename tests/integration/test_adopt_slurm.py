"""Switch day on a real Slurm: a job the EESSI bot submitted and left held (its layout, metadata, the
`job_ids_dir/submitted` link and its comment in the EESSI format) is released after the switch,
runs, and its existing comment gets the finished row; no second comment is posted."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator, List

import pytest

from tests.fakes.eessi_jobs import eessi_job
from tests.fakes.pipeline import PR, REPO, Pipeline
from tests.slurm import cancel_all, run, squeue_job
from tests.waiting import wait_for

EESSI_COMMENT = """New job on instance `old-bot` for CPU micro-architecture `x86_64-amd-zen2` for repository \
`eessi.io-2023.06-software`
Job dir: `{job_dir}`

|date|job status|comment|
|----------|----------|------------------------|
|Nov 28 10:00:00 UTC 2026|submitted|job id `{job_id}` awaits release by job manager|"""

JOB_SCRIPT = """#!/bin/bash
# what the EESSI job script leaves: a result file the check step wrote
echo building
cat > "_bot_job${SLURM_JOB_ID}.result" <<EOT
[RESULT]
comment_description = :grin: SUCCESS built before the switch
status = SUCCESS
artefacts =
EOT
"""


@pytest.fixture
def job_name(slurm_cluster: None) -> Iterator[str]:
    name = f"bot-adopt-{uuid.uuid4().hex[:8]}"
    yield name
    cancel_all(name)


def test_a_held_eessi_job_is_released_and_reported_in_its_comment(tmp_path: Path, job_name: str,
                                                                  bots: List[Pipeline]) -> None:
    bot = Pipeline(tmp_path / "site", backend="slurm", buildenv_extra=f"job_name = {job_name}",
                   extra="\n[job_manager]\npoll_interval = 1\n")
    bots.append(bot)
    config = bot.config
    comment = bot.github.create_comment(REPO, PR, "placeholder")
    job_dir = eessi_job(config.buildenv.jobs_base_dir, config.job_manager.job_ids_dir, "0", REPO, PR, comment.id)
    (job_dir / "job.sh").write_text(JOB_SCRIPT)
    out = run(["sbatch", "--parsable", "--hold", f"--job-name={job_name}", "-p", "zen2", "--time=5",
               f"--chdir={job_dir}", str(job_dir / "job.sh")])
    job_id = out.strip().split(";")[0]
    submitted = config.job_manager.job_ids_dir / "submitted"
    (submitted / "0").rename(submitted / job_id)
    pr_dir = next(p for p in job_dir.parents if p.name == f"pr_{PR}")
    (pr_dir / "0").rename(pr_dir / job_id)
    (job_dir / "_bot_job0.metadata").rename(job_dir / f"_bot_job{job_id}.metadata")
    bot.github.edit_comment(REPO, comment.id, EESSI_COMMENT.format(job_dir=pr_dir / job_id, job_id=job_id))
    held = squeue_job(job_id)
    assert held is not None and held["reason"] == "JobHeldUser", held
    before = len(bot.github.comments)

    report = bot.runtime.adopter.adopt()
    assert [j.job_id for j in report.adopted] == [job_id]

    def finished() -> bool:
        bot.runtime.manage()
        bot.clock.advance(1)
        (job,) = bot.runtime.jobs.for_pr(REPO, PR)
        return job.state.value == "finished"

    wait_for(finished, timeout=90, interval=0.5)
    assert len(bot.github.comments) == before, "no second comment"
    body = bot.github.comments[comment.id][2].body
    assert "|released|" in body and "|finished|" in body, body
    assert ":grin: SUCCESS built before the switch" in body and "job ended `COMPLETED`" in body
    assert bot.runtime.adopter.adopt().adopted == [], "adopted once"
