"""A job's life from what the batch system says (pure rules), and result files as untrusted input."""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

import pytest

from eessi_bot.core.config.defaults import TEMPLATE_DEFAULTS
from eessi_bot.core.jobs import Job, JobState, JobStatus, Row
from eessi_bot.core.results import MAX_DESCRIPTION, MAX_FILE_BYTES, MAX_TEST_DESCRIPTION, parse_result
from eessi_bot.core.transitions import END_WAIT, MAX_MISSING_POLLS, Outcome, Seen, advance, finish
from tests.unit.long_results import balanced, check_build_description, result_file

NOW = 1_800_000_000.0
JOB = Job(key="d:0:n:r", build_key="d:0", repo="o/r", pr_number=1, node_type="cpu_zen2",
          repo_id="eessi.io-2023.06-software", software_subdir="x86_64/amd/zen2", accelerator=None,
          on_arch="amd-zen2", on_accelerator=None, job_dir="/jobs/x", backend="slurm", comment_key="job:d:0:n:r",
          state=JobState.SUBMITTED, job_id="42", rows=(Row("then", "submitted", "job id `42` awaits release"),))

HELD = JobStatus("PENDING", "JobHeldUser", held=True)
PENDING = JobStatus("PENDING", "Priority")
BEGIN = JobStatus("PENDING", "BeginTime", eligible_time="2027-01-15T08:00:00")
RUNNING = JobStatus("RUNNING")


def at(state: JobState) -> Job:
    return replace(JOB, state=state)


ADVANCE = [
    # (id, job state, what the queue says, delayed_begin, may_release, new state, new row status, release?)
    ("held-is-released", JobState.SUBMITTED, HELD, False, True, JobState.RELEASED, "released", True),
    ("held-waits-for-a-free-local-slot", JobState.SUBMITTED, HELD, False, False, JobState.SUBMITTED, None, False),
    ("released-by-hand", JobState.SUBMITTED, PENDING, False, True, JobState.RELEASED, "released", False),
    ("delayed-begin-received", JobState.SUBMITTED, BEGIN, True, True, JobState.RELEASED, "received", False),
    ("pending-after-release-is-quiet", JobState.RELEASED, PENDING, False, True, JobState.RELEASED, None, False),
    ("starts-running", JobState.RELEASED, RUNNING, False, True, JobState.RUNNING, "running", False),
    ("straight-to-running", JobState.SUBMITTED, RUNNING, True, True, JobState.RUNNING, "running", False),
    ("running-once", JobState.RUNNING, RUNNING, False, True, JobState.RUNNING, None, False),
    ("completing-is-running", JobState.RUNNING, JobStatus("COMPLETING"), False, True, JobState.RUNNING, None, False),
]


@pytest.mark.parametrize(("state", "status", "delayed", "may_release", "new_state", "row", "release"),
                         [a[1:] for a in ADVANCE], ids=[a[0] for a in ADVANCE])
def test_advance(state: JobState, status: JobStatus, delayed: bool, may_release: bool, new_state: JobState,
                 row: Optional[str], release: bool) -> None:
    job = at(state)
    step = advance(job, Seen(status), TEMPLATE_DEFAULTS, NOW, delayed, may_release)
    assert step.job.state is new_state
    assert step.release is release
    assert not step.needs_outcome
    added = step.job.rows[len(job.rows):]
    assert [r.status for r in added] == ([row] if row else [])


def test_row_texts_are_the_eessi_ones() -> None:
    released = advance(JOB, Seen(HELD), TEMPLATE_DEFAULTS, NOW, False).job
    assert released.rows[-1] == Row("Jan 15 08:00:00 UTC 2027", "released", "job awaits launch by Slurm scheduler")
    running = advance(released, Seen(RUNNING), TEMPLATE_DEFAULTS, NOW, False).job
    assert running.rows[-1].comment == "job `42` is running"
    received = advance(JOB, Seen(BEGIN), TEMPLATE_DEFAULTS, NOW, True).job
    assert received.rows[-1].comment == ("job awaits launch by Slurm scheduler (eligible to start from "
                                         "2027-01-15T08:00:00)")


@pytest.mark.parametrize("status,end,marker", [
    (JobStatus("COMPLETED", exit_code="0:0"), None, "0"),
    (None, JobStatus("FAILED", exit_code="3:0"), None),
    (JobStatus("TIMEOUT"), JobStatus("TIMEOUT", exit_code="0:0"), None),
    (JobStatus("CANCELLED"), JobStatus("CANCELLED", exit_code="0:0"), None),
], ids=["local-exit-known", "failed-from-sacct", "timeout", "cancelled-by-hand"])
def test_ended_jobs_need_their_outcome(status: Optional[JobStatus], end: Optional[JobStatus],
                                       marker: Optional[str]) -> None:
    step = advance(at(JobState.RUNNING), Seen(status, end, marker), TEMPLATE_DEFAULTS, NOW, False)
    assert step.needs_outcome


