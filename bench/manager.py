"""Job manager benchmark: cost of one cycle for 1,000 tracked jobs, and GitHub calls of one build.

1. 1,000 jobs tracked in the database, held in a real Slurm (`--backend slurm`, the default when
   Slurm answers) or 1,000 local-backend job directories (`--backend local`): scheduler queries and
   the manager's own CPU time per cycle (its process, so squeue's own CPU is not counted; wall time
   is shown too). Goal: 1 query, <= 100 ms.
2. One `bot: build` matching 4 targets, run in-process on the local backend from the command until
   every job's finished row is on the PR: the GitHub API calls the bot made, against the EESSI bot's
   measured 58 for N=4 (reference/eessi-bot-measured.md; its 3N+6 from the event handler plus 9 per
   job and 3 per running job per poll from the job manager).

    .venv/bin/python bench/manager.py [--jobs 1000] [--cycles 5] [--backend slurm|local]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.pipeline import PR, REPO, Pipeline
from tests.fakes.upstream import make_upstream

from eessi_bot.core.jobs import Job, JobState, Row
from eessi_bot.jobs.manager import JobManager
from eessi_bot.ports.github import PullRequest
from eessi_bot.ports.wakeup import Wakeup

EESSI_N4_CALLS = 58


class CountingScheduler:
    """Counts the queries a manager cycle makes; everything else goes to the real scheduler."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.queries = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def poll(self, jobs: object) -> object:
        self.queries += 1
        return self.inner.poll(jobs)  # type: ignore[attr-defined]

    def end_states(self, jobs: object) -> object:
        self.queries += 1
        return self.inner.end_states(jobs)  # type: ignore[attr-defined]


def slurm_answers() -> bool:
    return shutil.which("sinfo") is not None and subprocess.run(
        ["sinfo", "-h"], capture_output=True, timeout=20, check=False).returncode == 0


def tracked_jobs(bot: Pipeline, root: Path, count: int, backend: str, job_name: str) -> List[str]:
    """`count` jobs the manager follows: held in Slurm, or held local job directories."""
    script = root / "job.sh"
    script.write_text("#!/bin/bash\nsleep 600\n")
    ids: List[str] = []
    for number in range(count):
        job_dir = root / "jobs" / f"job{number}"
        job_dir.mkdir(parents=True)
        if backend == "slurm":
            out = subprocess.run(["sbatch", "--parsable", "--hold", f"--job-name={job_name}", "--output=/dev/null",
                                  str(script)], cwd=job_dir, capture_output=True, text=True, check=True)
            job_id = out.stdout.strip().split(";")[0]
        else:
            job_id = str(number + 1)
            (job_dir / "_bot_local.id").write_text(f"{job_id} m\n")
        ids.append(job_id)
        with bot.runtime.store.transaction() as tx:
            tx.save_job(Job(
                key=f"bench:{number}", build_key="bench", repo=REPO, pr_number=PR, node_type="cpu_zen2",
                repo_id="eessi.io-2023.06-software", software_subdir="x86_64/amd/zen2", accelerator=None,
                on_arch="amd-zen2", on_accelerator=None, job_dir=str(job_dir), backend=backend,
                comment_key=f"job:bench:{number}", state=JobState.RELEASED, job_id=job_id,
                rows=(Row("d", "submitted", "x"), Row("d", "released", "y"))), time.time())
    return ids


def cycle_cost(count: int, cycles: int, backend: str) -> None:
    job_name = f"bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        bot = Pipeline(Path(tmp), backend=backend, buildenv_extra=f"job_name = {job_name}")
        try:
            made = time.perf_counter()
            tracked_jobs(bot, Path(tmp), count, backend, job_name)
            print(f"{count} tracked jobs ({backend}, held) made in {time.perf_counter() - made:.1f} s")
            scheduler = CountingScheduler(bot.runtime.scheduler)
            manager = JobManager(bot.config, bot.runtime.store, scheduler, bot.clock,  # type: ignore[arg-type]
                                 Wakeup(), Wakeup())
            cpu, wall, queries = [], [], []
            for _ in range(cycles):
                scheduler.queries = 0
                started_cpu, started = time.process_time(), time.perf_counter()
                stats = manager.cycle()
                cpu.append(time.process_time() - started_cpu)
                wall.append(time.perf_counter() - started)
                queries.append(scheduler.queries)
                assert stats.tracked == count and stats.changed == 0
            print(f"  per cycle: {statistics.median(queries):.0f} scheduler query, manager CPU "
                  f"{statistics.median(cpu) * 1000:.1f} ms (median of {cycles}; max {max(cpu) * 1000:.1f} ms), "
                  f"wall {statistics.median(wall) * 1000:.1f} ms")
        finally:
            if backend == "slurm":
                subprocess.run(["scancel", f"--name={job_name}"], check=False)
            bot.runtime.db.close()


def build_calls(targets: int) -> Tuple[int, Dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        upstream = make_upstream(root / "remote")
        head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
        nodes = {f"node{i}": {"os": "linux", "cpu_subdir": f"x86_64/amd/zen{i}", "slurm_params": "",
                              "repo_targets": ["eessi.io-2023.06-software"]} for i in range(targets)}
        bot = Pipeline(root / "site", node_type_map=json.dumps(nodes), buildenv_extra=f"local_max_jobs = {targets}",
                       extra="\n[job_manager]\npoll_interval = 1\n")
        bot.open_pr(upstream, head)
        bot.github.calls.clear()
        reads = {"get_pull": 0}
        get_pull = bot.github.get_pull

        def counting_get_pull(repo: str, number: int) -> PullRequest:
            reads["get_pull"] += 1
            return get_pull(repo, number)

        bot.github.get_pull = counting_get_pull  # type: ignore[method-assign]
        bot.comment("bot: build for:arch=x86_64/amd/.*")
        deadline = time.monotonic() + 60
        changes = 0
        while time.monotonic() < deadline:
            bot.runtime.manage()
            jobs = bot.runtime.jobs.for_pr(REPO, PR)
            changes = sum(len(j.rows) - 1 for j in jobs)
            if jobs and all(j.state is JobState.FINISHED for j in jobs):
                break
            time.sleep(0.2)
        bot.runtime.manage()
        bot.close()
        calls: Dict[str, int] = {verb: bot.github.calls.count(verb) for verb in ("create", "edit", "react", "list")}
        calls.update(reads)
        calls["state changes"] = changes
        return sum(v for k, v in calls.items() if k != "state changes"), calls


def main() -> None:
    parser = argparse.ArgumentParser(description="job manager benchmark")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--backend", choices=("slurm", "local"), default="slurm" if slurm_answers() else "local")
    args = parser.parse_args()
    cycle_cost(args.jobs, args.cycles, args.backend)
    total, calls = build_calls(4)
    goal = 4 + 2 + calls["state changes"]
    print(f"one `bot: build` of 4 targets, command to all finished: {total} GitHub API calls {calls}; "
          f"goal <= 4 + 2 + one per state change = {goal}; the EESSI bot: {EESSI_N4_CALLS} (measured), "
          f"plus 3 per running job per poll")


if __name__ == "__main__":
    main()
