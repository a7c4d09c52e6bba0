"""The job manager: follows every submitted job to its end and reports it, from the database.

Each cycle makes ONE query to the batch system for all tracked jobs of this instance (plus one
accounting query for jobs that left the queue), decides each job's next state with the pure rules of
`core.transitions`, and saves only what changed (a job's comment is edited once per state change,
never on idle polls). The end marker a job script writes wakes the manager early; the batch system
stays the truth. Nothing here ever stops the manager: a failing scheduler is retried with backoff, a
broken job is logged with its id and reported on its row.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from eessi_bot.core.config import Config
from eessi_bot.core.jobfiles import metadata_name, render_metadata
from eessi_bot.core.jobs import FOLLOWED, Job, JobState, JobStatus, Tracked
from eessi_bot.core.results import MAX_FILE_BYTES, parse_result, result_name, test_name
from eessi_bot.core.transitions import Outcome, Seen, advance, finish
from eessi_bot.jobs.comments import JobComments
from eessi_bot.jobs.files import clear, point, read_regular, read_text, write_new
from eessi_bot.jobs.housekeeping import Housekeeping
from eessi_bot.jobs.trash import Trash
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.scheduler import Scheduler, SchedulerUnavailable
from eessi_bot.ports.store import Store
from eessi_bot.ports.wakeup import Wakeup

log = logging.getLogger(__name__)

MARKER_CHECK = 1.0
"""Seconds between looks for end markers of running jobs while waiting for the next poll."""
MARKER_WAKES = 10
ENDING_RECHECK = 2.0
"""Seconds between cycles while a job has ended in the queue but not yet in accounting."""


@dataclass
class CycleStats:
    tracked: int = 0
    changed: int = 0
    failed: int = 0


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
        self._watched: Dict[str, Path] = {}
        self._ending = False
        self._marker_wakes: Dict[str, int] = {}

    # -- one cycle -------------------------------------------------------------------------
    def cycle(self) -> CycleStats:
        """Look at every tracked job once. Raises SchedulerUnavailable when the queue cannot be read."""
        stats = CycleStats()
        jobs = self.store.jobs.active(self.config.buildenv.job_backend)
        stats.tracked = len(jobs)
        if jobs:
            tracked = [job.tracked() for job in jobs]
            statuses = self.scheduler.poll(tracked)
            ends, answered = self._end_states(tracked, statuses)
            budget = self._release_budget(jobs)
            after: List[Job] = []
            for job in jobs:
                assert job.job_id is not None
                try:
                    new, released = self._advance(job, statuses.get(job.job_id), ends.get(job.job_id),
                                                  may_release=budget > 0, accounting_answered=answered)
                except Exception:
                    stats.failed += 1
                    log.exception("job %s (%s): cannot follow it this time", job.job_id, job.key,
                                  extra={"job_id": job.job_id})
                    new, released = job, False
                budget -= 1 if released else 0
                stats.changed += 1 if new.rows != job.rows else 0
                after.append(new)
            self._watch(after)
        self._write_comment_ids()
        stats.changed += self.trash.sweep()
        if stats.changed:
            self.writes_waiting.notify()
        return stats

    def _end_states(self, tracked: List[Tracked],
                    statuses: Dict[str, JobStatus]) -> Tuple[Dict[str, JobStatus], bool]:
        """Accounting for jobs that left the queue or ended without an exit code; False if it failed."""
        need = [t for t in tracked if (s := statuses.get(t.job_id)) is None or (s.terminal and not s.exit_code)]
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

    def _advance(self, job: Job, status: Optional[JobStatus], end: Optional[JobStatus], may_release: bool,
                 accounting_answered: bool) -> Tuple[Job, bool]:
        """The job after this cycle (saved with its comment when it changed), and whether it was released."""
        now = self.clock.now()
        marker = self._marker(job) if status is None or status.terminal or (end and end.terminal) else None
        seen = Seen(status, end, marker, accounting_answered)
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
        if new != job:
            new = self.comments.save(new, now)
        return new, step.release

    def _marker(self, job: Job) -> Optional[str]:
        text = read_text(Path(job.job_dir) / marker_name(job.job_id or ""))
        return text.strip() if text is not None and text.strip().isdigit() else None

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
        while not stop.is_set():
            try:
                if self.housekeeping is not None and self.housekeeping.due():
                    self.housekeeping.run()
                self.cycle()
                backoff = 1.0
                wait = interval
            except SchedulerUnavailable as exc:
                wait = min(interval, backoff)
                backoff = min(interval, backoff * 2)
                log.warning("the batch system did not answer (%s); trying again in %.0f s", exc, wait)
            except Exception:
                wait = min(interval, backoff)
                backoff = min(interval, backoff * 2)
                log.exception("job manager cycle failed; trying again in %.0f s", wait)
            self._wait(stop, wait)

    def _watch(self, jobs: List[Job]) -> None:
        self._watched = {job.job_id: Path(job.job_dir) for job in jobs
                         if job.job_id and job.state in FOLLOWED and job.state is not JobState.SUBMITTED}
        self._ending = any(job.ending_since is not None and job.state is not JobState.FINISHED for job in jobs)
        self._marker_wakes = {k: v for k, v in self._marker_wakes.items() if k in self._watched}

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        deadline = self.clock.now() + (min(seconds, ENDING_RECHECK) if self._ending else seconds)
        while not stop.is_set():
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                return
            if self.jobs_changed.wait(min(MARKER_CHECK, remaining)):
                return
            if self._new_marker():
                return

    def _new_marker(self) -> bool:
        """A running job wrote its end marker: look at it now rather than at the next poll.

        The batch system may still show the job as ending for a moment, so a marker wakes the
        manager every MARKER_CHECK seconds, up to MARKER_WAKES times, until the job is reported.
        """
        for job_id, directory in self._watched.items():
            wakes = self._marker_wakes.get(job_id, 0)
            if wakes < MARKER_WAKES and (directory / marker_name(job_id)).exists():
                self._marker_wakes[job_id] = wakes + 1
                return True
        return False