def test_accounting_is_waited_for() -> None:
    """squeue shows a job's end seconds before sacct has its exit code: wait for sacct a while, then
    report with what is known (the job script's marker), rather than a wrong exit code at once."""
    ended = Seen(JobStatus("CANCELLED"), None, "143")
    first = advance(at(JobState.RUNNING), ended, TEMPLATE_DEFAULTS, NOW, False)
    assert not first.needs_outcome and first.job.ending_since == NOW and first.job.rows == JOB.rows
    later = advance(first.job, ended, TEMPLATE_DEFAULTS, NOW + END_WAIT - 1, False)
    assert not later.needs_outcome and later.job.ending_since == NOW
    assert advance(later.job, ended, TEMPLATE_DEFAULTS, NOW + END_WAIT, False).needs_outcome
    known = Seen(JobStatus("CANCELLED"), JobStatus("CANCELLED", exit_code="0:0"), "143")
    done = advance(first.job, known, TEMPLATE_DEFAULTS, NOW + 2, False)
    assert done.needs_outcome
    row = finish(done.job, known, outcome(), TEMPLATE_DEFAULTS, NOW + 2).rows[-1]
    assert "exit code `0:0`" in row.comment, "accounting's exit code wins over the marker"


def test_an_empty_answer_is_not_the_end() -> None:
    """The EESSI bot declared every job finished when squeue once answered nothing."""
    job = at(JobState.RUNNING)
    for polls in range(1, MAX_MISSING_POLLS):
        step = advance(job, Seen(None), TEMPLATE_DEFAULTS, NOW, False)
        assert not step.needs_outcome and step.job.missing_polls == polls and step.job.rows == job.rows
        job = step.job
    assert advance(job, Seen(None), TEMPLATE_DEFAULTS, NOW, False).needs_outcome
    back = advance(replace(job, missing_polls=2), Seen(RUNNING), TEMPLATE_DEFAULTS, NOW, False)
    assert back.job.missing_polls == 0


GOOD = b"[RESULT]\ncomment_description = <details><summary>:grin: SUCCESS</summary></details>\nstatus = SUCCESS\n" \
       b"artefacts =\n    eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.gz\n    ../../etc/passwd\n"
TEST_OK = b"[TEST]\ncomment_description = :white_check_mark: tests passed\nstatus = SUCCESS\n"


def outcome(result: Optional[bytes] = GOOD, test: Optional[bytes] = TEST_OK, exists: bool = True) -> Outcome:
    return Outcome(parse_result(result, "RESULT"), parse_result(test, "TEST"), exists)


@pytest.mark.parametrize(("seen", "out", "expected", "result_status"), [
    (Seen(JobStatus("COMPLETED"), JobStatus("COMPLETED", exit_code="0:0")), outcome(),
     ["<details><summary>:grin: SUCCESS</summary></details>", ":white_check_mark: tests passed",
      "job ended `COMPLETED`, exit code `0:0`"], "SUCCESS"),
    (Seen(JobStatus("TIMEOUT"), None, "143"), outcome(result=None, test=None),
     [":shrug: UNKNOWN", "Job results file `_bot_job42.result` does not exist", "Job test file `_bot_job42.test`",
      "job ended `TIMEOUT`, exit code `143`"], "UNKNOWN"),
    (Seen(None, JobStatus("OUT_OF_MEMORY", exit_code="0:125")), outcome(result=b"\x00garbage[[[\n"),
     ["Job results file `_bot_job42.result` does not exist in job directory, or parsing it failed",
      "job ended `OUT_OF_MEMORY`, exit code `0:125`"], "UNKNOWN"),
    (Seen(None), outcome(result=None, test=None, exists=False),
     ["job directory `/jobs/x` no longer exists", "the batch system no longer knows this job"], "UNKNOWN"),
], ids=["success", "timeout-without-files", "garbage-result", "vanished"])
def test_finished_row(seen: Seen, out: Outcome, expected: list, result_status: str) -> None:
    job = finish(at(JobState.RUNNING), seen, out, TEMPLATE_DEFAULTS, NOW)
    assert job.state is JobState.FINISHED and job.result_status == result_status
    row = job.rows[-1]
    assert row.status == "finished"
    for text in expected:
        assert text in row.comment


def test_cancelled_by_is_named() -> None:
    job = replace(at(JobState.RUNNING), cancelled_by="maintainer")
    done = finish(job, Seen(JobStatus("CANCELLED")), outcome(), TEMPLATE_DEFAULTS, NOW)
    assert "job ended `CANCELLED`, cancelled by `maintainer`" in done.rows[-1].comment


