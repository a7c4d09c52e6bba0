"""The composition root: builds the bot's parts from a Config and the adapters chosen by the CLI."""

from __future__ import annotations

import fcntl
import getpass
import logging
import os
import socket
import sqlite3
import threading
from pathlib import Path
from typing import IO, Callable, List, Mapping, Optional, cast

from eessi_bot.adapters.git_mirror import GitMirrors
from eessi_bot.adapters.local_jobs import LocalScheduler, package_script
from eessi_bot.adapters.process import ProcessRunner
from eessi_bot.adapters.s3 import S3ObjectStore
from eessi_bot.adapters.slurm import SlurmScheduler
from eessi_bot.adapters.sqlite.db import DB_NAME
from eessi_bot.adapters.sqlite.store import SqliteStore
from eessi_bot.adapters.ssh_signer import SshSigner
from eessi_bot.cli.errors import CliError
from eessi_bot.commands import default_registry
from eessi_bot.core.config import Config
from eessi_bot.core.deploy.metadata import Uploader
from eessi_bot.core.pacing import Pacer
from eessi_bot.deploy.deployer import Deployer
from eessi_bot.deploy.script_transfer import ScriptTransfer
from eessi_bot.deploy.service import DeployService
from eessi_bot.deploy.transfer import ArtefactTransfer, Transfer
from eessi_bot.events import default_router
from eessi_bot.jobs.adopt import Adopter
from eessi_bot.jobs.build import BuildService
from eessi_bot.jobs.check_runs import CheckRunSwitch
from eessi_bot.jobs.housekeeping import Housekeeping
from eessi_bot.jobs.manager import JobManager
from eessi_bot.jobs.service import JobService
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.github import DeliveriesLog, GitHub
from eessi_bot.ports.object_store import ObjectInfo, ObjectStore
from eessi_bot.ports.scheduler import Scheduler
from eessi_bot.ports.store import JobStore
from eessi_bot.ports.wakeup import Wakeup
from eessi_bot.service.deliveries import DeliveryIntake
from eessi_bot.service.disk import DiskUsage
from eessi_bot.service.health import Health, Site
from eessi_bot.service.identity import Identity
from eessi_bot.service.instruments import ObservedGitHub, ObservedObjectStore, ObservedScheduler, TimedProcessor
from eessi_bot.service.metrics import Metrics
from eessi_bot.service.outbox_sender import OutboxSender
from eessi_bot.service.workers import WorkerPool

log = logging.getLogger(__name__)


def open_store(data_dir: Path) -> SqliteStore:
    """The bot's database in `data_dir`, made or migrated; CliError when the file there is not one this
    version can use (another program's file, a newer eessi-bot's schema)."""
    try:
        return SqliteStore.in_dir(data_dir)
    except (sqlite3.DatabaseError, RuntimeError) as exc:
        raise CliError(f"cannot use the database {data_dir / DB_NAME}: {exc} (is [bot] data_dir this bot's "
                       "directory?)") from exc


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


class LazyObjectStore:
    """The S3 client, made on first use: most processes never deploy, and making it costs time."""

    def __init__(self, endpoint_url: Optional[str]) -> None:
        self.endpoint_url = endpoint_url
        self._store: Optional[S3ObjectStore] = None

    def _get(self) -> S3ObjectStore:
        if self._store is None:
            self._store = S3ObjectStore(self.endpoint_url)
        return self._store

    def put_file(self, bucket: str, key: str, path: Path, sha256: str,
                 metadata: Optional[Mapping[str, str]] = None) -> None:
        self._get().put_file(bucket, key, path, sha256, metadata)

    def put_bytes(self, bucket: str, key: str, data: bytes, sha256: str) -> None:
        self._get().put_bytes(bucket, key, data, sha256)

    def head(self, bucket: str, key: str) -> Optional[ObjectInfo]:
        return self._get().head(bucket, key)


def uploader_facts() -> Uploader:
    """Who uploads (the EESSI metadata's `uploader`): this host's own name and address, never an
    answer from a web service (the EESSI upload script asked one for the IP)."""
    hostname = socket.getfqdn()
    try:
        ip = socket.gethostbyname(socket.gethostname())
    except OSError:
        ip = "unknown"
    return Uploader(username=getpass.getuser(), ip=ip, hostname=hostname)


def make_metrics(config: Config, clock: Clock) -> Metrics:
    """The metrics, health and disk use of one runtime (what the status page shows of the configuration)."""
    site = Site(instance=config.instance, intake=str(getattr(config.github, "intake", "webhook")),
                backend=config.buildenv.job_backend, jobs_dir=config.buildenv.jobs_base_dir,
                trash_dir=config.clean_up.trash_bin_dir, status_token=config.bot.status_token)
    return Metrics(Health(site, started_at=clock.now()),
                   DiskUsage({"jobs tree": site.jobs_dir, "trash": site.trash_dir}, clock=clock.now))


