"""GitHub requests per hour of `[github] intake = poll`: idle, and under 10 commands a minute.

The bot runs as a process (`eessi-bot serve`) against the fake GitHub over HTTP with `intake = poll`; no
webhook ever reaches it (the fake's hookshot logs every attempt as failed, as GitHub does for a webhook URL
nothing answers). Two phases of `--seconds` each, after the start-up passes have settled: idle (nothing
happens on GitHub), then `--rate` `bot: help` comments a minute. Every request the fake received in a
phase is counted by kind and scaled to an hour. Reading the log (list, fetch) is what poll intake costs
(its passes also recover what the bot missed: it makes no recovery passes of its own); the answers
(comment, reaction, token) are what any intake costs.

    .venv/bin/python bench/poll.py [--interval 15] [--seconds 180] [--rate 10]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import PR, REPO, BotProcess
from tests.fakes.github_server import FakeGitHub
from tests.fakes.webhooks import pr_comment_payload
from tests.waiting import wait_for

KINDS: Sequence[Tuple[str, str, str]] = (
    ("list the log of deliveries", "GET", r"/app/hook/deliveries"),
    ("fetch a delivery", "GET", r"/app/hook/deliveries/\d+"),
    ("create comment", "POST", r"/repos/[^/]+/[^/]+/issues/\d+/comments"),
    ("reaction", "POST", r"/repos/[^/]+/[^/]+/issues/comments/\d+/reactions"),
    ("installation token", "POST", r"/app/installations/\d+/access_tokens"),
    ("read App", "GET", r"/app"),
)
LOG_KINDS = ("list the log of deliveries", "fetch a delivery")


def kind(method: str, path: str) -> str:
    for name, verb, pattern in KINDS:
        if method == verb and re.fullmatch(pattern, path):
            return name
    return f"{method} {path}"


def phase(github: FakeGitHub, seconds: float, rate: float) -> Counter[str]:
    """Requests by kind during `seconds`, with `rate` `bot: help` comments a minute (0: idle)."""
    before = len(github.requests)
    started = time.monotonic()
    sent = 0
    while (now := time.monotonic() - started) < seconds:
        if rate and now >= sent * 60.0 / rate:
            made = github.add_comment(REPO, PR, "bot: help", login="maintainer")
            github.deliver("issue_comment", pr_comment_payload(
                "bot: help", repo=REPO, pr_number=PR, comment_id=made["id"], sender_login="maintainer",
                installation_id=github.installation_id))
            sent += 1
        time.sleep(0.05)
    return Counter(kind(method, path) for method, path, _ in github.requests[before:])


def table(phases: Dict[str, Counter[str]], seconds: float) -> str:
    scale = 3600.0 / seconds
    seen = {k for counts in phases.values() for k in counts}
    kinds = [name for name, _, _ in KINDS if name in seen] + sorted(seen - {name for name, _, _ in KINDS})
    rows: List[List[str]] = [[k] + [f"{counts.get(k, 0) * scale:.0f}" for counts in phases.values()] for k in kinds]
    reading = [sum(c.get(k, 0) for k in LOG_KINDS) * scale for c in phases.values()]
    rows.append(["reading the log"] + [f"{r:.0f}" for r in reading])
    rows.append(["all requests"] + [f"{sum(c.values()) * scale:.0f}" for c in phases.values()])
    head = ["GitHub requests per hour", *phases]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(row, widths))) for row in [head, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description="GitHub requests per hour of intake = poll")
    parser.add_argument("--interval", type=int, default=15, help="poll_interval_deliveries (default 15)")
    parser.add_argument("--seconds", type=float, default=180.0, help="length of each phase (default 180)")
    parser.add_argument("--rate", type=float, default=10.0, help="commands a minute in the busy phase (default 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeGitHub() as github:
        github.add_repo(REPO)
        github.add_pull(REPO, PR, title="t", user_login="contributor", base_sha="a" * 40, head_ref="pr",
                        head_sha="b" * 40)
        bot = BotProcess(Path(tmp) / "site", github, github_config=f"intake = poll\npoll_interval_deliveries = "
                                                                   f"{args.interval}")
        bot.start()
        try:
            wait_for(lambda: github.count("GET", r"^/app/hook/deliveries$") >= 2, timeout=3 * args.interval + 10)
            phases = {"idle": phase(github, args.seconds, 0.0)}
            print(f"idle: {dict(phases['idle'])}", flush=True)
            phases[f"{args.rate:g} commands/min"] = phase(github, args.seconds, args.rate)
            wait_for(bot.idle, timeout=60)
            answered = sum("received bot command `help`" in c["body"] for c in github.comments(REPO, PR)
                           if c["user"]["login"] == github.bot_login)
        finally:
            bot.stop()
    print(f"busy: {dict(list(phases.values())[1])}; {answered} commands answered")
    print(f"\npoll_interval_deliveries = {args.interval} s, phases of {args.seconds:.0f} s scaled to an hour\n")
    print(table(phases, args.seconds))


if __name__ == "__main__":
    main()
