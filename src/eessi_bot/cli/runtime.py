"""The composition root: builds the bot's parts from a Config and the adapters chosen by the CLI."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import IO, Callable, List, Optional

from eessi_bot.adapters.git_mirror import GitMirrors
from eessi_bot.adapters.local_jobs import LocalScheduler, package_script
from eessi_bot.adapters.slurm import SlurmScheduler
from eessi_bot.adapters.sqlite.db import Database
from eessi_bot.adapters.sqlite.inbox import Inbox
from eessi_bot.adapters.sqlite.jobs import JobStore
from eessi_bot.adapters.sqlite.outbox import Outbox
from eessi_bot.commands import default_registry
from eessi_bot.core.config import Config
from eessi_bot.core.pacing import Pacer
from eessi_bot.events import default_router
from eessi_bot.jobs.build import BuildService
from eessi_bot.jobs.housekeeping import Housekeeping
from eessi_bot.jobs.manager import JobManager
from eessi_bot.jobs.service import JobService
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.github import GitHub
from eessi_bot.ports.scheduler import Scheduler
from eessi_bot.service.identity import Identity
from eessi_bot.service.metrics import Metrics
from eessi_bot.service.outbox_sender import OutboxSender
from eessi_bot.service.workers import DeliveryProcessor, WorkerPool

log = logging.getLogger(__name__)


class AlreadyRunning(RuntimeError):
    pass


class DataDirLock:
    """One process per data_dir and role: a second `serve` on the same state would double-post."""

    def __init__(self, data_dir: Path, role: str) -> None:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = data_dir / f"{role}.lock"
        self._file: Optional[IO[str]] = None

    def acquire(self) -> None:
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise AlreadyRunning(f"another eessi-bot process ({holder or 'pid unknown'}) uses {self.path.parent}; "
                                 "stop it first") from None
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def make_scheduler(config: Config, jobs: JobStore, clock: Clock) -> Scheduler:
    """The backend of `[buildenv] job_backend`."""
    if config.buildenv.job_backend == "local":
        return LocalScheduler(lambda: jobs.next_local_id(clock.now()))
    manager = config.job_manager
    return SlurmScheduler(config.buildenv.submit_command, manager.poll_command, manager.scontrol_command,
                          config.buildenv.job_name, scancel_command=manager.scancel_command,
                          sacct_command=manager.sacct_command)


class Runtime:
    """Inbox, outbox, workers and the outbox sender over one database."""

    def __init__(self, config: Config, github: GitHub, clock: Clock, db: Optional[Database] = None,
                 scheduler: Optional[Scheduler] = None) -> None:
        self.config = config
        self.clock = clock
        self.db = db or Database.in_dir(config.bot.data_dir)
        self.inbox = Inbox(self.db)
        self.outbox = Outbox(self.db)
        self.metrics = Metrics()
        self.identity = Identity(config.github.app_id, github, self.db)
        pacer = Pacer(((60.0, config.github.max_writes_per_minute), (3600.0, config.github.max_writes_per_hour)))
        self.sender = OutboxSender(self.outbox, github, self.identity, clock, pacer)
        self.jobs = JobStore(self.db)
        self.scheduler = scheduler or make_scheduler(config, self.jobs, clock)
        self.manager = JobManager(config, self.jobs, self.scheduler, clock, on_change=self.sender.wake,
                                  housekeeping=Housekeeping(config, self.inbox, self.jobs, clock))
        self.builder = BuildService(config, github, GitMirrors(config.bot.data_dir / "mirrors"), self.scheduler,
                                    self.jobs, clock, package_script("bot-build.slurm"))
        self.job_service = JobService(self.builder, self.jobs, self.scheduler, clock, manager_wake=self.manager.wake,
                                      cancel_on_close=config.clean_up.cancel_on_close)
        self.processor = DeliveryProcessor(self.inbox, default_router(), config, clock, default_registry(),
                                           self.job_service, on_effects=self.sender.wake.set)
        self.workers = WorkerPool(self.processor, self.inbox, clock, config.bot.workers)
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self.metrics.gauge("eessi_bot_inbox_deliveries", "Deliveries in the inbox by state",
                           lambda: {(("state", k),): float(v) for k, v in self.inbox.counts().items()})
        self.metrics.gauge("eessi_bot_outbox_writes", "GitHub writes in the outbox by state",
                           lambda: {(("state", k),): float(v) for k, v in self.outbox.counts().items()})
        self.metrics.gauge("eessi_bot_jobs_total", "Jobs in the database by state",
                           lambda: {(("state", k),): float(v) for k, v in self.jobs.counts().items()})

    def delivery_stored(self) -> None:
        self.workers.notify()

    def start(self, intake: bool = True, manager: bool = True) -> None:
        """Start the threads of the roles this process plays: intake (workers and the outbox sender,
        which sends every GitHub write, also the job manager's) and the job manager."""
        if intake:
            requeued = self.inbox.requeue_unfinished()
            if requeued:
                log.info("resuming %d deliveries that were in progress when the bot stopped", requeued)
            self.workers.start()
            self._thread("outbox", self.sender.run)
        if manager:
            self._thread("job-manager", self.manager.run)

    def _thread(self, name: str, target: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.sender.wake.set()
        self.manager.wake.set()
        self.workers.stop()
        for thread in self._threads:
            thread.join(10)

    def drain(self) -> None:
        """Run every ready delivery and send every due write, in this thread (replay, demo, tests)."""
        while self.workers.run_until_idle():
            pass
        self.sender.send_due()

    def manage(self) -> None:
        """One job manager cycle, then send what it wrote (demo, try, tests)."""
        self.manager.cycle()
        self.sender.send_due()
