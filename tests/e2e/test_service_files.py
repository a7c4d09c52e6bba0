"""Running an instance as a service: the systemd user units of contrib/systemd pass `systemd-analyze
verify` and start the real bot as systemd would (READY=1, watchdog pings, STOPPING=1 on a fake
NOTIFY_SOCKET); `eessi-bot gc` works beside a running bot.

These machines run no systemd as PID 1, so the units are run by hand here: their ExecStart,
Environment, EnvironmentFile and WorkingDirectory expanded as systemd expands them. Nothing is
skipped: without `systemd-analyze` (Debian's `systemd` package, which scripts/test.sh installs) the
verify tests fail.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import requests

from eessi_bot.core.retention import DAY
from tests.e2e.harness import BotProcess, coverage_env, free_port
from tests.e2e.test_intake import comment_payload
from tests.fakes.github_server import FakeGitHub
from tests.fakes.site import write_site
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

UNITS = Path(__file__).resolve().parents[2] / "contrib" / "systemd"
UNIT_NAMES = ["eessi-bot.service", "eessi-bot-event-handler.service", "eessi-bot-job-manager.service"]
EESSI_BOT = Path(sys.executable).parent / "eessi-bot"
"""The `eessi-bot` command of the environment the tests run in (the units expect %h/.local/bin/eessi-bot)."""


class Listener:
    """systemd's end of NOTIFY_SOCKET: a datagram socket that collects what the bot says."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: List[str] = []

    def received(self) -> List[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def said(self, field: str) -> bool:
        return any(field in message.split("\n") for message in self.received())


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    made = Listener(tmp_path / "notify")
    yield made
    made.sock.close()


def home_with_the_bot(tmp_path: Path) -> Path:
    """A home directory as the units expect it: the command in ~/.local/bin, the units installed."""
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "eessi-bot").symlink_to(EESSI_BOT)
    shutil.copytree(UNITS, home / ".config" / "systemd" / "user")
    return home


def verify(unit: Path, home: Path) -> Tuple[int, str]:
    runtime = home / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing: install Debian's systemd package (scripts/test.sh does)"
    done = subprocess.run([analyze, "verify", "--user", str(unit)], capture_output=True, text=True, timeout=60,
                          env={"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "PATH": os.environ["PATH"]},
                          check=False)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_systemd_accepts_the_unit(tmp_path: Path, name: str) -> None:
    """Not a warning: an unknown key or a missing command would be one."""
    home = home_with_the_bot(tmp_path)
    assert verify(home / ".config" / "systemd" / "user" / name, home) == (0, "")


@pytest.mark.parametrize(("change", "complaint"), [
    (("KillMode=process", "KillMode=proces"), "Failed to parse kill mode"),
    (("RestartSec=10", "RestartSeconds=10"), "Unknown key 'RestartSeconds'"),
    (("%h/.local/bin/eessi-bot", "%h/.local/bin/eessi-bott"), "is not executable"),
], ids=["bad-value", "unknown-key", "no-such-command"])
def test_verify_names_what_is_wrong(tmp_path: Path, change: Tuple[str, str], complaint: str) -> None:
    """The check above would catch a mistake in a unit: systemd-analyze says what is wrong."""
    home = home_with_the_bot(tmp_path)
    unit = home / ".config" / "systemd" / "user" / "eessi-bot.service"
    unit.write_text(unit.read_text().replace(*change))
    _, said = verify(unit, home)
    assert complaint in said, said


def directives(name: str) -> Dict[str, List[str]]:
    """A unit's `Key=value` lines (keys repeat in unit files), comments left out."""
    found: Dict[str, List[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_the_choices_an_admin_relies_on(name: str) -> None:
    unit = directives(name)
    expected = {"Type": ["notify"], "NotifyAccess": ["main"], "WatchdogSec": ["60"], "Restart": ["on-failure"],
                "RestartSec": ["10"], "RestartPreventExitStatus": ["2"], "KillMode": ["process"],
                "NoNewPrivileges": ["yes"], "EnvironmentFile": ["-%h/.config/eessi-bot/env"],
                "WantedBy": ["default.target"]}
    assert {key: unit.get(key) for key in expected} == expected
    for absent in ("ExecReload", "PrivateTmp", "MemoryMax", "User"):
        assert absent not in unit, f"{absent}: see the unit's comments and README"
    command = shlex.split(unit["ExecStart"][0])
    role = {"eessi-bot.service": "serve", "eessi-bot-event-handler.service": "event-handler"}.get(name, "job-manager")
    assert command[:4] == ["%h/.local/bin/eessi-bot", role, "--config", "${EESSI_BOT_CONFIG}"]


def expand(text: str, home: Path, env: Dict[str, str]) -> str:
    """systemd's `%h` and `${NAME}` in a unit's command line."""
    return re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), text.replace("%h", str(home)))


def as_systemd_runs_it(name: str, home: Path, env_file: str) -> Tuple[List[str], Dict[str, str], Path]:
    """The command, environment and working directory systemd would give the unit's process."""
    unit = directives(name)
    env: Dict[str, str] = {}
    for assignments in unit["Environment"]:
        for word in shlex.split(expand(assignments, home, {})):
            key, _, value = word.partition("=")
            env[key] = value
    path = Path(expand(unit["EnvironmentFile"][0].lstrip("-"), home, env))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(env_file)
    path.chmod(0o600)
    for line in env_file.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    argv = [expand(word, home, env) for word in shlex.split(unit["ExecStart"][0])]
    return argv, env, Path(expand(unit["WorkingDirectory"][0], home, env))


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_each_unit_runs_the_bot_as_systemd_would(tmp_path: Path, listener: Listener, name: str) -> None:
    """READY=1 once it serves, WATCHDOG=1 while it runs, STOPPING=1 and exit 0 on SIGTERM (`systemctl stop`)."""
    home = home_with_the_bot(tmp_path)
    config = write_site(tmp_path / "site")
    port = free_port()
    argv, env, cwd = as_systemd_runs_it(name, home, f"EESSI_BOT_CONFIG={config}\nEESSI_BOT_PORT={port}\n")
    assert argv[0] == str(home / ".local" / "bin" / "eessi-bot")
    env.update(coverage_env(), HOME=str(home), PATH="/usr/bin:/bin", NOTIFY_SOCKET=str(listener.path),
               WATCHDOG_USEC="400000")
    log = tmp_path / "bot.log"
    with log.open("wb") as output:
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: listener.said("READY=1") or process.poll() is not None, timeout=30)
        assert process.poll() is None, log.read_text()
        ready = next(m for m in listener.received() if "READY=1" in m)
        where = f"listening on http://127.0.0.1:{port}/" if name != "eessi-bot-job-manager.service" else "job manager"
        assert where in ready
        if name != "eessi-bot-job-manager.service":
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        wait_for(lambda: listener.received().count("WATCHDOG=1") >= 3, timeout=10)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert listener.received()[-1] == "STOPPING=1\nSTATUS=stopping"


