"""`eessi-bot serve` (everything in one process), `event-handler` and `job-manager` (the two halves).

Threads, no forks. `serve` and `event-handler` listen on `--host`/`--port` for webhooks, health and
metrics; `job-manager` listens nowhere. Split mode runs both halves on one host sharing `data_dir`;
the event handler sends every GitHub write, the job manager's too.
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Callable, List, Optional

from waitress.server import create_server

from eessi_bot.adapters.config_files import load_config_or_raise
from eessi_bot.adapters.github_app import GitHubApp
from eessi_bot.adapters.system_clock import SystemClock
from eessi_bot.cli.errors import CliError
from eessi_bot.cli.notify import Notifier, started_threads
from eessi_bot.cli.runtime import DataDirLock, Runtime
from eessi_bot.core.config import Config
from eessi_bot.core.webhook import MAX_BODY_BYTES
from eessi_bot.service.logs import setup_logging
from eessi_bot.web.app import create_app

log = logging.getLogger(__name__)

HTTP_THREADS = 8
SWITCH_INTERVAL = 0.0005
"""Seconds between GIL hand-overs: short, so a webhook is not kept waiting behind a busy worker."""
LOCKS = {"serve": ("event-handler", "job-manager"), "event-handler": ("event-handler",),
         "job-manager": ("job-manager",)}


def _start(config_path: Path, role: str, before: Callable[[], None] = lambda: None,
           ) -> tuple[Config, Runtime, List[DataDirLock]]:
    """Configuration, logging, the data_dir locks and the runtime; `before` runs once the configuration
    is known to be usable and before anything is logged or locked (serve binds its port there)."""
    config, problems = load_config_or_raise(config_path)
    before()
    log_path = config.job_manager.log_path if role == "job-manager" else config.bot.event_handler_log
    setup_logging(config.bot.log_format, log_path)
    for problem in problems:
        log.warning("%s", problem.render())
    locks = [DataDirLock(config.bot.data_dir, name) for name in LOCKS[role]]
    for lock in locks:
        lock.acquire()
    clock = SystemClock()
    github = GitHubApp(config.github, config.github.private_key.read_text(encoding="utf-8"), clock)
    return config, Runtime(config, github, clock, deliveries=github), locks


def _stop_on_signals() -> None:
    def stop(signum: int, _: Optional[FrameType]) -> None:
        log.info("signal %d: stopping", signum)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def run(config_path: Path, host: str, port: int, role: str = "serve") -> int:
    """`serve` or `event-handler`: webhooks in, work done by threads of this process."""
    sockets: List[socket.socket] = []
    notifier = Notifier.from_environment()
    config, runtime, locks = _start(config_path, role, lambda: sockets.append(_bind(host, port)))
    app = create_app(config.github.webhook_secret, runtime.store, runtime.clock, runtime.metrics,
                     runtime.deliveries_waiting, check_runs=runtime.check_runs)
    server = create_server(app, sockets=sockets, threads=HTTP_THREADS, ident="eessi-bot",
                           max_request_body_size=MAX_BODY_BYTES + 1024 * 1024, clear_untrusted_proxy_headers=True)
    _stop_on_signals()
    sys.setswitchinterval(SWITCH_INTERVAL)
    threads = started_threads(lambda: runtime.start(intake=True, manager=role == "serve"))
    address = f"http://{host}:{sockets[0].getsockname()[1]}/"
    log.info("instance %s (%s) listening on %s (data in %s)", config.instance, role, address, config.bot.data_dir)
    notifier.ready(f"instance {config.instance} ({role}) listening on {address}", threads)
    try:
        server.run()
    except SystemExit:
        pass
    finally:
        notifier.stopping()
        server.close()
        _shut_down(runtime, locks)
    return 0


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, before anything else starts; CliError saying what to do when
    that address cannot be had (a port in use, a privileged port, an address of another machine)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise CliError(f"--host {host}: not a name or address this machine can resolve ({exc.strerror})") from None
    try:
        return socket.create_server((host, port), family=family, backlog=1024)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CliError(f"port {port} on {host} is in use (another eessi-bot or another service): stop it or "
                           "choose another --port") from None
        if exc.errno == errno.EACCES:
            raise CliError(f"no permission to listen on port {port} (ports below 1024 need root): choose --port "
                           "1024 or above and let a reverse proxy forward to it") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise CliError(f"{host} is not an address of this machine: pass --host 127.0.0.1 (behind a reverse "
                           "proxy) or an address this machine has") from None
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run_job_manager(config_path: Path) -> int:
    """`job-manager`: follows jobs; its GitHub writes are sent by the event handler."""
    notifier = Notifier.from_environment()
    config, runtime, locks = _start(config_path, "job-manager")
    _stop_on_signals()
    threads = started_threads(lambda: runtime.start(intake=False, manager=True))
    log.info("instance %s job manager running (poll interval %d s; GitHub writes are sent by the event "
             "handler)", config.instance, config.job_manager.poll_interval)
    notifier.ready(f"instance {config.instance} job manager running", threads)
    try:
        threading.Event().wait()
    except SystemExit:
        pass
    finally:
        notifier.stopping()
        _shut_down(runtime, locks)
    return 0


def _shut_down(runtime: Runtime, locks: List[DataDirLock]) -> None:
    runtime.stop()
    for lock in locks:
        lock.release()
    log.info("stopped")
