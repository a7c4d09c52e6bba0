"""Poll intake and recovery (`eessi_bot.service.deliveries`) through the real PyGithub adapter, against the
fake GitHub's log of webhook deliveries over HTTP (schema-checked), into a real SQLite inbox."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest
import requests

from eessi_bot.adapters.github_app import GitHubApp
from eessi_bot.adapters.memory_github import MemoryGitHub
from eessi_bot.adapters.sqlite.store import SqliteStore
from eessi_bot.adapters.system_clock import SystemClock
from eessi_bot.core.config.model import GitHubSettings
from eessi_bot.core.deliveries import LoggedDelivery
from eessi_bot.core.webhook import Delivery
from eessi_bot.ports.github import DeliveryPage, NotFound, RateLimited, Transient
from eessi_bot.ports.wakeup import Wakeup
from eessi_bot.service.deliveries import DeliveryIntake
from tests.fakes.clock import FakeClock
from tests.fakes.github_server import FakeGitHub
from tests.fakes.site import private_key_pem
from tests.fakes.webhooks import encode, pr_comment_payload
from tests.waiting import wait_for

REPO = "eessi/software-layer"
PR = 7
OTHER_INSTALLATION = 55555
DETAIL = r"^/app/hook/deliveries/\d+$"
LIST = r"^/app/hook/deliveries$"


@dataclass
class Env:
    fake: FakeGitHub
    store: SqliteStore
    clock: FakeClock
    settings: GitHubSettings
    path: Path
    woken: Wakeup

    def intake(self, **changes: Any) -> DeliveryIntake:
        """A DeliveryIntake as a (re)started bot makes it over the same database."""
        settings = replace(self.settings, **changes)
        return DeliveryIntake(settings, GitHubApp(settings, self.fake.private_key_pem, self.clock), self.store.inbox,
                              self.store, self.clock, self.woken)

    def comment(self, body: str = "bot: help", installation: Optional[int] = None) -> Dict[str, Any]:
        return pr_comment_payload(body, repo=REPO, pr_number=PR,
                                  installation_id=installation or self.fake.installation_id)

    def log(self, ago: float = 5.0, status_code: int = 0, installation: Optional[int] = None,
            payload: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """An attempt GitHub logged `ago` seconds ago (status 0: it could not connect)."""
        return self.fake.hook.record("issue_comment", payload or self.comment(installation=installation),
                                     guid=str(uuid.uuid4()), status="OK" if status_code == 200 else "failed",
                                     status_code=status_code, delivered_at=self.clock.now() - ago,
                                     installation_id=installation)

    def stored(self, guid: str) -> bool:
        return self.store.inbox.get(guid) is not None


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with FakeGitHub() as fake:
        clock = FakeClock(time.time())
        settings = GitHubSettings(app_id=fake.app_id, app_name="x", installation_id=fake.installation_id,
                                  private_key=Path("/unused"), api_url=fake.base_url, webhook_secret="s",
                                  intake="poll", poll_interval_deliveries=15)
        yield Env(fake, SqliteStore.in_dir(tmp_path), clock, settings, tmp_path, Wakeup())
        assert fake.schema_errors == []


def test_the_log_is_read_page_by_page_as_github_links_it(env: Env) -> None:
    guids = [env.log(ago=30 - i * 0.1)["guid"] for i in range(205)]
    report = env.intake().poll()
    assert (report.pages, len(report.stored)) == (3, 205)
    assert all(env.stored(guid) for guid in guids)
    assert env.fake.count("GET", LIST) == 3 and env.fake.count("GET", DETAIL) == 205
    assert env.fake.token_mints == 0, "the log is read with the App's JWT, no installation token"
    assert env.woken.wait(0)


CASES = [
    # (id, how the attempt came to be, fetched from GitHub, stored in the inbox)
    ("new", {}, True, True),
    ("delivered-by-webhook-too", {"in_inbox": True, "status_code": 200}, False, False),
    ("other-installation", {"installation": OTHER_INSTALLATION}, False, False),
    ("before-the-first-start", {"ago": 3600.0}, False, False),
    ("payload-of-another-installation", {"payload_installation": OTHER_INSTALLATION}, True, False),
]


@pytest.mark.parametrize(("how", "fetched", "stored"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_poll_takes_this_installations_new_deliveries(env: Env, how: Dict[str, Any], fetched: bool,
                                                        stored: bool) -> None:
    intake = env.intake()
    intake.marks()  # the bot's first start
    payload = env.comment(installation=how.get("payload_installation"))
    attempt = env.log(ago=how.get("ago", 5.0), status_code=how.get("status_code", 0),
                      installation=how.get("installation"), payload=payload)
    if how.get("in_inbox"):
        env.store.inbox.store(Delivery(attempt["guid"], "issue_comment", "created", None, encode(payload)),
                              env.clock.now())
    intake.poll()
    assert env.fake.count("GET", DETAIL) == int(fetched)
    assert env.stored(attempt["guid"]) is (stored or bool(how.get("in_inbox")))


def test_nothing_is_fetched_twice_not_even_after_a_restart(env: Env) -> None:
    first = env.log(ago=20)
    assert env.intake().poll().stored == [first["guid"]]
    assert env.intake().poll().stored == []
    second = env.log(ago=1)
    assert env.intake().poll().stored == [second["guid"]]
    assert env.fake.count("GET", DETAIL) == 2
    assert env.fake.count("GET", LIST) == 3, "an idle pass is one request"


def test_a_delivery_whose_payload_cannot_be_had_is_fetched_again_at_the_next_pass(env: Env) -> None:
    attempt = env.log(ago=5)
    env.fake.inject_5xx("GET", rf"^/app/hook/deliveries/{attempt['id']}$", count=3)  # PyGithub retries GETs twice
    intake = env.intake()
    assert (intake.poll().failed, env.stored(attempt["guid"])) == (1, False)
    env.clock.advance(15)
    assert intake.poll().stored == [attempt["guid"]]


def test_an_unusable_payload_is_looked_at_once(env: Env) -> None:
    env.log(ago=5, payload=env.comment(installation=OTHER_INSTALLATION))
    intake = env.intake()
    assert intake.poll().unusable == 1
    assert intake.poll().fetched == 0


RECOVERY = [
    # (id, seconds ago, status code, recovered)
    ("refused-connection", 60.0, 0, True),
    ("bad-gateway", 60.0, 502, True),
    ("refused-signature", 60.0, 401, True),
    ("delivered", 60.0, 200, False),
    ("in-the-window", 71 * 3600.0, 0, True),
    ("outside-the-window", 73 * 3600.0, 0, False),
]


@pytest.mark.parametrize(("ago", "status_code", "recovered"), [c[1:] for c in RECOVERY], ids=[c[0] for c in RECOVERY])
def test_recovery_takes_up_what_github_could_not_deliver(env: Env, ago: float, status_code: int,
                                                        recovered: bool) -> None:
    """An inbox an earlier version filled ten days ago: the window, not the first start, bounds recovery."""
    env.store.inbox.store(Delivery("old", "ping", None, None, b"{}"), env.clock.now() - 10 * 86400)
    attempt = env.log(ago=ago, status_code=status_code)
    assert env.intake(intake="webhook").recover().stored == ([attempt["guid"]] if recovered else [])
    if recovered:
        assert env.store.inbox.late_since(attempt["guid"]) == pytest.approx(env.clock.now() - ago, abs=1)


@pytest.mark.parametrize(("hours", "taken"), [(72, 2), (0, 1)], ids=["recovery-on", "recovery-off"])
def test_a_poll_takes_up_what_came_while_the_bot_was_stopped_unless_recovery_is_off(env: Env, hours: int,
                                                                                    taken: int) -> None:
    env.store.inbox.store(Delivery("old", "ping", None, None, b"{}"), env.clock.now() - 10 * 86400)
    missed, fresh = env.log(ago=600), env.log(ago=5)
    stored = env.intake(recover_deliveries_hours=hours).poll().stored
    assert stored == [fresh["guid"], missed["guid"]][:taken]


def test_a_poll_intake_makes_no_recovery_passes(env: Env) -> None:
    """Polling takes up failed deliveries itself: no second reader of the log."""
    intake = env.intake()
    assert (intake.active, intake.recovers) == (True, False)
    assert (env.intake(intake="webhook").recovers, env.intake(intake="both").recovers) == (True, False)


def test_recovery_turned_off_reads_nothing(env: Env) -> None:
    intake = env.intake(intake="webhook", recover_deliveries_hours=0)
    assert not intake.active
    stop = threading.Event()
    stop.set()
    intake.run(stop)
    assert env.fake.requests == []


LATENESS = [
    # (id, seconds between GitHub's sending and the poll, late)
    ("in-time", 5.0, False),
    ("after-a-stop", 600.0, True),
]


@pytest.mark.parametrize(("ago", "late"), [c[1:] for c in LATENESS], ids=[c[0] for c in LATENESS])
def test_a_polled_delivery_is_late_only_after_a_stop(env: Env, ago: float, late: bool) -> None:
    env.store.inbox.store(Delivery("old", "ping", None, None, b"{}"), env.clock.now() - 3600)
    attempt = env.log(ago=ago)
    env.intake().poll()
    assert (env.store.inbox.late_since(attempt["guid"]) is not None) is late


def test_the_thread_polls_at_its_interval(env: Env) -> None:
    intake = DeliveryIntake(replace(env.settings, poll_interval_deliveries=1), GitHubApp(
        env.settings, env.fake.private_key_pem, SystemClock()), env.store.inbox, env.store, SystemClock(), env.woken)
    stop = threading.Event()
    thread = threading.Thread(target=intake.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: env.fake.count("GET", LIST) >= 2, timeout=10)
        attempt = env.fake.deliver("issue_comment", env.comment())
        started = time.monotonic()
        wait_for(lambda: env.stored(attempt["guid"]), timeout=10)
        assert time.monotonic() - started < 2.5
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_a_wrong_app_key_is_an_error_the_thread_survives(env: Env) -> None:
    github = GitHubApp(env.settings, private_key_pem().decode(), env.clock)
    with pytest.raises(Transient):
        github.list_deliveries()
    intake = DeliveryIntake(env.settings, github, env.store.inbox, env.store, env.clock, env.woken)
    assert intake._guarded(intake.poll) == 0.0


def jwt_get(fake: FakeGitHub, path: str) -> requests.Response:
    return requests.get(fake.base_url + path, headers={"Authorization": f"Bearer {fake.app_jwt()}"}, timeout=10)


def test_githubs_status_filter_misses_deliveries_that_never_connected(env: Env) -> None:
    """GitHub's `status=failure` means a 4xx or 5xx answer: an attempt that found no bot at all (status
    code 0) is not in it, which is why the bot filters on its own."""
    refused, bad_gateway, _ = env.log(status_code=0), env.log(status_code=502), env.log(status_code=200)
    failures = jwt_get(env.fake, "/app/hook/deliveries?status=failure").json()
    assert [item["guid"] for item in failures] == [bad_gateway["guid"]]
    assert refused["guid"] in {item["guid"] for item in jwt_get(env.fake, "/app/hook/deliveries").json()}


def test_a_redelivery_is_a_new_attempt_of_the_same_guid(env: Env) -> None:
    attempt = env.log(status_code=0)
    answer = requests.post(f"{env.fake.base_url}/app/hook/deliveries/{attempt['id']}/attempts", timeout=10,
                           headers={"Authorization": f"Bearer {env.fake.app_jwt()}"})
    assert answer.status_code == 202
    newest = wait_for(lambda: [a for a in env.fake.hook.attempts() if a["redelivery"]])
    assert [(a["guid"], a["status_code"]) for a in newest] == [(attempt["guid"], 0)]
    assert jwt_get(env.fake, "/app/hook/deliveries").status_code == 200
    assert jwt_get(env.fake, "/app/hook/deliveries/1").status_code == 404
    assert requests.get(env.fake.base_url + "/app/hook/deliveries", timeout=10).status_code == 401


def test_the_memory_log_pages_like_github(env: Env) -> None:
    """The in-memory GitHub (demo, replay --dry-run) keeps a log of deliveries read the same way."""
    memory = MemoryGitHub(page_size=2)
    for number in range(5):
        guid = f"guid-{number}"
        memory.log_delivery(LoggedDelivery(number + 1, guid, "issue_comment", "created", env.clock.now() - 10 + number,
                                           0, env.fake.installation_id), env.comment())
    intake = DeliveryIntake(env.settings, memory, env.store.inbox, env.store, env.clock, env.woken)
    assert sorted(intake.poll().stored) == [f"guid-{n}" for n in range(5)]
    assert memory.reads == ["list", "get 5", "get 4", "list", "get 3", "get 2", "list", "get 1"]
    with pytest.raises(NotFound):
        memory.delivery_payload(99)


class BrokenLog:
    """A log of deliveries that fails with `error` every time."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def list_deliveries(self, next_url: Optional[str] = None) -> DeliveryPage:
        raise self.error

    def delivery_payload(self, delivery_id: int) -> Any:
        raise self.error


