"""How a tracked job moves on, decided from what the batch system says: pure, no I/O.

The rows it adds are the EESSI bot's (reference §6.3), with the status column holding one of its
words and the result, test result, end state and exit code in the comment cell of the finished row.
Each description in that row is balanced and shortened on its own, so the test result and the end
state after it are never hidden inside, or cut with, a long or broken description.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Optional

from eessi_bot.core.config.defaults import template_for
from eessi_bot.core.html_text import balance_html, shorten_html
from eessi_bot.core.job_comment import comment_date
from eessi_bot.core.jobs import Job, JobState, JobStatus, Row
from eessi_bot.core.markdown import code
from eessi_bot.core.results import MAX_DESCRIPTION, MAX_TEST_DESCRIPTION, Result, result_name, test_name

RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SUSPENDED"})
MAX_MISSING_POLLS = 5
"""Polls in a row in which neither squeue nor sacct knows a job before it is given up as vanished."""
AWAITS_LAUNCH = "new_job_comments.awaits_launch"
"""The released (or received) row: its default names the job's backend (`template_for`)."""
END_WAIT = 30.0
"""Seconds to wait, after the queue shows a job ended, for accounting's final state and exit code
(sacct lags squeue by a few seconds); after that the job is reported with what is known."""


@dataclass(frozen=True)
class Seen:
    """What one manager cycle learnt about a job."""

    status: Optional[JobStatus]
    """From the queue (squeue, or the local job's files); None when the job is not there."""
    end: Optional[JobStatus] = None
    """From accounting (sacct), asked only for jobs that left the queue or ended."""
    marker_exit: Optional[str] = None
    """Exit code the job script wrote into its end marker, if the marker exists."""
    accounting_answered: bool = True
    """False when accounting was asked and failed: a job missing from the queue is then not counted
    as missing (it may well be known to accounting)."""


@dataclass(frozen=True)
class Outcome:
    """What `finish` needs from the job directory (read by the manager)."""

    result: Result
    test: Result
    job_dir_exists: bool = True


@dataclass(frozen=True)
class Step:
    job: Job
    release: bool = False
    needs_outcome: bool = False
    """The job ended: the manager reads its result files and calls `finish`."""


def advance(job: Job, seen: Seen, templates: Mapping[str, str], now: float, delayed_begin: bool,
            may_release: bool = True) -> Step:
    """The next state of an active job (SUBMITTED, RELEASED or RUNNING)."""
    status = seen.status
    if seen.end is not None and seen.end.terminal:
        return Step(job, needs_outcome=True)
    if status is not None and status.terminal:
        if settled_exit_code(status, seen.marker_exit):
            return Step(job, needs_outcome=True)
        since = job.ending_since if job.ending_since is not None else now
        if now - since >= END_WAIT:
            return Step(job, needs_outcome=True)
        return Step(job if job.ending_since is not None else replace(job, ending_since=since))
    if status is None:
        if not seen.accounting_answered:
            return Step(job)
        missing = job.missing_polls + 1
        if missing >= MAX_MISSING_POLLS:
            return Step(replace(job, missing_polls=missing), needs_outcome=True)
        return Step(replace(job, missing_polls=missing))
    job = replace(job, missing_polls=0) if job.missing_polls else job
    if status.state in RUNNING_STATES:
        if job.state is JobState.RUNNING:
            return Step(job)
        text = templates["running_job_comments.running_job"].format(job_id=job.job_id)
        return Step(replace(job, state=JobState.RUNNING).with_row(Row(comment_date(now), "running", text)))
    if job.state is not JobState.SUBMITTED:
        return Step(job)
    if delayed_begin:
        extra = f" (eligible to start from {status.eligible_time})" if status.eligible_time else ""
        text = template_for(templates, AWAITS_LAUNCH, job.backend).format(extra_info=extra)
        return Step(replace(job, state=JobState.RELEASED).with_row(Row(comment_date(now), "received", text)))
    if status.held and not may_release:
        return Step(job)
    text = template_for(templates, AWAITS_LAUNCH, job.backend).format(extra_info="")
    released = replace(job, state=JobState.RELEASED).with_row(Row(comment_date(now), "released", text))
    return Step(released, release=status.held)


def settled_exit_code(status: Optional[JobStatus], marker_exit: Optional[str]) -> Optional[str]:
    """The exit code of a job the queue shows ended, when accounting needs not be waited for: the queue's
    own (the local backend's), `0:0` for COMPLETED (Slurm's word for a job that exited 0) and `N:0` for
    FAILED when the job script's end marker says it exited N (1-255: a batch script that exits N is
    `N:0` in sacct). Other ends (CANCELLED, TIMEOUT, OUT_OF_MEMORY, ...) have the exit code only
    accounting knows: None, wait for it."""
    if status is None or not status.terminal:
        return None
    if status.exit_code:
        return status.exit_code
    if status.state == "COMPLETED":
        return "0:0"
    code = marker_exit or ""
    if status.state == "FAILED" and code.isascii() and code.isdigit() and 0 < int(code) < 256:
        return f"{int(code)}:0"
    return None


def end_state(seen: Seen) -> Optional[str]:
    for status in (seen.end, seen.status):
        if status is not None and status.terminal:
            return status.state
    return None


def shortened_note(what: str, status: Optional[str], filename: str) -> str:
    """Said after a shortened description: its status, which the cut text may have lost, and where
    the whole text is."""
    return f" (shortened; {what} {code(status or 'UNKNOWN')}, the full text is in {code(filename)})"


def shown_description(result: Result, budget: int, what: str, filename: str) -> Optional[str]:
    """A result file's description as the finished row shows it: balanced, so that what follows it
    stays outside its elements, and shortened to `budget`."""
    text = result.description
    if text is None:
        return None
    whole = balance_html(text) if len(text) <= budget else text
    return shorten_html(whole, budget, shortened_note(what, result.status, filename))


def finish(job: Job, seen: Seen, outcome: Outcome, templates: Mapping[str, str], now: float) -> Job:
    """The finished row: result, test result, how the job ended."""
    state = end_state(seen)
    accounted = seen.end.exit_code if seen.end is not None else None
    exit_code = accounted or settled_exit_code(seen.status, seen.marker_exit) or seen.marker_exit
    result_file = result_name(job.job_id or "")
    test_file = test_name(job.job_id or "")
    parts = []
    if not outcome.job_dir_exists:
        parts.append(f"job directory {code(job.job_dir)} no longer exists")
    parts.append(shown_description(outcome.result, MAX_DESCRIPTION, "result", result_file)
                 or templates["finished_job_comments.job_result_unknown_fmt"].format(filename=result_file))
    parts.append(shown_description(outcome.test, MAX_TEST_DESCRIPTION, "test result", test_file)
                 or templates["finished_job_comments.job_test_unknown_fmt"].format(filename=test_file))
    if state is None:
        parts.append("the batch system no longer knows this job; how it ended is unknown")
    else:
        ended = f"job ended {code(state)}" + (f", exit code {code(exit_code)}" if exit_code else "")
        if job.cancelled_by and state == "CANCELLED":
            ended += f", cancelled by {code(job.cancelled_by)}"
        parts.append(ended)
    row = Row(comment_date(now), "finished", "<br/>".join(parts))
    return replace(job, state=JobState.FINISHED, end_state=state or "UNKNOWN", exit_code=exit_code,
                   result_status=outcome.result.status, test_status=outcome.test.status,
                   artefacts=outcome.result.artefacts).with_row(row)