@pytest.mark.parametrize(("data", "status", "description", "artefacts"), [
    # the refused path is kept for the deploy to report (it used to be dropped silently here)
    (GOOD, "SUCCESS", "<details><summary>:grin: SUCCESS</summary></details>",
     ("eessi-2023.06-software-linux-x86_64-amd-zen2-1700000000.tar.gz", "../../etc/passwd")),
    (b"[RESULT]\nstatus = failure\ncomment_description = multi\n  line\n", "FAILURE", "multi line", ()),
    (b"[RESULT]\nstatus = GREAT\ncomment_description = x\n", "UNKNOWN", "x", ()),
    (b"[RESULT]\nstatus = SUCCESS\n", "SUCCESS", None, ()),
    (b"[OTHER]\nstatus = SUCCESS\n", "UNKNOWN", None, ()),
    (b"not ini at all", "UNKNOWN", None, ()),
    (b"[RESULT]\ncomment_description = %(x)s 100%\n", "UNKNOWN", "%(x)s 100%", ()),
    (b"[RESULT]\ncomment_description = " + b"x" * (MAX_FILE_BYTES + 1), "UNKNOWN", None, ()),
    (None, "UNKNOWN", None, ()),
], ids=["eessi-example", "lowercase-and-continuation", "odd-status", "no-description", "wrong-section",
        "not-ini", "percent-signs", "too-big", "missing"])
def test_parse_result(data: Optional[bytes], status: str, description: Optional[str], artefacts: tuple) -> None:
    parsed = parse_result(data, "RESULT")
    assert (parsed.status, parsed.description, parsed.artefacts) == (status, description, artefacts)


def test_failing_accounting_does_not_make_jobs_vanish() -> None:
    job = replace(at(JobState.RUNNING), missing_polls=MAX_MISSING_POLLS - 1)
    step = advance(job, Seen(None, accounting_answered=False), TEMPLATE_DEFAULTS, NOW, False)
    assert not step.needs_outcome and step.job.missing_polls == MAX_MISSING_POLLS - 1


def _ended(result: bytes, test: bytes = TEST_OK) -> str:
    seen = Seen(None, JobStatus("COMPLETED", exit_code="0:0"))
    return finish(at(JobState.RUNNING), seen, outcome(result, test), TEMPLATE_DEFAULTS, NOW).rows[-1].comment


ENDED = "<br/>job ended `COMPLETED`, exit code `0:0`"
LONG = [
    # (id, result file, test file, what the row starts with, what it ends with, shortened)
    ("eessi-150-modules-shown-whole", result_file(check_build_description(150)), TEST_OK,
     check_build_description(150), "<br/>:white_check_mark: tests passed" + ENDED, False),
    ("cut-description-closed-before-the-rest", result_file(check_build_description(150)[:4000]), TEST_OK,
     "<details><summary>:grin: SUCCESS", "</code></pre></details></dd></dl></details><br/>:white_check_mark: tests"
     " passed" + ENDED, False),
    ("stray-end-tags-dropped", result_file("built</td></table> fine"), TEST_OK, "built fine<br/>", ENDED, False),
    ("beyond-the-budget-shortened", result_file(check_build_description(450)), TEST_OK,
     "<details><summary>:grin: SUCCESS", " …</code></pre></details></dd></dl></details> (shortened; result "
     "`SUCCESS`, the full text is in `_bot_job42.result`)<br/>:white_check_mark: tests passed" + ENDED, True),
    ("failure-says-failure", result_file(check_build_description(450, "FAILURE"), "FAILURE"), TEST_OK,
     "<details><summary>:cry: FAILURE", "(shortened; result `FAILURE`, the full text is in `_bot_job42.result`)"
     "<br/>:white_check_mark: tests passed" + ENDED, True),
    ("long-test-description", GOOD, result_file("<pre>" + "test ok " * 2_000 + "</pre>", section="TEST"),
     "<details><summary>:grin: SUCCESS</summary></details><br/><pre>test ok", " …</pre> (shortened; test result "
     "`SUCCESS`, the full text is in `_bot_job42.test`)" + ENDED, True),
]


@pytest.mark.parametrize(("result", "test", "start", "end", "shortened"), [c[1:] for c in LONG],
                         ids=[c[0] for c in LONG])
def test_long_or_broken_descriptions(result: bytes, test: bytes, start: str, end: str, shortened: bool) -> None:
    """The test result and how the job ended follow the description, outside all of its elements, and
    a shortened description says so, with its status and the file that has all of it."""
    row = _ended(result, test)
    assert row.startswith(start) and row.endswith(end)
    assert balanced(row)
    assert ("(shortened;" in row) is shortened
    assert len(row) <= MAX_DESCRIPTION + MAX_TEST_DESCRIPTION + len(ENDED)
