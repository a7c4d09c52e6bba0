"""Job manager benchmark: what following jobs costs, and how soon a job's end reaches the PR.

`--mode cycle` (default)
    1. `--jobs N [N ...]` jobs tracked in the database (default 1,000), held in a real Slurm (`--backend
       slurm`, the default when Slurm answers) or N local-backend job directories (`--backend local`):
       scheduler queries and the manager's own CPU time per cycle (its process, so squeue's own CPU is not
       counted; wall time is shown too), then its CPU time per second while it waits between cycles (the
       listing of the end-marker directory). Goals: 1 query, cycle CPU <= 100 ms and <= 2 ms per second
       between cycles at 5,000 jobs.
    2. One `bot: build` matching 4 targets, run in-process on the local backend from the command until
       every job's finished row is on the PR: the GitHub API calls the bot made, against the EESSI bot's
       measured 58 for N=4 (reference/eessi-bot-measured.md; its 3N+6 from the event handler plus 9 per
       job and 3 per running job per poll from the job manager).
`--mode latency`
    `--ends 8` jobs of one `bot: build` run and end a few seconds apart, followed by the bot's threads
    (workers, job manager, outbox sender) in-process at the default poll interval (60 s), with GitHub
    in memory and its write pacing lifted: for each job, the time from its end marker (the job script's
    `_bot_job<ID>.done`, its mtime) to the finished row arriving at GitHub, with `--held N` held jobs
    followed meanwhile. Goal: median <= 1 s, max <= 2 s.
`--mode outage`
    `--ends 4` jobs run; the batch system stops answering for `--outage` seconds (default 60) while they
    end (Slurm: slurmctld is stopped and `scripts/slurm-up.sh` starts it again; local: the scheduler raises
    SchedulerUnavailable), then answers again: for each job, the time from the scheduler's return (the
    first squeue that answers) to its finished row at GitHub, and on Slurm also from the moment squeue first
    shows the job ended (Slurm learns of ends from its nodes after its return). Goal: <= 2 s.

    .venv/bin/python bench/manager.py [--mode cycle|latency|outage] [--backend slurm|local]
                                      [--jobs 1000 5000] [--cycles 5] [--ends N] [--held N] [--outage 60]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.pipeline import PR, REPO, Pipeline
from tests.fakes.site import write_site
from tests.fakes.upstream import make_upstream
from tests.fakes.webhooks import encode, pr_comment_payload
from tests.waiting import wait_for

from eessi_bot.adapters.config_files import load_config
from eessi_bot.adapters.memory_github import MemoryGitHub, Write
from eessi_bot.adapters.sqlite.store import SqliteStore
from eessi_bot.adapters.system_clock import SystemClock
from eessi_bot.cli.runtime import Runtime, make_scheduler
from eessi_bot.core.jobs import Job, JobState, JobStatus, Row, Tracked
from eessi_bot.core.webhook import parse_delivery
from eessi_bot.jobs.manager import JobManager
from eessi_bot.ports.github import PullRequest
from eessi_bot.ports.scheduler import Scheduler, SchedulerUnavailable
from eessi_bot.ports.wakeup import Wakeup

EESSI_N4_CALLS = 58
ROOT = Path(__file__).resolve().parents[1]
LIFTED_PACING = "max_writes_per_minute = 100000\nmax_writes_per_hour = 100000"


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


# ---------------------------------------------------------------- the cost of following many jobs

def tracked_jobs(store: SqliteStore, root: Path, count: int, backend: str, job_name: str) -> List[str]:
    """`count` jobs the manager follows: held in Slurm, or held local job directories (ids `hN`)."""
    script = root / "job.sh"
    script.write_text("#!/bin/bash\nsleep 600\n")
    ids: List[str] = []
    for number in range(count):
        job_dir = root / "held" / f"job{number}"
        job_dir.mkdir(parents=True)
        if backend == "slurm":
            out = subprocess.run(["sbatch", "--parsable", "--hold", f"--job-name={job_name}", "--output=/dev/null",
                                  str(script)], cwd=job_dir, capture_output=True, text=True, check=True)
            job_id = out.stdout.strip().split(";")[0]
        else:
            job_id = f"h{number + 1}"
            (job_dir / "_bot_local.id").write_text(f"{job_id} m\n")
        ids.append(job_id)
        with store.transaction() as tx:
            tx.save_job(Job(
                key=f"bench:{number}", build_key="bench", repo=REPO, pr_number=PR, node_type="cpu_zen2",
                repo_id="eessi.io-2023.06-software", software_subdir="x86_64/amd/zen2", accelerator=None,
                on_arch="amd-zen2", on_accelerator=None, job_dir=str(job_dir), backend=backend,
                comment_key=f"job:bench:{number}", state=JobState.RELEASED, job_id=job_id,
                rows=(Row("d", "submitted", "x"), Row("d", "released", "y"))), time.time())
    return ids


def cycle_cost(count: int, cycles: int, backend: str, wait: float) -> None:
    job_name = f"bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        bot = Pipeline(Path(tmp), backend=backend, buildenv_extra=f"job_name = {job_name}")
        try:
            made = time.perf_counter()
            tracked_jobs(bot.runtime.store, Path(tmp), count, backend, job_name)
            print(f"{count} tracked jobs ({backend}, held) made in {time.perf_counter() - made:.1f} s")
            scheduler = CountingScheduler(bot.runtime.scheduler)
            manager = JobManager(bot.config, bot.runtime.store, scheduler, bot.clock,  # type: ignore[arg-type]
                                 Wakeup(), Wakeup())
            cpu, wall, queries = [], [], []
            for _ in range(cycles + 1):
                scheduler.queries = 0
                started_cpu, started = time.process_time(), time.perf_counter()
                stats = manager.cycle()
                cpu.append(time.process_time() - started_cpu)
                wall.append(time.perf_counter() - started)
                queries.append(scheduler.queries)
                assert stats.tracked == count and stats.changed == 0
            print(f"  first cycle (every job read from the database and squeue): {queries[0]} scheduler query, "
                  f"manager CPU {cpu[0] * 1000:.1f} ms, wall {wall[0] * 1000:.1f} ms")
            print(f"  per cycle after it: {statistics.median(queries[1:]):.0f} scheduler query, manager CPU "
                  f"{statistics.median(cpu[1:]) * 1000:.1f} ms (median of {cycles}; max {max(cpu[1:]) * 1000:.1f} ms), "
                  f"wall {statistics.median(wall[1:]) * 1000:.1f} ms")
            started_cpu, started = time.process_time(), time.perf_counter()
            manager._wait(threading.Event(), wait)  # the wait between cycles, measured alone
            waited = time.perf_counter() - started
            print(f"  between cycles: {(time.process_time() - started_cpu) / waited * 1000:.2f} ms CPU per second "
                  f"(over {waited:.1f} s of waiting)")
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


# ---------------------------------------------------------------- job end -> finished row on the PR

class Outage:
    """The scheduler, or SchedulerUnavailable for every query while `down` is set (the local backend's outage)."""

    def __init__(self, inner: Scheduler) -> None:
        self.inner = inner
        self.down = False

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def poll(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        self._check()
        return self.inner.poll(jobs)

    def end_states(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        self._check()
        return self.inner.end_states(jobs)

    def release(self, job: Tracked) -> None:
        self._check()
        self.inner.release(job)

    def _check(self) -> None:
        if self.down:
            raise SchedulerUnavailable("the benchmark's outage")


class Serving:
    """The bot's threads in-process on a PR whose `bot/build.sh` sleeps `seconds[i]` for node type i; GitHub
    in memory notes when each job's finished row arrives."""

    def __init__(self, root: Path, backend: str, seconds: Sequence[float]) -> None:
        upstream = make_upstream(root / "remote")
        build = ("#!/bin/bash\nsubdir=$(sed -n 's/^software_subdir *= *//p' cfg/job.cfg)\n"
                 "case \"$subdir\" in\n"
                 + "".join(f"  x86_64/amd/zen{i}) sleep {s} ;;\n" for i, s in enumerate(seconds)) + "esac\n")
        head = upstream.open_pr(PR, {"bot/build.sh": build, "easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
        params = "--ntasks=1 --cpus-per-task=1" if backend == "slurm" else ""
        nodes = {f"node{i}": {"os": "linux", "cpu_subdir": f"x86_64/amd/zen{i}", "slurm_params": params,
                              "repo_targets": ["eessi.io-2023.06-software"]} for i in range(len(seconds))}
        self.job_name = f"bench-{uuid.uuid4().hex[:6]}"
        config, problems = load_config(write_site(
            root / "site", backend=backend, node_type_map=json.dumps(nodes), github_extra=LIFTED_PACING,
            buildenv_extra=f"job_name = {self.job_name}\nlocal_max_jobs = {len(seconds)}"), {"HOME": str(root)})
        assert config is not None, [p.render() for p in problems]
        self.backend = backend
        self.finished: Dict[str, float] = {}
        """job id -> when GitHub received the job comment with its finished row."""
        self.github = MemoryGitHub(app_id=config.github.app_id, slug="bench-app", on_write=self._noted)
        self.github.add_pull(PullRequest(repo=REPO, number=PR, state="open", base_ref="main",
                                         base_sha=upstream.sha("main"), head_sha=head, clone_url=upstream.url,
                                         ssh_url=upstream.url, html_url=f"https://github.com/{REPO}/pull/{PR}"))
        clock = SystemClock()
        store = SqliteStore.in_dir(config.bot.data_dir)
        self.scheduler = Outage(make_scheduler(config, store.jobs, clock))
        self.runtime = Runtime(config, self.github, clock, store=store, scheduler=self.scheduler)  # type: ignore[arg-type]
        self.count = len(seconds)

    def _noted(self, write: Write) -> None:
        found = re.search(r"job id `([^`]+)` awaits release", write.body)
        if found and "|finished|" in write.body and found.group(1) not in self.finished:
            self.finished[found.group(1)] = time.time()

    def build(self) -> None:
        """The command arrives as the webhook endpoint stores it; the threads do the rest."""
        body = "bot: build for:arch=x86_64/amd/.*"
        made = self.github.create_comment(REPO, PR, body)
        payload = pr_comment_payload(body, repo=REPO, pr_number=PR, comment_id=made.id, sender_login="maintainer")
        delivery = parse_delivery({"x-github-event": "issue_comment", "x-github-delivery": str(uuid.uuid4())},
                                  encode(payload))
        self.runtime.inbox.store(delivery, time.time())
        self.runtime.deliveries_waiting.notify()

    def jobs(self) -> List[Job]:
        """The jobs of the `bot: build` (not the held ones of `tracked_jobs`)."""
        return [job for job in self.runtime.jobs.for_pr(REPO, PR) if job.build_key != "bench"]

    @staticmethod
    def started(job: Job) -> bool:
        """The job runs: its output file exists (Slurm and the local wrapper make it when the job starts)."""
        return job.job_id is not None and Path(job.job_dir, f"slurm-{job.job_id}.out").exists()

    def ended_at(self, job: Job) -> float:
        """The mtime of the job script's end marker in its job directory."""
        return (Path(job.job_dir) / f"_bot_job{job.job_id}.done").stat().st_mtime

    def all_reported(self) -> bool:
        return len(self.finished) == self.count

    def close(self) -> None:
        self.runtime.stop()
        if self.backend == "slurm":
            subprocess.run(["scancel", f"--name={self.job_name}"], check=False)
        for job in self.jobs():
            if Path(job.job_dir).is_dir():
                (Path(job.job_dir) / "_bot_local.cancel").touch()
        self.runtime.db.close()


def figures(label: str, values: Sequence[float]) -> str:
    return (f"{label}: median {statistics.median(values):.2f} s, max {max(values):.2f} s "
            f"({' '.join(f'{v:.2f}' for v in sorted(values))})")


def latency(backend: str, count: int, held: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bot = Serving(Path(tmp), backend, [3 + 0.7 * i for i in range(count)])
        tracked_jobs(bot.runtime.store, Path(tmp), held, backend, bot.job_name)
        bot.runtime.start()
        try:
            bot.build()
            wait_for(bot.all_reported, timeout=120 + 5 * count, interval=0.1)
            jobs = bot.jobs()
            gaps = [bot.finished[str(j.job_id)] - bot.ended_at(j) for j in jobs]
            print(f"{backend}, {count} jobs besides {held} held ones, poll_interval "
                  f"{bot.runtime.config.job_manager.poll_interval} s: "
                  + figures("job end -> finished row at GitHub", gaps))
        finally:
            bot.close()


def slurm_outage(bot: Serving, seconds: float, ids: List[str]) -> Tuple[float, Dict[str, float]]:
    """Stop slurmctld for `seconds`; when squeue answers again, and when it first showed each job ended."""
    pid = int(Path("/run/slurmctld.pid").read_text().split()[0])
    stopped = time.time()
    subprocess.run(["kill", str(pid)], check=True)
    try:
        wait_for(lambda: all(Path(j.job_dir, f"_bot_job{j.job_id}.done").exists() for j in bot.jobs()),
                 timeout=seconds, interval=0.2)
        time.sleep(max(0.0, stopped + seconds - time.time()))
    finally:
        starting = subprocess.Popen(["bash", str(ROOT / "scripts" / "slurm-up.sh")], stdout=subprocess.DEVNULL)
    back: Optional[float] = None
    shown: Dict[str, float] = {}
    while len(shown) < len(ids):
        answer = subprocess.run(["squeue", "-h", "--states=all", "-j", ",".join(ids), "-o", "%i %T"],
                                capture_output=True, text=True, check=False)
        now = time.time()
        if answer.returncode == 0:
            back = back or now
            for line in answer.stdout.splitlines():
                job_id, state = line.split()
                if JobStatus(state).terminal:
                    shown.setdefault(job_id, now)
        time.sleep(0.05)
    starting.wait(120)
    assert back is not None
    return back, shown


def outage(backend: str, count: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bot = Serving(Path(tmp), backend, [3 + 4 * i for i in range(count)])
        bot.runtime.start()
        try:
            bot.build()
            wait_for(lambda: len(bot.jobs()) == count and all(bot.started(j) for j in bot.jobs()), timeout=60,
                     interval=0.1)
            ids = [str(j.job_id) for j in bot.jobs()]
            if backend == "slurm":
                back, shown = slurm_outage(bot, seconds, ids)
            else:
                bot.scheduler.down = True
                time.sleep(seconds)
                bot.scheduler.down = False
                back, shown = time.time(), {}
            wait_for(bot.all_reported, timeout=120, interval=0.1)
            assert all(bot.ended_at(j) < back for j in bot.jobs()), "every job ended during the outage"
            print(f"{backend}, {count} jobs ended during a {seconds:.0f} s outage: "
                  + figures("scheduler's return -> finished row at GitHub", [bot.finished[i] - back for i in ids]))
            if shown:
                print("  " + figures("Slurm learnt of the end after its return", [shown[i] - back for i in ids]))
                print("  " + figures("squeue shows the end -> finished row at GitHub",
                                     [bot.finished[i] - shown[i] for i in ids]))
        finally:
            bot.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="job manager benchmark")
    parser.add_argument("--mode", choices=("cycle", "latency", "outage"), default="cycle")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1000], help="cycle: tracked jobs (several: 1000 5000)")
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--wait", type=float, default=10.0, help="cycle: seconds of waiting between cycles measured")
    parser.add_argument("--ends", type=int, help="latency (default 8), outage (default 4): jobs that end")
    parser.add_argument("--outage", type=float, default=60.0, help="outage: seconds the scheduler does not answer")
    parser.add_argument("--held", type=int, default=0, help="latency: held jobs the manager follows meanwhile")
    parser.add_argument("--backend", choices=("slurm", "local"), default="slurm" if slurm_answers() else "local")
    args = parser.parse_args()
    if args.mode == "latency":
        latency(args.backend, args.ends or 8, args.held)
        return
    if args.mode == "outage":
        outage(args.backend, args.ends or 4, args.outage)
        return
    for count in args.jobs:
        cycle_cost(count, args.cycles, args.backend, args.wait)
    total, calls = build_calls(4)
    goal = 4 + 2 + calls["state changes"]
    print(f"one `bot: build` of 4 targets, command to all finished: {total} GitHub API calls {calls}; "
          f"goal <= 4 + 2 + one per state change = {goal}; the EESSI bot: {EESSI_N4_CALLS} (measured), "
          f"plus 3 per running job per poll")


if __name__ == "__main__":
    main()
