"""A job as a check run (pure), and the `check_run` events: Re-run and Cancel with and without permission."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from openapi_schema_validator import OAS30Validator

from eessi_bot.adapters.config_files import load_config
from eessi_bot.commands import default_registry
from eessi_bot.core.check_runs import (
    MAX_TEXT,
    SUSPENDED_FOR,
    CheckRun,
    Suspension,
    check_run,
    check_run_name,
    conclusion,
    lacks_permission,
)
from eessi_bot.core.effects import CommentEffect
from eessi_bot.core.job_comment import table
from eessi_bot.core.jobs import Job, JobState, JobView, Row
from eessi_bot.core.webhook import Delivery
from eessi_bot.events import default_router
from eessi_bot.events.context import EventContext
from eessi_bot.ports.jobs import Request
from tests.fakes.check_runs import check_run_payload
from tests.fakes.deploys import FakeDeploys
from tests.fakes.fixtures import openapi_spec_path
from tests.fakes.jobs import Call, FakeJobs, make_job
from tests.fakes.openapi import load_spec
from tests.fakes.site import write_site
from tests.fakes.webhooks import encode

REPO = "EESSI/software-layer"
SHA = "c" * 40
SUBMITTED = Row("Mar 05 10:00:00 UTC 2025", "submitted", "job id `77` awaits release by job manager")
RELEASED = Row("Mar 05 10:00:02 UTC 2025", "released", "job awaits launch by Slurm scheduler")
RUNNING = Row("Mar 05 10:01:00 UTC 2025", "running", "job `77` is running")
FINISHED = Row("Mar 05 11:00:00 UTC 2025", "finished", ":grin: SUCCESS<br/>job ended `COMPLETED`")
UPLOADED = Row("Mar 05 11:05:00 UTC 2025", "uploaded", "`x.tar.gz` uploaded")


def job(state: JobState = JobState.SUBMITTED, rows: Tuple[Row, ...] = (SUBMITTED,), **changes: Any) -> Job:
    made = make_job("cpu_zen2", "eessi.io-2023.06-software", "77", state=state, rows=rows, repo=REPO)
    return replace(made, symlink="/jobs/2025.03/EESSI/software-layer/pr_42/77", **changes)


# --- the mapping ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("state", "rows", "status", "title", "actions"), [
    (JobState.SUBMITTED, (SUBMITTED,), "queued", "job 77: submitted", ["cancel"]),
    (JobState.RELEASED, (SUBMITTED, RELEASED), "queued", "job 77: released", ["cancel"]),
    (JobState.RUNNING, (SUBMITTED, RELEASED, RUNNING), "in_progress", "job 77: running", ["cancel"]),
    (JobState.FINISHED, (SUBMITTED, RELEASED, RUNNING, FINISHED), "completed", "job 77: SUCCESS", []),
], ids=["submitted", "released", "running", "finished"])
def test_state_to_check_run(state: JobState, rows: Tuple[Row, ...], status: str, title: str,
                            actions: List[str]) -> None:
    finished = {"result_status": "SUCCESS", "end_state": "COMPLETED"} if state is JobState.FINISHED else {}
    run = check_run("mybot", job(state, rows, **finished), SHA, "job:k")
    assert run is not None
    assert (run.status, run.title, [a.identifier for a in run.actions]) == (status, title, actions)
    assert run.conclusion == ("success" if state is JobState.FINISHED else None)
    assert run.summary == (f"{table((rows[-1],))}\n\nJob `77` on node type `cpu_zen2`; job dir: "
                           "`/jobs/2025.03/EESSI/software-layer/pr_42/77`")
    assert (run.external_id, run.head_sha, run.details_key) == (job().key, SHA, "job:k")


@pytest.mark.parametrize(("state", "job_id", "head_sha"), [
    (JobState.PREPARING, None, SHA),
    (JobState.SUBMIT_FAILED, None, SHA),
    (JobState.SUBMITTED, "77", ""),
], ids=["preparing", "submit-failed", "no-head-sha"])
def test_no_check_run(state: JobState, job_id: Optional[str], head_sha: str) -> None:
    assert check_run("mybot", job(state, (), job_id=job_id), head_sha) is None


@pytest.mark.parametrize(("end_state", "result", "test", "expected"), [
    ("COMPLETED", "SUCCESS", "SUCCESS", "success"),
    ("COMPLETED", "SUCCESS", None, "success"),
    ("COMPLETED", "SUCCESS", "FAILURE", "failure"),
    ("COMPLETED", "FAILURE", "SUCCESS", "failure"),
    ("FAILED", "SUCCESS", "SUCCESS", "failure"),
    ("TIMEOUT", "SUCCESS", None, "timed_out"),
    ("DEADLINE", None, None, "timed_out"),
    ("CANCELLED", None, None, "cancelled"),
    ("CANCELLED by 1000", "SUCCESS", None, "cancelled"),
    ("OUT_OF_MEMORY", "FAILURE", None, "failure"),
    ("NODE_FAIL", None, None, "failure"),
    ("UNKNOWN", None, None, "failure"),
    (None, "SUCCESS", None, "failure"),
], ids=["success", "success-no-test", "test-failed", "result-failed", "job-failed", "timeout", "deadline",
        "cancelled", "cancelled-by", "oom", "node-fail", "vanished", "no-end-state"])
def test_conclusion_from_the_real_end(end_state: Optional[str], result: Optional[str], test: Optional[str],
                                      expected: str) -> None:
    finished = job(JobState.FINISHED, (FINISHED,), end_state=end_state, result_status=result, test_status=test)
    assert conclusion(finished) == expected


@pytest.mark.parametrize(("changes", "title"), [
    ({"end_state": "CANCELLED", "cancelled_by": "alice"}, "job 77: cancelled by alice"),
    ({"end_state": "CANCELLED"}, "job 77: cancelled"),
    ({"end_state": "TIMEOUT", "result_status": "FAILURE"}, "job 77: stopped at its time limit (TIMEOUT)"),
    ({"end_state": "FAILED", "result_status": "FAILURE"}, "job 77: FAILURE, ended FAILED"),
    ({"end_state": "UNKNOWN"}, "job 77: UNKNOWN, ended UNKNOWN"),
], ids=["cancelled-by", "cancelled", "timeout", "failed", "vanished"])
def test_finished_titles(changes: Dict[str, Any], title: str) -> None:
    run = check_run("mybot", job(JobState.FINISHED, (FINISHED,), **changes), SHA)
    assert run is not None and run.title == title and run.actions == ()


@pytest.mark.parametrize(("accelerator", "name"), [
    (None, "mybot: x86_64/amd/zen2 eessi.io-2023.06-software"),
    ("nvidia/cc90", "mybot: x86_64/amd/zen2,accel=nvidia/cc90 eessi.io-2023.06-software"),
], ids=["cpu", "gpu"])
def test_name(accelerator: Optional[str], name: str) -> None:
    assert check_run_name("mybot", job(accelerator=accelerator)) == name


def test_upload_rows_change_nothing() -> None:
    """A job costs at most three requests: deploy rows after `finished` leave its check run as it was."""
    done = {"result_status": "SUCCESS", "end_state": "COMPLETED"}
    before = check_run("mybot", job(JobState.FINISHED, (SUBMITTED, FINISHED), **done), SHA)
    after = check_run("mybot", job(JobState.FINISHED, (SUBMITTED, FINISHED, UPLOADED), **done), SHA)
    assert before is not None and after is not None and before.encode() == after.encode()


def test_a_huge_row_is_shortened_within_githubs_limit() -> None:
    huge = Row(FINISHED.date, "finished", "<b>" + "x" * 100_000 + "</b><br/>job ended `COMPLETED`")
    run = check_run("mybot", job(JobState.FINISHED, (huge,), end_state="COMPLETED"), SHA)
    assert run is not None and len(run.summary) <= MAX_TEXT
    assert run.summary.endswith("job dir: `/jobs/2025.03/EESSI/software-layer/pr_42/77`")


def request_schema(path: str, method: str) -> OAS30Validator:
    spec = load_spec(openapi_spec_path())
    schema = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return OAS30Validator(schema)


@pytest.mark.parametrize(("state", "rows"), [
    (JobState.RELEASED, (SUBMITTED, RELEASED)),
    (JobState.RUNNING, (RUNNING,)),
    (JobState.FINISHED, (FINISHED,)),
], ids=["queued", "in-progress", "completed"])
@pytest.mark.parametrize("details_url", [None, "https://github.com/EESSI/software-layer/pull/42#issuecomment-9"],
                         ids=["no-details", "details"])
def test_requests_match_githubs_openapi_description(state: JobState, rows: Tuple[Row, ...],
                                                   details_url: Optional[str]) -> None:
    run = check_run("mybot", job(state, rows, end_state="COMPLETED", result_status="SUCCESS"), SHA, "job:k")
    assert run is not None
    create, update = run.request(details_url, create=True), run.request(details_url, create=False)
    assert list(request_schema("/repos/{owner}/{repo}/check-runs", "post").iter_errors(create)) == []
    assert list(request_schema("/repos/{owner}/{repo}/check-runs/{check_run_id}", "patch").iter_errors(update)) == []
    assert create["head_sha"] == SHA and "head_sha" not in update and "details_key" not in create
    assert create.get("details_url") == details_url
    assert CheckRun.decode(run.encode()) == run


def test_cancel_action_fits_githubs_limits() -> None:
    run = check_run("mybot", job(), SHA)
    assert run is not None
    (action,) = run.actions
    assert (action.label, action.identifier, action.description) == ("Cancel", "cancel",
                                                                     "Cancel this job on the cluster")
    assert len(action.label) <= 20 and len(action.identifier) <= 20 and len(action.description) <= 40


# --- the 403 suspension -----------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "message", "expected"), [
    (403, "HTTP 403: Resource not accessible by integration", True),
    (403, "HTTP 403: Repository access blocked", False),
    (422, "HTTP 422: Resource not accessible by integration", False),
], ids=["no-checks-permission", "other-403", "not-403"])
def test_lacks_permission(status: int, message: str, expected: bool) -> None:
    assert lacks_permission(status, message) is expected


@pytest.mark.parametrize(("stored", "now", "app", "holds"), [
    (Suspension(1000.0, "1/2@api", "m").encode(), 1000.0 + SUSPENDED_FOR - 1, "1/2@api", True),
    (Suspension(1000.0, "1/2@api", "m").encode(), 1000.0 + SUSPENDED_FOR, "1/2@api", False),
    (Suspension(1000.0, "1/2@api", "m").encode(), 1001.0, "1/3@api", False),
    (Suspension(1000.0, "1/2@api", "m").encode(), 999.0, "1/2@api", False),
], ids=["within-a-day", "a-day-later", "other-installation", "clock-went-back"])
def test_suspension_holds(stored: str, now: float, app: str, holds: bool) -> None:
    found = Suspension.decode(stored)
    assert found is not None and found.holds(now, app) is holds


@pytest.mark.parametrize("stored", [None, "", "{", "[]", '{"since": "x"}'], ids=["none", "empty", "broken",
                                                                             "list", "incomplete"])
def test_unreadable_suspension_is_none(stored: Optional[str]) -> None:
    assert Suspension.decode(stored) is None


# --- check_run events -------------------------------------------------------------------------------

APP_ID = 4242
RUN_ID = 9001


def handle(tmp_path: Path, action: str, sender: str = "maintainer", *, identifier: Optional[str] = None,
           app_id: int = APP_ID, run_id: int = RUN_ID, sender_type: str = "User", chatlevel: str = "basic",
           jobs: Optional[FakeJobs] = None, the_job: Optional[Job] = None) -> Tuple[str, List[str], FakeJobs]:
    config, problems = load_config(write_site(tmp_path, app_id=APP_ID, chatlevel=chatlevel), {"HOME": str(tmp_path)})
    assert config is not None, problems
    target = the_job or job()
    jobs = jobs or FakeJobs(check_runs={RUN_ID: target})
    run = {"id": run_id, "name": check_run_name("test-bot", target), "head_sha": SHA, "external_id": target.key,
           "status": "queued", "conclusion": None}
    payload = check_run_payload(action, run, repo=REPO, app_id=app_id, sender_login=sender, sender_type=sender_type,
                                identifier=identifier, installation_id=99)
    ctx = EventContext(delivery=Delivery("d-7", "check_run", action, None, encode(payload)), payload=payload,
                       config=config, registry=default_registry(), jobs=jobs, deploys=FakeDeploys(),
                       received_at=50.0, log=logging.LoggerAdapter(logging.getLogger("test"), {}))
    (outcome,) = [handler(ctx) for handler in default_router().handlers("check_run", action)]
    written = [e for e in ctx.effects.items if isinstance(e, CommentEffect)]
    assert len(written) == len(ctx.effects.items), "comments only"
    assert all(e.key == "check-run:d-7" and e.issue_number == 42 for e in written)
    comments = [e.body for e in written]
    return outcome, comments, jobs


def test_rerun_by_a_maintainer_submits_that_target_again(tmp_path: Path) -> None:
    outcome, comments, jobs = handle(tmp_path, "rerequested")
    assert outcome == "re-run of job 77 by maintainer: submitted 1234567"
    assert comments == [], "an acknowledgement only at chatty: the new job's comment and check run say it"
    request = Request(repo=REPO, number=42, sender="maintainer", comment_id=0, comment_url="", delivery_id="d-7",
                      line=1, received_at=50.0)
    assert jobs.calls == [Call("check_run_job", (REPO, RUN_ID, job().key)), Call("rerun", (job().key, request))]


def test_rerun_at_chatty_is_acknowledged(tmp_path: Path) -> None:
    _, (comment,), _ = handle(tmp_path, "rerequested", chatlevel="chatty")
    assert ("- re-run of check run `test-bot: x86_64/amd/zen2 eessi.io-2023.06-software` by `maintainer`: "
            "submitted job `1234567` on node type `cpu_zen2` for repository `eessi.io-2023.06-software`") in comment


@pytest.mark.parametrize(("jobs", "expected"), [
    (FakeJobs(check_runs={RUN_ID: job()}, rerun_refusal="node type `cpu_zen2` no longer builds repository "
              "`eessi.io-2023.06-software` on this instance"),
     "by `maintainer`: nothing was submitted: node type `cpu_zen2` no longer builds repository "
     "`eessi.io-2023.06-software` on this instance"),
    (FakeJobs(check_runs={RUN_ID: job()}, download_error="merge conflict"),
     "by `maintainer`: nothing was submitted: the PR could not be prepared"),
], ids=["refused", "download-error"])
def test_a_failed_rerun_is_said_at_every_chatlevel(tmp_path: Path, jobs: FakeJobs, expected: str) -> None:
    _, (comment,), _ = handle(tmp_path, "rerequested", chatlevel="incognito", jobs=jobs)
    assert expected in comment


@pytest.mark.parametrize(("action", "identifier", "refusal"), [
    ("rerequested", None, "account `stranger` has NO permission to re-run the check run "
                          "`test-bot: x86_64/amd/zen2 eessi.io-2023.06-software`; nothing was done"),
    ("requested_action", "cancel", "account `stranger` has NO permission to cancel job `77`; nothing was done"),
], ids=["rerun", "cancel"])
@pytest.mark.parametrize("chatlevel", ["incognito", "basic"])
def test_others_are_refused_and_nothing_runs(tmp_path: Path, action: str, identifier: Optional[str], refusal: str,
                                            chatlevel: str) -> None:
    outcome, (comment,), jobs = handle(tmp_path, action, "stranger", identifier=identifier, chatlevel=chatlevel)
    assert refusal in comment
    assert outcome.endswith("by stranger: no build permission")
    assert [c.method for c in jobs.calls] == ["check_run_job"]


def test_cancel_that_cannot_be_done_is_said(tmp_path: Path) -> None:
    """The job ended (or is unknown to the PR's list) between the click and the cancel."""
    outcome, (comment,), jobs = handle(tmp_path, "requested_action", identifier="cancel",
                                       jobs=FakeJobs(check_runs={RUN_ID: job()}, views=[]), chatlevel="incognito")
    assert jobs.calls[-1] == Call("cancel", (REPO, 42, ("77",), "maintainer"))
    assert outcome == "cancel of job 77 by maintainer: refused: is not a job of this PR on this instance"
    assert "\n- job `77` is not a job of this PR on this instance; nothing was cancelled\n" in comment


@pytest.mark.parametrize(("chatlevel", "said"), [("basic", False), ("chatty", True)])
def test_cancel_of_a_waiting_job(tmp_path: Path, chatlevel: str, said: bool) -> None:
    jobs = FakeJobs(check_runs={RUN_ID: job()}, views=[JobView(job(), SHA, None)])
    outcome, comments, _ = handle(tmp_path, "requested_action", identifier="cancel", jobs=jobs, chatlevel=chatlevel)
    assert jobs.calls[-1] == Call("cancel", (REPO, 42, ("77",), "maintainer"))
    assert outcome == "cancel of job 77 by maintainer: cancelled"
    assert [("- cancelled job `77` on node type `cpu_zen2` for repository `eessi.io-2023.06-software` (Cancel "
             "button, by `maintainer`)") in c for c in comments] == ([True] if said else [])


@pytest.mark.parametrize(("changes", "outcome"), [
    ({"app_id": 1}, "check run of App 1, not this one: ignored"),
    ({"run_id": 1}, "check run 1 is no job of this instance: ignored"),
    ({"identifier": "lgtm"}, "requested action 'lgtm' is none of this bot's: ignored"),
    ({"sender": "ci[bot]", "sender_type": "Bot"}, "re-run of job 77 by ci[bot], a bot: ignored"),
], ids=["other-app", "unknown-check-run", "other-action", "bot"])
def test_ignored(tmp_path: Path, changes: Dict[str, Any], outcome: str) -> None:
    action = "requested_action" if "identifier" in changes else "rerequested"
    got, comments, jobs = handle(tmp_path, action, **changes)
    assert (got, comments) == (outcome, [])
    assert not [c for c in jobs.calls if c.method in ("rerun", "cancel")]


@pytest.mark.parametrize("action", ["created", "completed"])
def test_own_check_run_notices_need_nothing(tmp_path: Path, action: str) -> None:
    outcome, comments, jobs = handle(tmp_path, action)
    assert (outcome, comments, jobs.calls) == (f"check run {action}: nothing to do", [], [])
