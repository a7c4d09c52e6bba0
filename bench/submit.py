"""Command to 8 jobs submitted: one mirror fetch and 8 job trees (the bot) vs a full clone per job.

Runs the bot's real pipeline in-process (inbox, worker, `bot: build`, local backend, SQLite) on a
synthetic target repository served over `file://` (1,000 files, 20,000 commits, about the shape
of a software-stack repository's history; `--files`/`--commits` to change), with 8 node types that
all match, and measures the time from the stored delivery to the 8th job submitted, for a bot whose
mirror of the repository exists already (the steady state) and for the very first command. The
baseline swaps only the git strategy: a full `git clone` from the repository URL per job, then the
PR's diff applied (what the EESSI bot does). Prints all three and the ratios. A local `file://`
remote is the most favourable case for the clones: over a network each clone also pays the transfer.

    .venv/bin/python bench/submit.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.pipeline import PR, Pipeline
from tests.fakes.upstream import IDENTITY, Upstream, git, make_upstream

from eessi_bot.adapters.git_mirror import GitMirrors
from eessi_bot.ports.git import Checkout, GitError

NODES = 8


def big_upstream(root: Path, files: int, commits: int) -> Upstream:
    """A repository shaped like a software-stack repository: `files` text files in 40 directories and
    `commits` commits that each extend two of them (written with `git fast-import`, in seconds)."""
    upstream = make_upstream(root)
    rng = random.Random(42)
    names = [f"easystacks/dir{i % 40:02d}/easystack-{i}.yml" for i in range(files)]
    contents = {name: f"easyconfigs:\n  - base-{index}.eb\n" for index, name in enumerate(names)}
    stream = []
    for number in range(commits):
        changed = names if number == 0 else rng.sample(names, 2)
        for name in changed:
            contents[name] += f"  - pkg-{number}-{rng.randrange(10**6)}.eb  # {' '.join(rng.choices(WORDS, k=8))}\n"
        stream.append(f"commit refs/heads/main\ncommitter t <t@example.org> {1600000000 + number} +0000\n"
                      f"data {len(f'c{number}')}\nc{number}\n" + ("from refs/heads/main^0\n" if number == 0 else ""))
        for name in changed:
            data = contents[name].encode()
            stream.append(f"M 100644 inline {name}\ndata {len(data)}\n{contents[name]}\n")
    git(upstream.path, "fast-import", "--quiet", stdin="".join(stream))
    git(upstream.path, "reset", "-q", "--hard", "main")
    git(upstream.path, "repack", "-a", "-d", "-q")
    return upstream


WORDS = ("gcc", "foss", "cuda", "python", "toolchain", "rebuild", "fix", "bump", "add", "zen2", "zen4", "neoverse")


class CloneEachJob:
    """The baseline: no mirror; every job tree is a full clone of the remote plus the PR's diff."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch

    def prepare(self, url: str, base_ref: str, pr_number: int, head_sha: Optional[str] = None,
                token: Optional[str] = None) -> Checkout:
        out = git(self.scratch, "ls-remote", url, f"refs/heads/{base_ref}", f"refs/pull/{pr_number}/head")
        refs: Dict[str, str] = {}
        for line in out.splitlines():
            sha, ref = line.split("\t")
            refs[ref] = sha
        return Checkout(url=url, base_ref=base_ref, base_sha=refs[f"refs/heads/{base_ref}"],
                        head_sha=refs[f"refs/pull/{pr_number}/head"], merge_base="", merged_tree="")

    def make_tree(self, checkout: Checkout, dest: Path, pr_number: int) -> None:
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        git(dest.parent, "clone", "-q", checkout.url, str(dest))
        git(dest, "checkout", "-q", checkout.base_ref)
        git(dest, "fetch", "-q", "origin", f"pull/{pr_number}/head:pr{pr_number}")
        base = git(dest, "merge-base", f"pr{pr_number}", "HEAD")
        diff = git(dest, "diff", base, f"pr{pr_number}")
        (dest / f"{pr_number}.diff").write_text(diff + "\n")
        result = subprocess.run(["git", "-C", str(dest), "apply", f"{pr_number}.diff"], env=IDENTITY,
                                capture_output=True, check=False)
        if result.returncode:
            raise GitError("apply", "conflict", result.stderr.decode())


def node_map() -> str:
    nodes = {f"node{i}": {"os": "linux", "cpu_subdir": f"x86_64/amd/zen{i}", "slurm_params": "",
                          "repo_targets": ["eessi.io-2023.06-software"]} for i in range(NODES)}
    return json.dumps(nodes)


def one_run(root: Path, upstream: Upstream, head: str, baseline: bool, warm: bool) -> float:
    """Seconds from the stored delivery to the 8th job submitted. `warm`: the bot built this PR
    before, so its mirror exists; then the PR got a new commit (the steady state of a running bot:
    the fetch is incremental, the merged tree is new)."""
    bot = Pipeline(root, node_type_map=node_map())
    bot.runtime.builder.git = CloneEachJob(root) if baseline else GitMirrors(root / "mirrors")
    bot.open_pr(upstream, head)
    if warm:
        bot.comment("bot: build for:arch=x86_64/amd/zen0")
        head = upstream.open_pr(PR, {f"easystacks/new-{root.name}.yml": "easyconfigs:\n  - foss-2023b.eb\n"})
        bot.open_pr(upstream, head)
    started = time.perf_counter()
    bot.comment("bot: build for:arch=x86_64/amd/.*")
    elapsed = time.perf_counter() - started
    submitted = bot.runtime.db.connection().execute(
        "SELECT COUNT(*) FROM jobs WHERE state = 'submitted'").fetchone()[0]
    bot.close()
    assert submitted == NODES + (1 if warm else 0), f"{submitted} jobs submitted"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description="command to 8 jobs submitted: mirror vs clone per job")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        made = time.perf_counter()
        upstream = big_upstream(root / "remote", args.files, args.commits)
        head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - GCC-13.2.0.eb\n"})
        size = sum(p.stat().st_size for p in (upstream.path / ".git").rglob("*") if p.is_file())
        print(f"target repository: {args.files} files, {args.commits + 2} commits, .git {size / 2**20:.1f} MiB "
              f"(made in {time.perf_counter() - made:.1f} s); {NODES} matching node types; local backend")
        results: Dict[str, float] = {}
        cases = (("eessi-bot, new mirror", False, False), ("eessi-bot, mirror exists", False, True),
                 ("full clone per job", True, False))
        for name, baseline, warm in cases:
            times = [one_run(root / f"{len(results)}-{run}", upstream, head, baseline, warm)
                     for run in range(args.runs)]
            results[name] = statistics.median(times)
            print(f"{name:>25}: command -> {NODES} jobs submitted: median {results[name]:.2f} s "
                  f"(runs: {', '.join(f'{t:.2f}' for t in times)})")
        clone = results["full clone per job"]
        print(f"{'speed-up':>25}: {clone / results['eessi-bot, mirror exists']:.1f}x with the mirror in place "
              f"(a running bot), {clone / results['eessi-bot, new mirror']:.1f}x for the very first command")


if __name__ == "__main__":
    main()
