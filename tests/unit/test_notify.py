"""sd_notify: READY, WATCHDOG while every thread lives, STOPPING, over a datagram socket as systemd
listens (`NOTIFY_SOCKET`); nothing without one, and systemd's variables never reach children."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from eessi_bot.cli.notify import Notifier, started_threads
from tests.waiting import wait_for


class Listener:
    """What systemd does with NOTIFY_SOCKET: a datagram socket that collects the messages."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.setblocking(False)
        self.messages: List[str] = []

    def received(self) -> List[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Listener]:
    address = str(tmp_path / "notify") if request.param == "path" else f"@eessi-bot-test-{uuid.uuid4()}"
    made = Listener(address)
    yield made
    made.sock.close()


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, (None, None)),
    ({"NOTIFY_SOCKET": "/run/user/1000/systemd/notify"}, ("/run/user/1000/systemd/notify", None)),
    ({"NOTIFY_SOCKET": "@abstract", "WATCHDOG_USEC": "60000000"}, ("@abstract", 60.0)),
    ({"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "@me"}, ("/n", 60.0)),
    ({"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}, ("/n", None)),
    ({"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "0"}, ("/n", None)),
    ({"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "soon"}, ("/n", None)),
    ({"NOTIFY_SOCKET": ""}, (None, None)),
], ids=["not-under-systemd", "notify-only", "watchdog", "watchdog-for-this-pid", "watchdog-for-another-pid",
        "watchdog-zero", "watchdog-garbage", "empty-socket"])
def test_systemd_variables_are_taken_out_of_the_environment(environ: Dict[str, str],
                                                            expected: Tuple[Optional[str], Optional[float]]) -> None:
    env = {name: str(os.getpid()) if value == "@me" else value for name, value in environ.items()}
    env["PATH"] = "/usr/bin"
    notifier = Notifier.from_environment(env)
    assert (notifier.address, notifier.watchdog) == expected
    assert env == {"PATH": "/usr/bin"}, "children (git, local jobs) must not talk to systemd in the bot's name"


def test_ready_and_stopping(listener: Listener) -> None:
    notifier = Notifier(listener.address)
    notifier.ready("instance x (serve) listening on http://127.0.0.1:3000/", [])
    notifier.stopping()
    assert listener.received() == ["READY=1\nSTATUS=instance x (serve) listening on http://127.0.0.1:3000/",
                                   "STOPPING=1\nSTATUS=stopping"]


def test_the_watchdog_is_fed_while_every_thread_lives(listener: Listener, caplog: pytest.LogCaptureFixture) -> None:
    alive, ending = threading.Event(), threading.Event()
    threads = [threading.Thread(target=alive.wait, name="outbox", daemon=True),
               threading.Thread(target=ending.wait, name="job-manager", daemon=True)]
    for thread in threads:
        thread.start()
    notifier = Notifier(listener.address, watchdog=0.1)
    notifier.ready("up", threads)
    wait_for(lambda: listener.received().count("WATCHDOG=1") >= 3)
    with caplog.at_level(logging.ERROR, logger="eessi_bot.cli.notify"):
        ending.set()
        wait_for(lambda: "WATCHDOG=trigger" in listener.received()[-1])
    pings = listener.received().count("WATCHDOG=1")
    assert listener.received()[-1] == "STATUS=thread job-manager ended; waiting for the watchdog\nWATCHDOG=trigger"
    assert caplog.messages == ["thread job-manager ended: no more watchdog pings; systemd restarts the bot"]
    assert notifier.watcher is not None
    notifier.watcher.join(5)
    assert not notifier.watcher.is_alive() and listener.received().count("WATCHDOG=1") == pings, (
        "no ping once a thread is dead")
    alive.set()


def test_shutdown_is_no_dead_thread(listener: Listener, caplog: pytest.LogCaptureFixture) -> None:
    """At STOPPING the bot's threads end on purpose: the watchdog says nothing about them."""
    done = threading.Event()
    worker = threading.Thread(target=done.wait, name="worker-0", daemon=True)
    worker.start()
    notifier = Notifier(listener.address, watchdog=0.05)
    notifier.ready("up", [worker])
    wait_for(lambda: "WATCHDOG=1" in listener.received())
    notifier.stopping()
    done.set()
    worker.join()
    assert notifier.watcher is not None
    notifier.watcher.join(5)
    assert not notifier.watcher.is_alive()
    assert listener.received()[-1] == "STOPPING=1\nSTATUS=stopping" and caplog.messages == []


def test_without_systemd_nothing_is_sent_and_no_thread_starts() -> None:
    notifier = Notifier.from_environment({})
    assert not notifier.send("READY=1")
    notifier.ready("up", [])
    notifier.stopping()
    assert notifier.watcher is None


def test_an_unreachable_socket_is_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(str(tmp_path / "gone"))
    with caplog.at_level(logging.WARNING, logger="eessi_bot.cli.notify"):
        assert not notifier.send("READY=1")
        assert not notifier.send("STOPPING=1")
    assert caplog.messages == [f"cannot notify systemd at {tmp_path / 'gone'}: [Errno 2] No such file or directory"]


def test_the_watched_threads_are_those_start_left_running() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="before", daemon=True)
    other.start()

    def start() -> None:
        threading.Thread(target=stop.wait, name="worker-0", daemon=True).start()
        threading.Thread(target=stop.wait, name="outbox", daemon=True).start()

    assert sorted(t.name for t in started_threads(start)) == ["outbox", "worker-0"]
    stop.set()
