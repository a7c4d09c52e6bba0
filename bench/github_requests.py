"""GitHub requests of one `bot: build`, from the command to all results, per kind.

The bot runs as a process (`eessi-bot serve`) against the fake GitHub over HTTP, with a real git
repository; one `bot: build` matches N node types (N = 1, 4, 8), each job builds for a moment so that it
is seen submitted, released, running and finished. Counted: every request the fake GitHub received from
the command until every job comment holds its finished row (and, with check runs, every check run is
completed) and the outbox is empty, and for 3 s after (idle cycles must write nothing). Goal: <= 3N + 4
with `[github] check_runs = false` (the EESSI bot made 19 / 58 / 110 for N = 1 / 4 / 8, plus 3 per
running job per poll; reference/eessi-bot-measured.md), and at most 3 more per job with check runs on
(their default): 6N + 4. Local backend always; the Slurm of `scripts/slurm-up.sh` when it answers. Exit
status 1 when a figure is over its goal.

    .venv/bin/python bench/github_requests.py [--jobs 1,4,8] [--backend local|slurm|both] [--seconds 2]
                                              [--check-runs off|on|both]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import PR, REPO, BotProcess
from tests.fakes.github_server import FakeGitHub
from tests.fakes.upstream import BUILD_SH, make_upstream
from tests.fakes.webhooks import pr_comment_payload
from tests.waiting import wait_for

KINDS: Sequence[Tuple[str, str, str]] = (
    ("create comment", "POST", r"/repos/[^/]+/[^/]+/issues/\d+/comments"),
    ("edit comment", "PATCH", r"/repos/[^/]+/[^/]+/issues/comments/\d+"),
    ("reaction", "POST", r"/repos/[^/]+/[^/]+/issues/comments/\d+/reactions"),
    ("list comments", "GET", r"/repos/[^/]+/[^/]+/issues/\d+/comments"),
    ("read PR", "GET", r"/repos/[^/]+/[^/]+/pulls/\d+"),
    ("read repository", "GET", r"/repos/[^/]+/[^/]+"),
    ("installation token", "POST", r"/app/installations/\d+/access_tokens"),
    ("read App", "GET", r"/app"),
    ("create check run", "POST", r"/repos/[^/]+/[^/]+/check-runs"),
    ("update check run", "PATCH", r"/repos/[^/]+/[^/]+/check-runs/\d+"),
    ("find check run", "GET", r"/repos/[^/]+/[^/]+/commits/[^/]+/check-runs"),
)
Column = Tuple[str, int, bool]
"""Backend, N, check runs on."""


def goal(n: int, checks: bool) -> int:
    return 6 * n + 4 if checks else 3 * n + 4


def kind(method: str, path: str) -> str:
    """The request's kind in KINDS, or `METHOD path` for anything else (so nothing goes uncounted)."""
    bare = path.split("?", 1)[0]
    for name, verb, pattern in KINDS:
        if method == verb and re.fullmatch(pattern, bare):
            return name
    return f"{method} {bare}"


def slurm_answers() -> bool:
    return shutil.which("sinfo") is not None and subprocess.run(
        ["sinfo", "-h"], capture_output=True, timeout=20, check=False).returncode == 0


def node_types(count: int, backend: str) -> str:
    """`count` node types, each matched by `for:arch=x86_64/amd/.*` (one job each); on Slurm in the
    default partition, one CPU per job."""
    params = "--ntasks=1 --cpus-per-task=1" if backend == "slurm" else ""
    nodes = {f"node{i}": {"os": "linux", "cpu_subdir": f"x86_64/amd/zen{i}", "slurm_params": params,
                          "repo_targets": ["eessi.io-2023.06-software"]} for i in range(count)}
    return json.dumps(nodes)


@dataclass
class Measured:
    """One `bot: build` of N jobs: requests per kind, and when things showed on the PR (seconds after the
    command was delivered)."""

    requests: Counter[str] = field(default_factory=Counter)
    eyes: float = 0.0
    comments: float = 0.0
    """Every job's comment exists."""
    results: float = 0.0
    """Every job's comment holds its finished row."""
    rows: List[int] = field(default_factory=list)
    """Rows of each job comment at the end (4: submitted, released, running, finished)."""


class Watch:
    """Notes when the reaction, the job comments and their finished rows appear on the fake GitHub."""

    def __init__(self, github: FakeGitHub, count: int, command_id: int, checks: bool) -> None:
        self.github = github
        self.count = count
        self.checks = checks
        self.command_id = command_id
        self.started = time.monotonic()
        self.measured = Measured()

    def job_comments(self) -> List[str]:
        return [c["body"] for c in self.github.comments(REPO, PR)
                if c["user"]["login"] == self.github.bot_login and c["body"].startswith("New job")]

    def all_results(self) -> bool:
        now = time.monotonic() - self.started
        m = self.measured
        if not m.eyes and self.github.reactions(self.command_id):
            m.eyes = now
        bodies = self.job_comments()
        if not m.comments and len(bodies) == self.count:
            m.comments = now
        runs = self.github.checks.runs(REPO)
        if self.checks and (len(runs) != self.count or any(r["status"] != "completed" for r in runs)):
            return False
        if len(bodies) == self.count and all("|finished|" in b for b in bodies):
            m.results = now
            m.rows = [b.split("|date|job status|comment|", 1)[1].count("\n|") - 1 for b in bodies]
            return True
        return False