class Runtime:
    """Inbox, outbox, workers, the outbox sender and the job manager over one store.

    Who wakes whom: the webhook endpoint → workers (`deliveries_waiting`); workers and the job
    manager → outbox sender (`writes_waiting`); commands (build, cancel, PR close) → job manager
    (`jobs_changed`); the `bot:deploy` label → deployer (`uploads_waiting`).
    """

    def __init__(self, config: Config, github: GitHub, clock: Clock, store: Optional[SqliteStore] = None,
                 scheduler: Optional[Scheduler] = None, objects: Optional[ObjectStore] = None,
                 deliveries: Optional[DeliveriesLog] = None) -> None:
        """`deliveries`: the App's log of webhook deliveries, read by the intake role for `[github] intake =
        poll|both` and to recover failed deliveries (None: neither, as replay, demo and try want)."""
        self.config = config
        self.clock = clock
        self.store = store or open_store(config.bot.data_dir)
        self.db = self.store.db
        self.inbox = self.store.inbox
        self.outbox = self.store.outbox
        self.jobs = self.store.jobs
        self.deliveries_waiting = Wakeup()
        self.writes_waiting = Wakeup()
        self.jobs_changed = Wakeup()
        self.uploads_waiting = Wakeup()
        self.metrics = make_metrics(config, clock)
        github = cast(GitHub, ObservedGitHub(github, self.metrics, clock))
        self.identity = Identity(config.github.app_id, github, self.store)
        pacer = Pacer(((60.0, config.github.max_writes_per_minute), (3600.0, config.github.max_writes_per_hour)))
        self.check_runs = CheckRunSwitch(config.github, self.store)
        self.sender = OutboxSender(self.outbox, github, self.identity, clock, self.writes_waiting, pacer,
                                   self.check_runs)
        self.scheduler = scheduler or make_scheduler(config, self.jobs, clock)
        observed = ObservedScheduler(self.scheduler, self.metrics, clock)
        self.manager = JobManager(config, self.store, observed, clock, self.jobs_changed, self.writes_waiting,
                                  housekeeping=Housekeeping(config, self.store, clock))
        self.adopter = Adopter(config, self.store, github, clock)
        self.builder = BuildService(config, github, GitMirrors(config.bot.data_dir / "mirrors"), self.scheduler,
                                    self.store, clock, package_script("bot-build.slurm"))
        self.job_service = JobService(self.builder, self.store, self.scheduler, clock, self.jobs_changed,
                                      cancel_on_close=config.clean_up.cancel_on_close)
        self.deploys = DeployService(self.store, clock, self.uploads_waiting)
        transfer: ArtefactTransfer = (
            ScriptTransfer(config, ProcessRunner(), os.environ) if config.deploy.upload_method == "script"
            else Transfer(config, ObservedObjectStore(objects or LazyObjectStore(config.deploy.endpoint_url or None),
                                                      self.metrics), SshSigner(),
                          uploader_facts()))
        self.deployer = Deployer(config, self.store, transfer, clock, self.uploads_waiting, self.writes_waiting)
        self.processor = TimedProcessor(self.metrics, self.store, default_router(), config, clock, default_registry(),
                                           self.job_service, self.deploys, self.writes_waiting,
                                           late_since=self.inbox.late_since)
        self.workers = WorkerPool(self.processor, clock, config.bot.workers, self.deliveries_waiting)
        self.delivery_intake = (None if deliveries is None else DeliveryIntake(
            config.github, deliveries, self.inbox, self.store, clock, self.deliveries_waiting))
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self.metrics.watch(self.store, clock)
        self.manager.on_cycle = lambda stats: self.metrics.manager_cycle(stats, clock.now())

    def start(self, intake: bool = True, manager: bool = True) -> None:
        """Start the threads of the roles this process plays: intake (workers and the outbox sender,
        which sends every GitHub write, also the job manager's) and the job manager (with the
        deployer, whose uploads may take long and never delay a webhook)."""
        roles = (("intake", intake), ("job manager", manager))
        self.metrics.health.started(", ".join(role for role, on in roles if on))
        if intake:
            requeued = self.inbox.requeue_unfinished()
            if requeued:
                log.info("resuming %d deliveries that were in progress when the bot stopped", requeued)
            self.workers.start()
            self._thread("outbox", self.sender.run)
            self._start_delivery_intake()
        if manager:
            self._adopt()
            self._thread("job-manager", self.manager.run)
            self._thread("deployer", self.deployer.run)

    def _start_delivery_intake(self) -> None:
        """The thread that reads GitHub's log of deliveries (poll intake, recovery), when there is one."""
        settings = self.config.github
        if self.delivery_intake is None:
            return
        recovery = (f"deliveries GitHub could not deliver in the last {settings.recover_deliveries_hours} h are "
                    "recovered" if settings.recover_deliveries_hours else "recovery of failed deliveries is off")
        how = {"webhook": "webhooks", "poll": f"GitHub's log of deliveries every {settings.poll_interval_deliveries} "
               "s (the port serves /healthz and /metrics; webhooks that reach it are still taken, verified)",
               "both": f"webhooks and GitHub's log of deliveries every {settings.poll_interval_deliveries} s"}
        log.info("intake: %s; %s", how[settings.intake], recovery)
        if self.delivery_intake.active:
            self._thread("deliveries", self.delivery_intake.run)

    def _adopt(self) -> None:
        """Jobs an EESSI bot left are followed from now on (a site switching keeps its jobs in flight)."""
        try:
            report = self.adopter.adopt()
        except Exception:
            log.exception("adopting the EESSI bot's jobs failed; the bot goes on without them")
            return
        if report.adopted or report.skipped:
            log.info("adopted %d jobs of the EESSI bot; %d not adoptable: %s", len(report.adopted),
                     len(report.skipped), "; ".join(f"{i}: {why}" for i, why in report.skipped)[:1000])
        self.jobs_changed.notify()

    def _thread(self, name: str, target: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.writes_waiting.notify()
        self.jobs_changed.notify()
        self.uploads_waiting.notify()
        self.workers.stop()
        for thread in self._threads:
            thread.join(10)

    def drain(self) -> None:
        """Run every ready delivery and send every due write, in this thread (replay, demo, tests)."""
        while self.workers.run_until_idle():
            pass
        self.sender.send_due()

    def manage(self) -> None:
        """One job manager cycle and one deployer round, then send what they wrote (demo, try, tests)."""
        self.manager.cycle()
        self.deployer.cycle()
        self.sender.send_due()
