"""systemd's notify protocol for the `Type=notify` units of `contrib/systemd/` (sd_notify(3)).

READY=1 once the bot listens and its threads run (systemd then counts the service as started),
WATCHDOG=1 from a thread of its own while every thread of the bot is alive (only when the unit sets
`WatchdogSec=`), and STOPPING=1 when it shuts down. A dead thread stops the pings: systemd then kills
the bot and `Restart=on-failure` starts it again, which picks up where it stopped.

A few lines over a Unix datagram socket instead of a dependency; without NOTIFY_SOCKET (not started
by systemd) nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable, List, MutableMapping, Optional, Sequence

log = logging.getLogger(__name__)

_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class Notifier:
    def __init__(self, address: Optional[str], watchdog: Optional[float] = None) -> None:
        """`address`: NOTIFY_SOCKET (a path, or `@name` for an abstract socket); `watchdog`: WatchdogSec
        in seconds, None for no pings."""
        self.address = address
        self.watchdog = watchdog
        self.watcher: Optional[threading.Thread] = None
        """The thread that pings the watchdog, once started."""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        """Held from the watchdog's look at `_stop` to its ping, so that no ping follows STOPPING=1."""
        self._failed = False

    @classmethod
    def from_environment(cls, environ: Optional[MutableMapping[str, str]] = None) -> Notifier:
        """Take systemd's variables out of the environment (default: this process's), so that no child
        (a git, a local job) speaks to systemd in the bot's name."""
        env = os.environ if environ is None else environ
        address, usec, pid = (env.pop(name, None) for name in _VARIABLES)
        watchdog = None
        if usec and usec.isdigit() and int(usec) > 0 and pid in (None, str(os.getpid())):
            watchdog = int(usec) / 1e6
        return cls(address or None, watchdog)

    def send(self, *fields: str) -> bool:
        """One message of `KEY=value` fields; False when there is no socket or it cannot be reached."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(fields).encode(), target)
        except OSError as exc:
            if not self._failed:
                log.warning("cannot notify systemd at %s: %s", self.address, exc)
            self._failed = True
            return False
        return True

    def ready(self, status: str, threads: Sequence[threading.Thread]) -> None:
        """The bot serves: say so, and ping the watchdog while all of `threads` live."""
        self.send("READY=1", f"STATUS={status}")
        if self.watchdog is not None and self.address is not None:
            self.watcher = threading.Thread(target=self._watch, args=(list(threads), self.watchdog / 2),
                                            name="watchdog", daemon=True)
            self.watcher.start()

    def stopping(self) -> None:
        """Shutting down (threads end now: no watchdog verdict on them)."""
        with self._lock:
            self._stop.set()
            self.send("STOPPING=1", "STATUS=stopping")

    def _watch(self, threads: List[threading.Thread], interval: float) -> None:
        while True:
            with self._lock:
                if self._stop.is_set():
                    return
                dead = [thread.name for thread in threads if not thread.is_alive()]
                if dead:
                    log.error("thread %s ended: no more watchdog pings; systemd restarts the bot", ", ".join(dead))
                    self.send(f"STATUS=thread {', '.join(dead)} ended; waiting for the watchdog", "WATCHDOG=trigger")
                    return
                self.send("WATCHDOG=1")
            self._stop.wait(interval)


def started_threads(start: Callable[[], None]) -> List[threading.Thread]:
    """Run `start` (the bot's `Runtime.start`) and return the threads it left running: those the
    watchdog watches, none of which ends before shutdown."""
    before = set(threading.enumerate())
    start()
    return [thread for thread in threading.enumerate() if thread not in before]