def run(count: int, backend: str, seconds: float, checks: bool) -> Measured:
    """Requests per kind and times for one `bot: build` of `count` jobs (with their check runs, or not)."""
    with tempfile.TemporaryDirectory() as tmp, FakeGitHub() as github:
        root = Path(tmp)
        upstream = make_upstream(root / "remote")
        upstream.commit("main", {"bot/build.sh": BUILD_SH.replace('"${BUILD_SECONDS:-0}"', str(seconds))},
                        "a build that takes a moment")
        head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
        github.add_repo(REPO, clone_url=upstream.url, ssh_url=upstream.url)
        github.add_pull(REPO, PR, title="Add GCC", user_login="contributor", base_sha=upstream.sha("main"),
                        head_ref=f"pr{PR}", head_sha=head)
        job_name = f"bench-{uuid.uuid4().hex[:6]}"
        bot = BotProcess(root / "site", github, backend=backend, node_type_map=node_types(count, backend),
                         buildenv_extra=f"job_name = {job_name}\nlocal_max_jobs = {count}",
                         extra_config="\n[job_manager]\npoll_interval = 1\n",
                         github_config=f"check_runs = {'true' if checks else 'false'}")
        bot.start()
        try:
            body = "bot: build for:arch=x86_64/amd/.*"
            made = github.add_comment(REPO, PR, body, login="maintainer")
            payload = pr_comment_payload(body, repo=REPO, pr_number=PR, comment_id=made["id"],
                                         sender_login="maintainer")
            before = len(github.requests)
            watch = Watch(github, count, made["id"], checks)
            bot.send("issue_comment", payload)
            wait_for(lambda: watch.all_results() and bot.idle(), timeout=120 + 10 * count, interval=0.05)
            time.sleep(3)  # idle cycles after the end must write nothing: they would be counted
            watch.measured.requests = Counter(kind(method, path) for method, path, _ in github.requests[before:])
            return watch.measured
        finally:
            if backend == "local":
                bot.cancel_local_jobs()
            else:
                subprocess.run(["scancel", f"--name={job_name}"], check=False)
            bot.stop()


def table(results: Dict[Column, Measured], columns: List[Column]) -> str:
    """Requests per kind (rows) for each backend, N and check runs (columns), the total, the goal (3N + 4, or
    6N + 4 with check runs) and the times."""
    names = [name for name, _, _ in KINDS]
    seen = {k for m in results.values() for k in m.requests}
    kinds = [k for k in names if k in seen] + sorted(seen - set(names))
    ms = [results[c] for c in columns]
    rows = [[k] + [str(m.requests.get(k, 0)) for m in ms] for k in kinds]
    rows.append(["total"] + [str(sum(m.requests.values())) for m in ms])
    rows.append(["goal 3N + 4 (6N + 4 with check runs)"] + [str(goal(n, checks)) for _, n, checks in columns])
    rows.append(["rows per job comment"] + ["/".join(str(r) for r in sorted(set(m.rows))) for m in ms])
    rows.append([":eyes: after (s)"] + [f"{m.eyes:.1f}" for m in ms])
    rows.append(["all job comments after (s)"] + [f"{m.comments:.1f}" for m in ms])
    rows.append(["all results after (s)"] + [f"{m.results:.1f}" for m in ms])
    head = ["GitHub requests"] + [f"{b} N={n}{' checks' if checks else ''}" for b, n, checks in columns]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    lines = []
    for row in [head, *rows]:
        cells = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="GitHub requests of one bot: build, command to all results")
    parser.add_argument("--jobs", default="1,4,8", help="job counts, comma-separated (default 1,4,8)")
    parser.add_argument("--backend", choices=("local", "slurm", "both"), default="both",
                        help="both: local, and Slurm when it answers (default)")
    parser.add_argument("--seconds", type=float, default=2.0, help="how long each job's build.sh runs")
    parser.add_argument("--check-runs", choices=("off", "on", "both"), default="both",
                        help="[github] check_runs for the runs: off, on, or a column of each (default)")
    args = parser.parse_args()
    counts = [int(n) for n in args.jobs.split(",")]
    backends = ["local"] if args.backend == "local" else ["slurm"] if args.backend == "slurm" else ["local"]
    if args.backend == "both":
        if slurm_answers():
            backends.append("slurm")
        else:
            print("Slurm does not answer (scripts/slurm-up.sh starts it as root): local backend only")
    checked = {"off": [False], "on": [True], "both": [False, True]}[args.check_runs]
    results: Dict[Column, Measured] = {}
    columns = [(backend, n, checks) for backend in backends for n in counts for checks in checked]
    for backend, n, checks in columns:
        m = results[(backend, n, checks)] = run(n, backend, args.seconds, checks)
        print(f"{backend} N={n} check runs {'on' if checks else 'off'}: {sum(m.requests.values())} requests, all "
              f"results after {m.results:.1f} s: {dict(m.requests)}", flush=True)
    print()
    print(table(results, columns))
    over = [f"{b} N={n}{' checks' if c else ''}" for (b, n, c), m in results.items()
            if sum(m.requests.values()) > goal(n, c)]
    if over:
        print(f"over the goal: {', '.join(over)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
