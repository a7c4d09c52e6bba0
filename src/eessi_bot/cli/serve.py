"""`eessi-bot serve`: webhooks, workers and the outbox in one process (threads, no forks)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Optional

from waitress.server import create_server

from eessi_bot.adapters.config_files import load_config_or_raise
from eessi_bot.adapters.github_app import GitHubApp
from eessi_bot.adapters.system_clock import SystemClock
from eessi_bot.cli.runtime import DataDirLock, Runtime
from eessi_bot.core.webhook import MAX_BODY_BYTES
from eessi_bot.service.logs import setup_logging
from eessi_bot.web.app import create_app

log = logging.getLogger(__name__)

HTTP_THREADS = 8
SWITCH_INTERVAL = 0.0005
"""Seconds between GIL hand-overs: short, so a webhook is not kept waiting behind a busy worker."""


def run(config_path: Path, host: str, port: int, role: str = "serve") -> int:
    config, problems = load_config_or_raise(config_path)
    log_path = config.bot.event_handler_log
    setup_logging(config.bot.log_format, log_path)
    for problem in problems:
        log.warning("%s", problem.render())
    lock = DataDirLock(config.bot.data_dir, "event-handler")
    lock.acquire()
    clock = SystemClock()
    github = GitHubApp(config.github, config.github.private_key.read_text(encoding="utf-8"), clock)
    runtime = Runtime(config, github, clock)
    app = create_app(config.github.webhook_secret, runtime.inbox, runtime.outbox, clock, runtime.metrics,
                     runtime.delivery_stored)
    server = create_server(app, host=host, port=port, threads=HTTP_THREADS, ident="eessi-bot",
                           max_request_body_size=MAX_BODY_BYTES + 1024 * 1024, clear_untrusted_proxy_headers=True)

    def stop(signum: int, _: Optional[FrameType]) -> None:
        log.info("signal %d: stopping", signum)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.setswitchinterval(SWITCH_INTERVAL)
    runtime.start()
    log.info("instance %s (%s) listening on http://%s:%s/ (data in %s)", config.instance, role, host,
             server.effective_port, config.bot.data_dir)
    sys.stdout.flush()
    try:
        server.run()
    except SystemExit:
        pass
    finally:
        server.close()
        runtime.stop()
        lock.release()
        log.info("stopped")
    return 0