FAILURES = [
    # (id, error, when to ask again (seconds from now; 0: at the next pass), the warning)
    ("rate-limited", RateLimited("HTTP 403: secondary rate limit", 1_000_030.0), 30.0,
     "GitHub's rate limit: the log of deliveries is read again in 30 s"),
    ("no-webhook", NotFound("HTTP 404: Not Found"), 0.0,
     "GitHub has no log of webhook deliveries for this App (HTTP 404: Not Found): give the App an active webhook "
     "(with intake = poll any URL will do: failed deliveries are logged too)"),
    ("refused-key", Transient("HTTP 401: A JSON web token could not be decoded"), 0.0,
     "cannot read GitHub's log of webhook deliveries: HTTP 401: A JSON web token could not be decoded (asked again "
     "at the next pass)"),
]


@pytest.mark.parametrize(("error", "resume", "warning"), [c[1:] for c in FAILURES], ids=[c[0] for c in FAILURES])
def test_a_failing_log_is_one_warning_and_the_thread_goes_on(env: Env, caplog: pytest.LogCaptureFixture,
                                                            error: Exception, resume: float, warning: str) -> None:
    clock = FakeClock(1_000_000.0)
    intake = DeliveryIntake(env.settings, BrokenLog(error), env.store.inbox, env.store, clock, env.woken)
    with caplog.at_level(logging.DEBUG, logger="eessi_bot.service.deliveries"):
        for _ in range(3):
            assert intake._guarded(intake.poll) == (clock.now() + resume if resume else 0.0)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("WARNING", warning)] + [
        ("DEBUG", warning)] * 2


def test_a_bug_is_logged_and_the_thread_goes_on(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    intake = DeliveryIntake(env.settings, BrokenLog(KeyError("id")), env.store.inbox, env.store, env.clock,
                            env.woken)
    with caplog.at_level(logging.ERROR, logger="eessi_bot.service.deliveries"):
        assert intake._guarded(intake.recover) == 0.0
    assert [r.getMessage() for r in caplog.records] == [
        "reading GitHub's log of webhook deliveries failed; asked again at the next pass"]
