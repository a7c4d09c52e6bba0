"""The job manager: follows every submitted job to its end and reports it, from the database.

Each cycle makes ONE query to the batch system for all tracked jobs of this instance (plus one
accounting query for jobs that left the queue), decides each job's next state with the pure rules of
`core.transitions`, and saves only what changed (a job's comment is edited once per state change,
never on idle polls). Between cycles the manager lists the one directory where jobs drop their end
marker (`jobs/end_markers.py`) once a second, whatever the number of jobs: a marker starts a cycle at
once, and the batch system stays the truth. Nothing here ever stops the manager: a batch system that
does not answer is asked again every second (one squeue), a broken job is logged with its id and
reported on its row.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Set, Tuple

from eessi_bot.core.config import Config
from eessi_bot.core.jobfiles import metadata_name, render_metadata
from eessi_bot.core.jobs import FOLLOWED, Job, JobState, JobStatus, Tracked
from eessi_bot.core.results import MAX_FILE_BYTES, parse_result, result_name, test_name
from eessi_bot.core.transitions import Outcome, Seen, advance, finish, settled_exit_code
from eessi_bot.jobs import paths
from eessi_bot.jobs.comments import JobComments
from eessi_bot.jobs.end_markers import EndMarkers, Wakes
from eessi_bot.jobs.files import clear, point, read_regular, read_text, write_new
from eessi_bot.jobs.housekeeping import Housekeeping
from eessi_bot.jobs.trash import Trash
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.scheduler import Scheduler, SchedulerUnavailable
from eessi_bot.ports.store import Store
from eessi_bot.ports.wakeup import Wakeup

log = logging.getLogger(__name__)

MARKER_CHECK = 1.0
"""Seconds between listings of the end-marker directory while waiting for the next poll."""
ENDING_RECHECK = 2.0
"""Seconds between cycles while a job has ended in the queue but not yet in accounting."""
OUTAGE_RETRY = 1.0
"""Seconds between attempts while the batch system does not answer (each is one squeue): its results
reach the PRs within about a second of its return."""
OUTAGE_REPEAT = 60.0
"""Seconds between the warnings that the batch system still does not answer."""


@dataclass
class CycleStats:
    tracked: int = 0
    changed: int = 0
    failed: int = 0
    seconds: float = 0.0
    reachable: Optional[bool] = None
    """Whether the batch system answered (None: there was no job to ask about)."""
    moved: List[Job] = field(default_factory=list)
    """Jobs whose state changed, as they are now (the metrics' queue and run times and ends)."""


def marker_name(job_id: str) -> str:
    return f"_bot_job{job_id}.done"


class JobManager:
    def __init__(self, config: Config, store: Store, scheduler: Scheduler, clock: Clock, jobs_changed: Wakeup,
                 writes_waiting: Wakeup, housekeeping: Optional[Housekeeping] = None) -> None:
        self.config = config
        self.store = store
        self.scheduler = scheduler
        self.clock = clock
        self.comments = JobComments(config, store)
        self.trash = Trash(config, store, clock)
        self.jobs_changed = jobs_changed
        """Commands submitted or cancelled jobs: look at them now rather than at the next poll."""
        self.writes_waiting = writes_waiting
        """Notified when a cycle stored GitHub writes (the outbox sender sends them)."""
        self.housekeeping = housekeeping
        base = config.buildenv.jobs_base_dir
        self.markers = EndMarkers(paths.ended_dir(base, config.github.app_name), base.absolute())
        self.wakes = Wakes()
        self._followed: Set[str] = set()
        self._ending = False
        self._listed_at = -math.inf
        self._tracked: Dict[str, Tuple[str, str, Tracked]] = {}
        self._idle: Dict[str, Tuple[Job, JobStatus, bool]] = {}
        """Job key -> (job, queue status, may it be released) of the last cycle that left it as it was."""
        self.on_cycle: Optional[Callable[[CycleStats], None]] = None
        """Told every cycle's figures (the status page and metrics)."""

    # -- one cycle -------------------------------------------------------------------------
    def cycle(self) -> CycleStats:
        """Look at every tracked job once. Raises SchedulerUnavailable when the queue cannot be read."""
        started = time.monotonic()
        stats = CycleStats()
        jobs = self.store.jobs.active(self.config.buildenv.job_backend)
        stats.tracked = len(jobs)
        try:
            after = self._follow(jobs, stats) if jobs else []
        except SchedulerUnavailable:
            self.wakes.cycled(started, self._followed, answered=False)
            self._report(stats, started, reachable=False)
            raise
        self._watch(after)
        self.wakes.cycled(started, self._followed, answered=True)
        self.markers.sweep(self._followed, time.time())  # file times are wall-clock times
        self._write_comment_ids()
        stats.changed += self.trash.sweep()
        if stats.changed:
            self.writes_waiting.notify()
        self._report(stats, started, reachable=True if jobs else None)
        return stats

    def _report(self, stats: CycleStats, started: float, reachable: Optional[bool]) -> None:
        stats.seconds, stats.reachable = time.monotonic() - started, reachable
        if self.on_cycle is not None:
            self.on_cycle(stats)

    def _follow(self, jobs: List[Job], stats: CycleStats) -> List[Job]:
        """Every job after one query of the queue (and one of accounting for those that need it)."""
        tracked = [self._tracked_job(job) for job in jobs]
        statuses = self.scheduler.poll(tracked)
        ended = [t for t in tracked if (s := statuses.get(t.job_id)) is None or s.terminal]
        markers = {t.job_id: self._marker(t) for t in ended}
        ends, answered = self._end_states(ended, statuses, markers)
        budget = self._release_budget(jobs)
        after: List[Job] = []
        for job in jobs:
            assert job.job_id is not None
            status = statuses.get(job.job_id)
            if self._idle_again(job, status, budget > 0):
                after.append(job)
                continue
            try:
                new, released = self._advance(job, Seen(status, ends.get(job.job_id), markers.get(job.job_id),
                                                        answered), may_release=budget > 0)
                self._note_idle(job, new, status, budget > 0)
            except Exception:
                stats.failed += 1
                log.exception("job %s (%s): cannot follow it this time", job.job_id, job.key,
                              extra={"job_id": job.job_id})
                new, released = job, False
            budget -= 1 if released else 0
            stats.changed += 1 if new is not job and new.rows != job.rows else 0
            if new.state is not job.state:
                stats.moved.append(new)
            after.append(new)
        return after

    def _idle_again(self, job: Job, status: Optional[JobStatus], may_release: bool) -> bool:
        """The job, unchanged since a cycle in which it stayed as it was, is queued or running as it was
        then: `advance` would leave it again (its rules look at the time only for ended jobs). Most
        cycles of thousands of held jobs are this."""
        idle = self._idle.get(job.key)
        return (idle is not None and idle[0] is job and idle[2] == may_release and status is not None
                and not status.terminal and (idle[1] is status or idle[1] == status))

    def _note_idle(self, job: Job, new: Job, status: Optional[JobStatus], may_release: bool) -> None:
        if new is job and status is not None and not status.terminal:
            self._idle[job.key] = (job, status, may_release)
        else:
            self._idle.pop(job.key, None)

    def _tracked_job(self, job: Job) -> Tracked:
        """`job.tracked()`, made once per job rather than once per job and cycle."""
        assert job.job_id is not None
        known = self._tracked.get(job.key)
        if known is None or known[0] != job.job_id or known[1] != job.job_dir:
            known = (job.job_id, job.job_dir, job.tracked())
            self._tracked[job.key] = known
        return known[2]

    def _end_states(self, ended: List[Tracked], statuses: Dict[str, JobStatus],
                    markers: Dict[str, Optional[str]]) -> Tuple[Dict[str, JobStatus], bool]:
        """Accounting for jobs that left the queue or ended with an exit code only it knows; False if it failed."""
        need = [t for t in ended if settled_exit_code(statuses.get(t.job_id), markers.get(t.job_id)) is None]
        if not need:
            return {}, True
        try:
            return self.scheduler.end_states(need), True
        except SchedulerUnavailable as exc:
            log.warning("accounting did not answer (%s); deciding without it this time", exc)
            return {}, False

    def _release_budget(self, jobs: List[Job]) -> int:
        """The local backend runs at most `local_max_jobs` at a time; Slurm decides for itself."""
        if self.config.buildenv.job_backend != "local":
            return len(jobs)
        busy = sum(1 for job in jobs if job.state in (JobState.RELEASED, JobState.RUNNING))
        return max(0, self.config.buildenv.local_max_jobs - busy)

    def _advance(self, job: Job, seen: Seen, may_release: bool) -> Tuple[Job, bool]:
        """The job after this cycle (saved with its comment when it changed), and whether it was released."""
        now = self.clock.now()
        step = advance(job, seen, self.config.templates, now, self.config.buildenv.delayed_begin, may_release)
        new = step.job
        if step.release:
            self.scheduler.release(job.tracked())
            log.info("job %s released", job.job_id, extra={"job_id": job.job_id})
        if step.needs_outcome:
            new = finish(new, seen, self._outcome(job), self.config.templates, now)
            self._link_finished(new)
            log.info("job %s finished: %s, result %s", job.job_id, new.end_state, new.result_status,
                     extra={"job_id": job.job_id})
        if new is not job and new != job:
            new = self.comments.save(new, now)
        return new, step.release

    @staticmethod
    def _marker(job: Tracked) -> Optional[str]:
        """The exit code in the job directory's end marker (the job script's), if there is one."""
        text = read_text(job.job_dir / marker_name(job.job_id))
        code = text.strip() if text is not None else ""
        return code if code.isascii() and code.isdigit() else None

    def _outcome(self, job: Job) -> Outcome:
        directory = Path(job.job_dir)
        return Outcome(result=parse_result(read_regular(directory / result_name(job.job_id or ""), MAX_FILE_BYTES),
                                           "RESULT"),
                       test=parse_result(read_regular(directory / test_name(job.job_id or ""), MAX_FILE_BYTES), "TEST"),
                       job_dir_exists=directory.is_dir())

    def _link_finished(self, job: Job) -> None:
        """`job_ids_dir/finished/<id>` for admins, as the EESSI bot kept them."""
        ids = self.config.job_manager.job_ids_dir
        try:
            clear(ids / "submitted" / str(job.job_id))
            point(ids / "finished" / str(job.job_id), Path(job.job_dir))
        except OSError as exc:
            log.warning("job %s: cannot update the links in %s: %s", job.job_id, ids, exc)

    def _write_comment_ids(self) -> None:
        """The metadata file names the job's comment once it exists (deploy tooling reads it)."""
        for job, comment_id in self.store.jobs.comment_ids():
            pin = self.store.jobs.pin(job.build_key)
            path = Path(job.job_dir) / metadata_name(job.job_id or "")
            if pin is None or not path.parent.is_dir():
                self.store.jobs.set_metadata_comment_id(job.key, comment_id)
                continue
            try:
                write_new(path, render_metadata(job.repo, job.pr_number, comment_id, pin.checkout).encode())
            except OSError as exc:
                log.warning("job %s: cannot write %s: %s", job.job_id, path, exc, extra={"job_id": job.job_id})
            self.store.jobs.set_metadata_comment_id(job.key, comment_id)

    # -- the loop --------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Cycle every `poll_interval` seconds (sooner when woken) until `stop` is set."""
        interval = float(self.config.job_manager.poll_interval)
        backoff = 1.0
        down: Optional[Tuple[float, float]] = None
        """While the batch system does not answer: since when, and when that was last said."""
        while not stop.is_set():
            try:
                if self.housekeeping is not None and self.housekeeping.due():
                    self.housekeeping.run()
                self.cycle()
                if down is not None:
                    log.info("the batch system answers again (after %.0f s)", time.monotonic() - down[0])
                down, backoff, wait = None, 1.0, interval
            except SchedulerUnavailable as exc:
                wait = min(interval, OUTAGE_RETRY)
                down = self._outage(exc, down)
            except Exception:
                wait = min(interval, backoff)
                backoff = min(interval, backoff * 2)
                log.exception("job manager cycle failed; trying again in %.0f s", wait)
            self._wait(stop, wait)

    @staticmethod
    def _outage(exc: SchedulerUnavailable, down: Optional[Tuple[float, float]]) -> Tuple[float, float]:
        """Say that the batch system does not answer: at once, then once every OUTAGE_REPEAT seconds."""
        now = time.monotonic()
        if down is None:
            log.warning("the batch system did not answer (%s); asking again every %.0f s", exc, OUTAGE_RETRY)
            return now, now
        if now - down[1] >= OUTAGE_REPEAT:
            log.warning("the batch system has not answered for %.0f s (%s); still asking", now - down[0], exc)
            return down[0], now
        return down

    def _watch(self, jobs: List[Job]) -> None:
        self._followed = {job.job_id for job in jobs if job.job_id and job.state in FOLLOWED}
        self._ending = any(job.ending_since is not None and job.state is not JobState.FINISHED for job in jobs)
        self._tracked = {key: known for key, known in self._tracked.items() if known[0] in self._followed}
        self._idle = {key: idle for key, idle in self._idle.items() if key in self._tracked}

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        """Until the next cycle: `seconds`, or sooner when a command changed jobs, a new end marker of a
        followed job is listed (the directory is listed once every MARKER_CHECK seconds), or a marker's
        job is due to be looked at again (`Wakes`)."""
        deadline = time.monotonic() + (min(seconds, ENDING_RECHECK) if self._ending else seconds)
        while not stop.is_set():
            now = time.monotonic()
            if now >= deadline or self.wakes.next_at() <= now:
                return
            if now >= self._listed_at + MARKER_CHECK:
                self._listed_at = now
                if self.wakes.listed(self.markers.names(), self._followed):
                    return
            until = min(deadline, self._listed_at + MARKER_CHECK, self.wakes.next_at())
            if self.jobs_changed.wait(max(0.0, until - now)):
                return
