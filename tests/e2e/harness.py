"""Run `eessi-bot serve` as a real process against the fake GitHub, and talk to it over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import requests

from tests.fakes.github_server import FakeGitHub
from tests.fakes.site import write_site
from tests.fakes.webhooks import delivery_headers, encode
from tests.waiting import wait_for

SECRET = "s3cret"
REPO = "eessi/software-layer"
PR = 7


def coverage_env() -> Dict[str, str]:
    """What coverage needs to measure a Python subprocess (set by pytest-cov with `patch = ["subprocess"]`),
    and nothing else of the test runner's environment: for tests that run the bot with a bare one."""
    return {name: value for name, value in os.environ.items() if name.startswith("COVERAGE_")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """One site (config, key, state dir) and the `eessi-bot serve` process serving it."""

    def __init__(self, root: Path, github: FakeGitHub, extra_config: str = "", chatlevel: str = "basic",
                 github_config: str = "", **site: Any) -> None:
        """`github_config`: more lines of app.cfg's [github] section (e.g. `intake = poll`)."""
        self.root = root
        self.github = github
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = write_site(root, pem=github.private_key_pem.encode(), app_id=github.app_id,
                                 installation_id=github.installation_id, api_url=github.base_url,
                                 chatlevel=chatlevel, extra=extra_config,
                                 github_extra="max_writes_per_minute = 100000\nmax_writes_per_hour = 100000\n"
                                 + github_config, **site)
        self.log = root / "serve.log"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.session = requests.Session()

    def start(self) -> None:
        env = {**os.environ, "HOME": str(self.root), "PYTHONUNBUFFERED": "1"}
        env.pop("GITHUB_APP_SECRET_TOKEN", None)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "eessi_bot", "serve", "--config", str(self.config), "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for(self._healthy, timeout=30)

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"eessi-bot serve exited with {self.process.returncode}:\n{self.log.read_text()}")
        try:
            return self.session.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def cancel_local_jobs(self) -> None:
        """Local jobs are detached processes held until released: cancel them when a test ends."""
        with self.db() as conn:
            for (job_dir,) in conn.execute("SELECT job_dir FROM jobs").fetchall():
                if Path(job_dir).is_dir():
                    (Path(job_dir) / "_bot_local.cancel").touch()

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)

    def send(self, event: str, payload: Dict[str, Any], delivery_id: Optional[str] = None,
             secret: str = SECRET, path: str = "/", headers: Optional[Dict[str, str]] = None,
             body: Optional[bytes] = None, session: Optional[requests.Session] = None,
             ) -> Tuple[requests.Response, float]:
        """POST a signed delivery; returns the response and the seconds it took."""
        data = encode(payload) if body is None else body
        sent = delivery_headers(event, data, secret, delivery_id or str(uuid.uuid4()))
        sent.update(headers or {})
        started = time.perf_counter()
        response = (session or self.session).post(self.url + path, data=data, headers=sent, timeout=10)
        return response, time.perf_counter() - started

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.root / "state" / "eessi-bot.sqlite3", timeout=10)

    def delivery_states(self) -> Dict[str, int]:
        with self.db() as conn:
            return dict(conn.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall())

    def idle(self) -> bool:
        """No delivery left to process and no GitHub write left to send."""
        with self.db() as conn:
            busy = conn.execute("SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'processing')").fetchone()
            unsent = conn.execute("SELECT COUNT(*) FROM outbox WHERE version > done_version AND failed = 0").fetchone()
        return busy[0] == 0 and unsent[0] == 0
