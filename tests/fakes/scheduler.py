"""A recording fake of the `Scheduler` port, with a queue the test moves by hand.

Jobs are held after `submit` when the submission asks for it; the test makes them run (`start`) or
end (`end`, which takes them out of the queue and gives accounting their final state), or makes
the batch system unreachable (`unavailable`). Every call is recorded in `calls` as (verb, job id or
marker), so tests can count scheduler queries.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from eessi_bot.core.jobs import JobStatus, Tracked
from eessi_bot.ports.scheduler import SchedulerUnavailable, Submission, SubmitError

HELD = JobStatus("PENDING", reason="JobHeldUser", held=True)


class FakeScheduler:
    def __init__(self, first_id: int = 1000) -> None:
        self.calls: List[Tuple[str, str]] = []
        self.queue: Dict[str, JobStatus] = {}
        self.accounting: Dict[str, JobStatus] = {}
        self.submissions: Dict[str, Submission] = {}
        self.unavailable = False
        self.refuse: Optional[str] = None
        """sbatch's error message for the next submissions."""
        self.lose_answer = False
        """The next submit happens but its answer is lost (a timeout)."""
        self._next = first_id

    # -- the port --------------------------------------------------------------------------
    def submit(self, submission: Submission) -> str:
        self.calls.append(("submit", submission.marker))
        if self.refuse is not None:
            raise SubmitError(self.refuse)
        job_id = str(self._next)
        self._next += 1
        self.submissions[job_id] = submission
        self.queue[job_id] = HELD if submission.hold else JobStatus("PENDING", reason="BeginTime")
        if self.lose_answer:
            self.lose_answer = False
            raise SchedulerUnavailable("sbatch timed out")
        return job_id

    def find(self, submission: Submission) -> Optional[str]:
        self.calls.append(("find", submission.marker))
        for job_id, earlier in self.submissions.items():
            if earlier.marker == submission.marker and job_id in self.queue:
                return job_id
        return None

    def poll(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        self.calls.append(("poll", str(len(jobs))))
        self._check()
        return {job.job_id: self.queue[job.job_id] for job in jobs if job.job_id in self.queue}

    def end_states(self, jobs: Sequence[Tracked]) -> Dict[str, JobStatus]:
        self.calls.append(("end_states", str(len(jobs))))
        self._check()
        return {job.job_id: self.accounting[job.job_id] for job in jobs if job.job_id in self.accounting}

    def release(self, job: Tracked) -> None:
        self.calls.append(("release", job.job_id))
        self._check()
        if job.job_id in self.queue:
            self.queue[job.job_id] = JobStatus("PENDING", reason="Priority")

    def cancel(self, job: Tracked) -> None:
        self.calls.append(("cancel", job.job_id))
        self._check()
        if job.job_id in self.queue:
            self.end(job.job_id, "CANCELLED", "0:15")

    # -- what the test does to the queue -----------------------------------------------------
    def start(self, job_id: str) -> None:
        self.queue[job_id] = JobStatus("RUNNING")

    def end(self, job_id: str, state: str = "COMPLETED", exit_code: str = "0:0") -> None:
        self.queue.pop(job_id, None)
        self.accounting[job_id] = JobStatus(state, exit_code=exit_code)

    def vanish(self, job_id: str) -> None:
        self.queue.pop(job_id, None)
        self.accounting.pop(job_id, None)

    def count(self, verb: str) -> int:
        return sum(1 for name, _ in self.calls if name == verb)

    def _check(self) -> None:
        if self.unavailable:
            raise SchedulerUnavailable("slurmctld is not answering")
