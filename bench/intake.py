"""Webhook intake benchmark: ack latency and sustained deliveries/s of `eessi-bot serve`.

Starts the bot as a process against the fake GitHub (schema checks off) and sends signed
`issue_comment` deliveries over keep-alive connections, half on a fixed schedule at an offered
rate (open loop: 300/s by default) and half from concurrent senders as fast as they are answered
(saturation), in two rounds:

1. plain PR comments (no command; what most deliveries are): the workers read and drop them;
2. `bot: help` comments: the workers answer each with a comment and a reaction on the fake GitHub,
   which runs on the same machine, while deliveries keep coming (intake under load).

Prints p50/p99 ack latency, acknowledged deliveries/s, and when every delivery was handled.

    .venv/bin/python bench/intake.py [--count 2000] [--senders 8]
"""

from __future__ import annotations

import argparse
import http.client
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import PR, REPO, BotProcess
from tests.fakes.github_server import FakeGitHub
from tests.fakes.webhooks import delivery_headers, encode, pr_comment_payload
from tests.waiting import wait_for


def percentile(values: List[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def send_all(bot: BotProcess, bodies: List[bytes], senders: int, rate: float = 0.0) -> Tuple[List[float], float]:
    """Send `bodies` from `senders` threads, each on its own keep-alive connection.

    With `rate` > 0 the deliveries are sent on a fixed schedule (open loop, like independent
    webhooks arriving at that rate); latency then counts from the scheduled time, so a sender that
    falls behind shows up in the figures. With `rate` 0 each sender sends as fast as it is answered.
    """
    latencies: List[float] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.05

    def run(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", bot.port, timeout=30)
        mine = []
        for number in range(index, len(bodies), senders):
            body = bodies[number]
            headers = delivery_headers("issue_comment", body, "s3cret", str(uuid.uuid4()))
            scheduled = start + number / rate if rate else time.perf_counter()
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            connection.request("POST", "/", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - scheduled)
            assert response.status == 202, response.status
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - start


def report(name: str, values: List[float], seconds: float) -> None:
    p50, p99 = percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000
    print(f"{name:>22}: ack p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"
          f"   max {max(values) * 1000:7.2f} ms   {len(values) / seconds:7.1f} deliveries/s")


def comments(github: FakeGitHub, text: str, count: int) -> List[bytes]:
    bodies = []
    for _ in range(count):
        comment = github.add_comment(REPO, PR, text, login="maintainer")
        bodies.append(encode(pr_comment_payload(text, repo=REPO, pr_number=PR, comment_id=comment["id"],
                                                sender_login="maintainer")))
    return bodies


def run_round(bot: BotProcess, title: str, bodies: List[bytes], senders: int, rate: float) -> None:
    half = len(bodies) // 2
    started = time.perf_counter()
    paced, paced_seconds = send_all(bot, bodies[:half], senders, rate)
    flat_out, flat_seconds = send_all(bot, bodies[half:], senders)
    wait_for(bot.idle, timeout=900, interval=0.1)
    handled = time.perf_counter() - started
    print(f"{len(bodies)} deliveries: {title}")
    report(f"{rate:.0f}/s offered", paced, paced_seconds)
    report(f"{senders} senders flat out", flat_out, flat_seconds)
    print(f"{'all handled':>22}: {handled:.1f} s after the first delivery ({len(bodies) / handled:.1f} deliveries/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description="webhook intake benchmark")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--rate", type=float, default=300.0, help="offered deliveries/s of the paced half")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeGitHub(validate=False) as github:
        github.add_repo(REPO)
        github.add_pull(REPO, PR, title="bench", user_login="contributor", base_sha="a" * 40, head_ref="f",
                        head_sha="b" * 40)
        plain = comments(github, "Looks good to me, thanks!", args.count)
        helps = comments(github, "bot: help", args.count)
        bot = BotProcess(Path(tmp), github)
        bot.start()
        run_round(bot, "plain PR comments, read and dropped by the workers", plain, args.senders, args.rate)
        run_round(bot, "`bot: help`, each answered on GitHub (comment + reaction) meanwhile", helps, args.senders,
                  args.rate)
        bot.stop()


if __name__ == "__main__":
    main()
