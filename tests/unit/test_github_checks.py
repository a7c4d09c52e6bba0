"""Check runs through the PyGithub adapter against the fake GitHub over HTTP, requests and responses
checked against GitHub's OpenAPI description."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Tuple

import pytest
import requests

from eessi_bot.adapters.github_app import GitHubApp
from eessi_bot.core.check_runs import CANCEL_ACTION, Action, CheckRun, check_run_event, lacks_permission
from eessi_bot.core.config.model import GitHubSettings
from eessi_bot.ports.github import Rejected, Transient
from tests.fakes.clock import FakeClock
from tests.fakes.github_server import FakeGitHub

REPO = "org/repo"
SHA = "d" * 40
QUEUED = CheckRun(name="bot: x86_64/amd/zen2 eessi.io-2023.06-software", head_sha=SHA, external_id="d1:1:zen2:sw",
                  status="queued", conclusion=None, title="job 5: released", summary="|date|job status|comment|",
                  actions=(CANCEL_ACTION,))
RUNNING = replace(QUEUED, status="in_progress", title="job 5: running")
DONE = replace(QUEUED, status="completed", conclusion="success", title="job 5: SUCCESS", actions=())
DETAILS = "https://github.com/org/repo/pull/3#issuecomment-1"


@pytest.fixture
def env() -> Iterator[Tuple[FakeGitHub, GitHubApp]]:
    with FakeGitHub() as fake:
        fake.add_repo(REPO)
        settings = GitHubSettings(app_id=fake.app_id, app_name="bot", installation_id=fake.installation_id,
                                  private_key=Path("/unused"), api_url=fake.base_url, webhook_secret="s")
        yield fake, GitHubApp(settings, fake.private_key_pem, FakeClock(time.time()))
        assert fake.schema_errors == []


def test_a_check_run_from_queued_to_completed(env: Tuple[FakeGitHub, GitHubApp]) -> None:
    fake, github = env
    ref = github.create_check_run(REPO, QUEUED, None)
    github.update_check_run(REPO, ref.id, RUNNING, DETAILS)
    github.update_check_run(REPO, ref.id, DONE, DETAILS)
    assert fake.checks.history(ref.id) == [("queued", None), ("in_progress", None), ("completed", "success")]
    (run,) = fake.checks.runs(REPO)
    assert ref.html_url == run["html_url"] == f"https://github.com/{REPO}/runs/{ref.id}"
    assert (run["external_id"], run["details_url"], run["output"]["title"], run["actions"]) == (
        "d1:1:zen2:sw", DETAILS, "job 5: SUCCESS", [])
    assert run["pull_requests"] == [], "as for a fork's PR"


def test_an_uncertain_create_is_found(env: Tuple[FakeGitHub, GitHubApp]) -> None:
    fake, github = env
    github.create_check_run(REPO, replace(QUEUED, external_id="other"), None)
    assert github.find_check_run(REPO, QUEUED) is None
    fake.inject_5xx("POST", r"/check-runs$", after_effect=True)
    with pytest.raises(Transient):
        github.create_check_run(REPO, QUEUED, None)
    found = github.find_check_run(REPO, QUEUED)
    assert found is not None and fake.checks.runs(REPO)[1]["id"] == found.id
    assert fake.count("POST", r"/check-runs$") == 2, "never repeated by the client"


def test_without_the_checks_permission(env: Tuple[FakeGitHub, GitHubApp]) -> None:
    fake, github = env
    fake.checks.allowed = False
    with pytest.raises(Rejected) as raised:
        github.create_check_run(REPO, QUEUED, None)
    assert raised.value.status == 403 and lacks_permission(raised.value.status, str(raised.value))


@pytest.mark.parametrize(("body", "problem"), [
    ({"name": "n", "head_sha": SHA, "actions": [{"label": "x" * 21, "identifier": "cancel", "description": "d"}]},
     "is too long"),
    ({"name": "n", "head_sha": SHA, "status": "running"}, "is not one of"),
    ({"head_sha": SHA}, "'name' is a required property"),
    ({"name": "n", "head_sha": SHA, "status": "completed"}, "conclusion is required when status is completed"),
], ids=["label-too-long", "bad-status", "no-name", "completed-without-conclusion"])
def test_the_fake_refuses_what_github_refuses(env: Tuple[FakeGitHub, GitHubApp], body: dict, problem: str) -> None:
    fake, _ = env
    answer = requests.post(f"{fake.base_url}/repos/{REPO}/check-runs", json=body, timeout=10,
                           headers={"Authorization": f"token {fake.issue_token()}"})
    assert answer.status_code == 422
    assert [e for e in fake.schema_errors if problem in e] != []
    fake.journal.schema_errors.clear()


def test_an_action_over_githubs_limits_is_refused(env: Tuple[FakeGitHub, GitHubApp]) -> None:
    fake, github = env
    with pytest.raises(Rejected):
        github.create_check_run(REPO, replace(QUEUED, actions=(Action("Cancel", "cancel", "d" * 41),)), None)
    assert fake.checks.runs() == []
    fake.journal.schema_errors.clear()


def test_the_click_event_names_the_check_run_and_no_pr(env: Tuple[FakeGitHub, GitHubApp]) -> None:
    fake, github = env
    ref = github.create_check_run(REPO, QUEUED, None)
    event = check_run_event(fake.checks.event(ref.id, "requested_action", "maintainer", identifier="cancel"))
    assert (event.action, event.repo, event.check_run_id, event.external_id, event.app_id, event.identifier) == (
        "requested_action", REPO, ref.id, "d1:1:zen2:sw", fake.app_id, "cancel")
    assert fake.checks.event(ref.id, "rerequested", "maintainer")["check_run"]["pull_requests"] == []
