"""A job as a GitHub check run: its fields from the job's row, pure (the outbox sends them).

One check run per job, on the PR head the job built, named `<app_name>: <target> <repo id>`:
`queued` while the job waits (submitted, released), `in_progress` while it runs, `completed` at its
end with the conclusion its real end gives (`conclusion`). Its summary holds the job's newest row, the
same text as in the job's comment, and the job directory; `external_id` is the job's key, which finds
the job again when GitHub sends a `check_run` event (a fork PR's event names no PR). Upload rows never
change a check run, so a job costs at most three requests: the create (made with the newest waiting
state), `in_progress`, `completed`.

A check run is what GitHub's Re-run button re-runs; a waiting or running job's check run also offers
a Cancel button (a requested action, identifier `cancel`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from eessi_bot.core.events import Actor, EventError
from eessi_bot.core.html_text import shorten_html
from eessi_bot.core.job_comment import LIFE_CYCLE, table
from eessi_bot.core.jobs import Job, JobState, Row
from eessi_bot.core.markdown import code

CHECK_PREFIX = "check:"
"""Outbox keys of check runs: `check:<job key>`."""
QUEUED, IN_PROGRESS, COMPLETED = "queued", "in_progress", "completed"
SUCCESS, FAILURE, CANCELLED, TIMED_OUT = "success", "failure", "cancelled", "timed_out"
CANCEL = "cancel"
"""The identifier of the Cancel button (a check run's requested action)."""
MAX_TEXT = 65_535
"""GitHub's limit on a check run's summary, in characters."""
TIME_ENDS = frozenset({"TIMEOUT", "DEADLINE"})
"""Slurm end states of a job stopped by a time limit (`timed_out`)."""


@dataclass(frozen=True)
class Action:
    """A button GitHub shows on the check run (label and identifier <= 20, description <= 40 characters)."""

    label: str
    identifier: str
    description: str


CANCEL_ACTION = Action("Cancel", CANCEL, "Cancel this job on the cluster")


@dataclass(frozen=True)
class CheckRun:
    """What a job's check run should show now."""

    name: str
    head_sha: str
    external_id: str
    status: str
    conclusion: Optional[str]
    title: str
    summary: str
    actions: Tuple[Action, ...]
    details_key: Optional[str] = None
    """Outbox key of the job's comment: its URL, once GitHub made it, is the check run's details URL."""

    def encode(self) -> str:
        """The outbox body: stable JSON, so that an unchanged check run writes nothing."""
        return json.dumps({**self._fields(), "details_key": self.details_key}, sort_keys=True)

    @classmethod
    def decode(cls, body: str) -> CheckRun:
        data = json.loads(body)
        output = data["output"]
        return cls(name=data["name"], head_sha=data["head_sha"], external_id=data["external_id"],
                   status=data["status"], conclusion=data.get("conclusion"), title=output["title"],
                   summary=output["summary"], actions=tuple(Action(**a) for a in data["actions"]),
                   details_key=data.get("details_key"))

    def request(self, details_url: Optional[str], create: bool) -> Dict[str, Any]:
        """The JSON of `POST .../check-runs` (`create`) or `PATCH .../check-runs/{id}`."""
        fields = self._fields()
        if not create:
            del fields["head_sha"]
        if details_url:
            fields["details_url"] = details_url
        return fields

    def _fields(self) -> Dict[str, Any]:
        fields: Dict[str, Any] = {
            "name": self.name, "head_sha": self.head_sha, "external_id": self.external_id, "status": self.status,
            "output": {"title": self.title, "summary": self.summary},
            "actions": [{"label": a.label, "identifier": a.identifier, "description": a.description}
                        for a in self.actions],
        }
        if self.conclusion is not None:
            fields["conclusion"] = self.conclusion
        return fields


def check_key(job_key: str) -> str:
    return CHECK_PREFIX + job_key


def check_run_name(app_name: str, job: Job) -> str:
    """`<app_name>: <target> <repo id>`, the target as `eessi-bot jobs` shows it."""
    target = job.software_subdir + (f",accel={job.accelerator}" if job.accelerator else "")
    return f"{app_name}: {target} {job.repo_id}"


def status(job: Job) -> Optional[str]:
    """The check run's status; None for a job that was never submitted (it has no check run)."""
    if job.job_id is None:
        return None
    if job.state in (JobState.SUBMITTED, JobState.RELEASED):
        return QUEUED
    if job.state is JobState.RUNNING:
        return IN_PROGRESS
    if job.state is JobState.FINISHED:
        return COMPLETED
    return None


def conclusion(job: Job) -> str:
    """From the job's real end: a time limit → `timed_out`, cancelled → `cancelled`, result SUCCESS
    with end state COMPLETED and no failed test → `success` (as `eessi-bot try` counts success),
    anything else → `failure`."""
    end = (job.end_state or "").split(" ")[0]
    if end in TIME_ENDS:
        return TIMED_OUT
    if end == "CANCELLED":
        return CANCELLED
    if job.result_status == "SUCCESS" and end == "COMPLETED" and job.test_status != "FAILURE":
        return SUCCESS
    return FAILURE


def check_run(app_name: str, job: Job, head_sha: str, details_key: Optional[str] = None) -> Optional[CheckRun]:
    """The check run of `job` as it stands, or None when it has none (never submitted, or no PR head)."""
    state = status(job)
    if state is None or not head_sha:
        return None
    done = conclusion(job) if state == COMPLETED else None
    return CheckRun(name=check_run_name(app_name, job), head_sha=head_sha, external_id=job.key, status=state,
                    conclusion=done, title=_title(job, done), summary=_summary(job),
                    actions=() if done else (CANCEL_ACTION,), details_key=details_key)


def _row(job: Job) -> Row:
    """The newest row of the job's life (upload rows come later and change no check run)."""
    for row in reversed(job.rows):
        if row.status in LIFE_CYCLE:
            return row
    return Row("", job.state.value, "")


def _title(job: Job, done: Optional[str]) -> str:
    name = f"job {job.job_id}"
    if done is None:
        return f"{name}: {_row(job).status}"
    if done == SUCCESS:
        return f"{name}: SUCCESS"
    if done == CANCELLED:
        return f"{name}: cancelled" + (f" by {job.cancelled_by}" if job.cancelled_by else "")
    if done == TIMED_OUT:
        return f"{name}: stopped at its time limit ({job.end_state})"
    return f"{name}: {job.result_status or 'UNKNOWN'}, ended {job.end_state or 'UNKNOWN'}"


def _summary(job: Job) -> str:
    where = (f"Job {code(job.job_id or '?')} on node type {code(job.node_type)}; job dir: "
             f"{code(job.symlink or job.job_dir)}")
    return f"{shorten_html(table((_row(job),)), MAX_TEXT - len(where) - 2)}\n\n{where}"


SUSPENDED_FOR = 86_400.0
"""Seconds check runs stay off after GitHub said the App lacks the Checks permission. Kept in the
database, so a restart does not ask again (and warn again) each time; a day, so that check runs come
back by themselves at the latest a day after an admin granted the permission (a new App or
installation in app.cfg asks at once)."""
PERMISSION_HINT = ("grant the GitHub App the repository permission Checks (read & write) and subscribe it "
                   "to the Check run event, or set [github] check_runs = false")


def lacks_permission(status: int, message: str) -> bool:
    """GitHub's answer to a check-runs call of an App without the Checks permission: 403 `Resource not
    accessible by integration`. (A rate limit's 403 is told apart before: it becomes `RateLimited`.)"""
    return status == 403 and "not accessible by integration" in message.lower()


@dataclass(frozen=True)
class Suspension:
    """Check runs turned off because GitHub refused them, for the App named by `app`."""

    since: float
    app: str
    """`<app id>/<installation id>@<api url>`: what GitHub refused."""
    message: str
    """GitHub's answer."""

    def encode(self) -> str:
        return json.dumps({"since": self.since, "app": self.app, "message": self.message}, sort_keys=True)

    @classmethod
    def decode(cls, text: Optional[str]) -> Optional[Suspension]:
        """The stored value, or None (nothing stored, or a value this version cannot read)."""
        try:
            data = json.loads(text or "")
            return cls(float(data["since"]), str(data["app"]), str(data["message"]))
        except (ValueError, TypeError, KeyError):
            return None

    def holds(self, now: float, app: str) -> bool:
        return self.app == app and 0 <= now - self.since < SUSPENDED_FOR

    def until(self) -> float:
        return self.since + SUSPENDED_FOR


def app_identity(app_id: int, installation_id: int, api_url: str) -> str:
    return f"{app_id}/{installation_id}@{api_url}"


@dataclass(frozen=True)
class CheckRunEvent:
    """A `check_run` delivery: what the bot needs to act on a Re-run or a Cancel click."""

    action: str
    repo: str
    check_run_id: int
    external_id: str
    name: str
    app_id: Optional[int]
    """The App that made the check run (only this App's are acted on)."""
    sender: Actor
    identifier: Optional[str]
    """`requested_action.identifier` (the button clicked), for `requested_action`."""


def check_run_event(payload: Mapping[str, Any]) -> CheckRunEvent:
    """Parse a `check_run` payload; its `pull_requests` are never read (empty for a fork's PR)."""
    run = payload.get("check_run")
    repo = payload.get("repository")
    sender = payload.get("sender")
    if not isinstance(run, dict) or not isinstance(repo, dict) or not isinstance(sender, dict):
        raise EventError("payload has no check_run, repository or sender")
    run_id, full_name, login = run.get("id"), repo.get("full_name"), sender.get("login")
    if not isinstance(run_id, int) or not isinstance(full_name, str) or not isinstance(login, str):
        raise EventError("payload has no check_run.id, repository.full_name or sender.login")
    app = run.get("app")
    app_id = app.get("id") if isinstance(app, dict) else None
    external_id = run.get("external_id")
    requested = payload.get("requested_action")
    identifier = requested.get("identifier") if isinstance(requested, dict) else None
    return CheckRunEvent(
        action=str(payload.get("action") or ""), repo=full_name, check_run_id=run_id,
        external_id=external_id if isinstance(external_id, str) else "",
        name=str(run.get("name") or ""), app_id=app_id if isinstance(app_id, int) else None,
        sender=Actor(login=login, type=str(sender.get("type", "User"))),
        identifier=identifier if isinstance(identifier, str) else None)
