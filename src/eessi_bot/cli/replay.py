"""`eessi-bot replay`: feed a stored delivery through the same path as a webhook (for debugging).

The file holds either `{"headers": {...}, "payload": {...}}` (as GitHub's "Recent Deliveries" page
and smee show a delivery; `body` is accepted for `payload`) or a bare payload, with `--event`.
In-process by default (the bot must not be running on the same data_dir); `--dry-run` prints the
GitHub writes instead of sending them and keeps its state in a temporary directory (the configured
data_dir is not touched); with `--url` the delivery is signed with the webhook secret and POSTed to a
running bot instead.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, TextIO, Tuple

from eessi_bot.adapters.config_files import load_config_or_raise
from eessi_bot.adapters.github_app import GitHubApp
from eessi_bot.adapters.memory_github import MemoryGitHub, Write
from eessi_bot.adapters.system_clock import SystemClock
from eessi_bot.cli.errors import CliError
from eessi_bot.cli.input_files import read_json
from eessi_bot.cli.runtime import DataDirLock, Runtime
from eessi_bot.core.config import Config
from eessi_bot.core.webhook import Delivery, DeliveryError, parse_delivery, sign
from eessi_bot.ports.github import GitHub


def read_delivery(path: Path, event: Optional[str]) -> Tuple[str, Dict[str, Any]]:
    """(event name, payload) from a delivery file; raises DeliveryError when it cannot tell."""
    data = read_json(path, "delivery file")
    if not isinstance(data, dict):
        raise DeliveryError(f"{path} does not hold a JSON object (a delivery is {{\"headers\": ..., "
                            "\"payload\": ...} or a bare payload)")
    payload = data.get("payload", data.get("body"))
    if isinstance(payload, dict):
        headers = {str(k).lower(): str(v) for k, v in (data.get("headers") or {}).items()}
        event = event or headers.get("x-github-event")
    else:
        payload = data
    if not event:
        raise DeliveryError(f"{path}: cannot tell the event type; pass --event (e.g. issue_comment)")
    return event, payload


def run(config_path: Path, file: Path, event: Optional[str], url: Optional[str], dry_run: bool,
        out: TextIO) -> int:
    config, _ = load_config_or_raise(config_path)
    event_name, payload = read_delivery(file, event)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    delivery_id = f"replay-{uuid.uuid4()}"
    headers = {"x-github-event": event_name, "x-github-delivery": delivery_id}
    if url:
        return _post(url, body, headers, config.github.webhook_secret, out)
    delivery = parse_delivery(headers, body)
    if dry_run:
        with tempfile.TemporaryDirectory(prefix="eessi-bot-replay-") as tmp:
            _replay(private_state(config, Path(tmp)), _DryRun(out), delivery, out)
        return 0
    lock = DataDirLock(config.bot.data_dir, "event-handler")
    lock.acquire()
    try:
        clock = SystemClock()
        github = GitHubApp(config.github, config.github.private_key.read_text(encoding="utf-8"), clock)
        _replay(config, github, delivery, out)
    finally:
        lock.release()
    return 0


def private_state(config: Config, root: Path) -> Config:
    """`config` with the bot's state and job trees under `root`: a dry run never touches the
    configured data_dir (pending writes there stay pending) nor the site's job directories."""
    return dataclasses.replace(
        config,
        bot=dataclasses.replace(config.bot, data_dir=root / "state"),
        buildenv=dataclasses.replace(config.buildenv, jobs_base_dir=root / "jobs"),
        job_manager=dataclasses.replace(config.job_manager, job_ids_dir=root / "job_ids"),
        clean_up=dataclasses.replace(config.clean_up, trash_bin_dir=root / "trash"))


def _replay(config: Config, github: GitHub, delivery: Delivery, out: TextIO) -> None:
    clock = SystemClock()
    runtime = Runtime(config, github, clock)
    try:
        runtime.inbox.store(delivery, clock.now())
        runtime.drain()
        _report(runtime, delivery, out)
    finally:
        runtime.store.close()


def _report(runtime: Runtime, delivery: Delivery, out: TextIO) -> None:
    row = runtime.inbox.get(delivery.id)
    assert row is not None
    out.write(f"delivery {delivery.id} ({delivery.event}.{delivery.action}): {row.state}: {row.outcome}\n")


def _post(url: str, body: bytes, headers: Mapping[str, str], secret: str, out: TextIO) -> int:
    """POST the signed delivery; the bot's answer is printed (status 1 when it refused it)."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https") or not urllib.parse.urlsplit(url).netloc:
        raise CliError(f"--url {url}: give the bot's address as http://HOST:PORT/ (e.g. http://127.0.0.1:3000/)")
    request = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310
        **headers, "x-hub-signature-256": sign(secret, body), "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            out.write(f"{response.status} {response.read().decode('utf-8', 'replace')}\n")
            return 0
    except urllib.error.HTTPError as exc:
        out.write(f"{exc.code} {exc.read().decode('utf-8', 'replace')}\n")
        return 1
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CliError(f"no bot answers at {url} ({getattr(reason, 'strerror', None) or reason}): is "
                       "'eessi-bot serve' running there?") from None


class _DryRun(MemoryGitHub):
    """Writes are printed, not sent. Reads of PRs fail (nothing is known offline)."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(on_write=lambda write: _print_write(out, write))


def _print_write(out: TextIO, write: Write) -> None:
    out.write(f"--- would {write.verb} on {write.repo} ({write.target}):\n{write.body}\n")