def test_the_bot_under_the_harness_notifies_and_keeps_answering(tmp_path: Path, github: FakeGitHub,
                                                                listener: Listener,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`eessi-bot serve` as the e2e tests run it, with NOTIFY_SOCKET and WATCHDOG_USEC set: pings go on
    while it handles a command; none after STOPPING=1."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(listener.path))
    monkeypatch.setenv("WATCHDOG_USEC", "300000")
    bot = BotProcess(tmp_path / "site", github)
    bot.start()
    try:
        wait_for(lambda: listener.said("READY=1"))
        assert listener.received()[0] == (f"READY=1\nSTATUS=instance test-bot (serve) listening on "
                                          f"http://127.0.0.1:{bot.port}/")
        pings = listener.received().count("WATCHDOG=1")
        response, _ = bot.send("issue_comment", comment_payload(github))
        assert response.status_code == 202
        wait_for(bot.idle)
        wait_for(lambda: listener.received().count("WATCHDOG=1") >= pings + 2)
    finally:
        assert bot.stop() == 0
    messages = listener.received()
    assert messages[-1] == "STOPPING=1\nSTATUS=stopping" and "WATCHDOG=1" not in messages[messages.index(
        "STOPPING=1\nSTATUS=stopping"):]


def test_gc_beside_a_running_bot(tmp_path: Path, github: FakeGitHub) -> None:
    """The bot's own round runs at its start; deliveries that expired since (rows written here as a
    long-running bot would have them) are forgotten by gc while the bot takes webhooks and answers
    them: none is refused or lost."""
    bot = BotProcess(tmp_path / "site", github, extra_config="\n[clean_up]\nkeep_deliveries_days = 30\n")
    bot.start()
    try:
        wait_for(lambda: "retention: forgot 0 deliveries" in bot.log.read_text())
        old = time.time() - 31 * DAY
        with bot.db() as conn:
            conn.executemany(
                "INSERT INTO deliveries (id, event, body, received_at, state, attempts, finished_at, outcome) "
                "VALUES (?, 'issue_comment', x'7b7d', ?, 'done', 1, ?, 'ok')",
                [(f"old-{number}", old, old) for number in range(200)])
        conn.close()
        sent: List[int] = []
        ids = [str(uuid.uuid4()) for _ in range(20)]
        sender = threading.Thread(target=lambda: sent.extend(
            bot.send("issue_comment", comment_payload(github), delivery_id=i)[0].status_code for i in ids))
        sender.start()
        done = subprocess.run([str(EESSI_BOT), "gc", "-c", str(bot.config)], capture_output=True, text=True,
                              timeout=120, env={**os.environ, **coverage_env()}, check=False)
        sender.join(60)
        assert (done.returncode, done.stderr) == (0, "")
        assert done.stdout.splitlines()[-1].startswith("forgot 200 deliveries and 0 finished jobs")
        assert sent == [202] * 20
        wait_for(bot.idle)
        assert bot.delivery_states() == {"done": 20}
    finally:
        assert bot.stop() == 0
