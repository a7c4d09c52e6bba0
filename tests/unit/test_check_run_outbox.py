"""Check runs through the outbox: staged with the job's row, coalesced, sent at most three times per job,
never made twice, and turned off (once, with one warning) when the App lacks the Checks permission."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from eessi_bot.core.check_runs import SUSPENDED_FOR, CheckRun, check_key
from eessi_bot.core.effects import CHECK_RUN, Effects
from eessi_bot.core.jobs import Row
from eessi_bot.jobs.check_runs import META_KEY, CheckRunSwitch, utc
from eessi_bot.ports.github import Rejected, Transient
from eessi_bot.ports.store import Store
from eessi_bot.ports.wakeup import Wakeup
from eessi_bot.service.identity import Identity
from eessi_bot.service.metrics import Metrics
from eessi_bot.service.outbox_sender import OutboxSender
from eessi_bot.web.app import create_app
from tests.fakes.git import HEAD_SHA
from tests.fakes.job_site import PR, REPO, JobSite
from tests.fakes.jobs import make_job

NO_PERMISSION = Rejected("HTTP 403: Resource not accessible by integration", 403)


class Site(JobSite):
    """JobSite with the outbox sender that `serve` runs (a fresh job comment and check run wait for the
    manager's first look) and the check-run switch over its store."""

    def __init__(self, root: Path, settle: float = 5.0, **site: Any) -> None:
        super().__init__(root, **site)
        self.switch = CheckRunSwitch(self.config.github, self.store)
        self.sender = OutboxSender(self.store.outbox, self.github, Identity(self.config.github.app_id, self.github,
                                                                           self.store),
                                   self.clock, Wakeup(), checks=self.switch)
        self.sender.settle = settle

    def cycle(self) -> None:
        self.manager.cycle()
        self.sender.send_due()

    def history(self) -> List[List[Tuple[str, Optional[str]]]]:
        return [self.github.check_run_history[i] for i in sorted(self.github.check_run_history)]

    def check_writes(self) -> List[str]:
        return [w.verb for w in self.github.writes if "check run" in w.verb]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


def test_a_job_costs_three_check_run_requests(site: Site) -> None:
    (job,) = site.build("cpu_zen4").submitted
    site.sender.send_due()
    assert site.check_writes() == [], "the fresh check run waits for the manager's first look, as the comment"
    site.cycle()
    (comment_url,) = [c.html_url for _, _, c in site.github.comments.values()]
    (run,) = site.github.check_runs.values()
    assert (run["status"], run["output"]["title"], run["details_url"]) == ("queued", f"job {job.job_id}: released",
                                                                          comment_url)
    assert (run["name"], run["head_sha"], run["external_id"]) == (
        "test-bot: x86_64/amd/zen4 eessi.io-2023.06-software", HEAD_SHA, job.key)
    site.cycle()
    assert site.check_writes() == ["create check run"], "an idle cycle writes nothing"
    site.scheduler.start(job.job_id or "")
    site.cycle()
    site.write_result(job)
    site.scheduler.end(job.job_id or "")
    site.cycle()
    assert site.history() == [[("queued", None), ("in_progress", None), ("completed", "success")]]
    assert site.check_writes() == ["create check run", "update check run", "update check run"]
    (run,) = site.github.check_runs.values()
    assert run["actions"] == [] and run["output"]["title"] == f"job {job.job_id}: SUCCESS"


def test_states_between_two_sends_coalesce(tmp_path: Path) -> None:
    site = Site(tmp_path, settle=0.0)
    (job,) = site.build("cpu_zen4").submitted
    site.manager.cycle()
    site.scheduler.start(job.job_id or "")
    site.manager.cycle()
    site.sender.send_due()
    assert site.history() == [[("in_progress", None)]], "only the newest state is sent"


def test_rows_after_the_end_change_no_check_run(site: Site) -> None:
    (job,) = site.build("cpu_zen4").submitted
    site.cycle()
    site.finish(job)
    site.sender.send_due()
    writes = site.check_writes()
    finished = site.store.jobs.get(job.key)
    assert finished is not None
    site.builder.comments.save(finished.with_row(Row("now", "uploaded", "`a.tar.gz` uploaded")), site.clock.now())
    site.sender.send_due()
    assert site.check_writes() == writes


def test_an_uncertain_create_is_found_not_repeated(site: Site) -> None:
    (job,) = site.build("cpu_zen4").submitted
    site.manager.cycle()
    site.github.fail("create check run", Transient("HTTP 502"), after_effect=True)
    site.sender.send_due()
    site.clock.advance(60)
    site.sender.send_due()
    assert len(site.github.check_runs) == 1
    item = site.store.outbox.get(check_key(job.key))
    assert item is not None and item.result_id == next(iter(site.github.check_runs))


@pytest.mark.parametrize(("chatlevel", "details"), [("incognito", False), ("basic", True)])
def test_check_runs_do_not_follow_chatlevel(tmp_path: Path, chatlevel: str, details: bool) -> None:
    site = Site(tmp_path, chatlevel=chatlevel)
    site.build("cpu_zen4")
    site.cycle()
    (run,) = site.github.check_runs.values()
    assert ("details_url" in run) is details


def test_check_runs_false_writes_none(tmp_path: Path) -> None:
    site = Site(tmp_path, github_extra="check_runs = false")
    site.build("cpu_zen4")
    site.cycle()
    assert site.github.check_runs == {} and len(site.github.comments) == 1
    assert site.switch.report(site.clock.now()) == {"state": "off", "reason": "[github] check_runs = false"}


def test_missing_permission_turns_check_runs_off_with_one_warning(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    site = Site(tmp_path, settle=0.0)
    site.github.checks_allowed = False
    site.build()
    with caplog.at_level(logging.INFO, logger="eessi_bot.service.outbox_sender"):
        site.cycle()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"check runs are off until {utc(site.clock.now() + SUSPENDED_FOR)}: GitHub refused to write one (HTTP 403: "
        "Resource not accessible by integration); grant the GitHub App the repository permission Checks (read & "
        "write) and subscribe it to the Check run event, or set [github] check_runs = false"]
    assert len(site.github.comments) == 3, "comments go on"
    assert site.store.outbox.counts() == {"pending": 0, "failed": 3, "sent": 3}
    assert site.switch.report(site.clock.now())["state"] == "suspended"
    stored = json.loads(site.store.get_meta(META_KEY) or "")
    assert stored == {"since": site.clock.now(), "app": f"4242/99@{site.config.github.api_url}",
                      "message": "HTTP 403: Resource not accessible by integration"}


def test_a_suspension_outlives_a_restart_for_a_day(site: Site) -> None:
    site.github.checks_allowed = False
    site.build("cpu_zen4")
    site.cycle()
    again = Site(site.root, settle=0.0)
    again.store, again.github = site.store, site.github
    again.switch = CheckRunSwitch(again.config.github, site.store)
    assert again.switch.on(site.clock.now()) is False
    assert again.switch.on(site.clock.now() + SUSPENDED_FOR) is True


def test_while_suspended_nothing_is_staged(site: Site) -> None:
    site.store.set_meta(META_KEY, json.dumps({"since": site.clock.now(), "app": site.switch.app, "message": "403"}))
    site.build("cpu_zen4")
    site.cycle()
    assert [i for i in site.store.outbox.due(1e9) if i.kind == CHECK_RUN] == []
    assert site.github.check_runs == {} and site.store.outbox.counts()["failed"] == 0


def test_other_refusals_fail_only_that_write(site: Site) -> None:
    site.github.fail("create check run", Rejected("HTTP 422: Validation Failed", 422))
    site.build("cpu_zen4")
    site.cycle()
    assert site.switch.on(site.clock.now()) is True


def test_check_run_rows_coalesce_in_the_store(store: Store) -> None:
    """The contract of both stores: same key and body change nothing, a new body is one newer version."""
    def put(body: str) -> None:
        effects = Effects()
        effects.check_run("check:k", REPO, PR, body)
        with store.transaction() as tx:
            tx.put(effects, 1.0)

    put("a")
    put("a")
    first = store.outbox.get("check:k")
    put("b")
    second = store.outbox.get("check:k")
    assert first is not None and second is not None
    assert (first.kind, first.version, first.issue_number) == (CHECK_RUN, 1, PR)
    assert (second.body, second.version) == ("b", 2)


def test_decoded_check_run_is_what_was_staged(site: Site) -> None:
    (job,) = site.build("cpu_zen4").submitted
    item = site.store.outbox.get(check_key(job.key))
    assert item is not None
    run = CheckRun.decode(item.body)
    assert (run.status, run.details_key, run.external_id) == ("queued", job.comment_key, job.key)


@pytest.mark.parametrize(("extra", "suspended", "expected"), [
    ("", False, {"state": "on"}),
    ("check_runs = false", False, {"state": "off", "reason": "[github] check_runs = false"}),
    ("", True, {"state": "suspended", "reason": (
        "GitHub refused check runs at 2027-01-15 08:00:00 UTC (HTTP 403: Resource not accessible by integration); "
        "grant the GitHub App the repository permission Checks (read & write) and subscribe it to the Check run "
        "event, or set [github] check_runs = false; they are tried again from 2027-01-16 08:00:00 UTC")}),
], ids=["on", "off", "suspended"])
def test_healthz_says_whether_check_runs_are_written(tmp_path: Path, extra: str, suspended: bool,
                                                     expected: Dict[str, str]) -> None:
    site = Site(tmp_path, github_extra=extra)
    if suspended:
        site.switch.suspend(site.clock.now(), str(NO_PERMISSION))
    client = create_app("s3cret", site.store, site.clock, Metrics(), Wakeup(), check_runs=site.switch).test_client()
    report = client.get("/healthz").get_json()
    assert report["check_runs"] == expected
    assert (report["status"], sorted(report)) == ("ok", ["check_runs", "inbox", "outbox", "status"])


def test_retention_keeps_the_check_runs_of_the_jobs_it_keeps(store: Store) -> None:
    """Forgotten while its job stays, a check run would be made a second time at the job's next save."""
    job = make_job("cpu_zen2", "eessi.io-2023.06-software", "1", repo=REPO, pr_number=PR)
    keys = (check_key(job.key), check_key("a-job-already-forgotten"))
    effects = Effects()
    for key in keys:
        effects.check_run(key, REPO, PR, "{}")
    with store.transaction() as tx:
        tx.save_job(job, 1.0)
        tx.put(effects, 1.0)
    for key in keys:
        store.outbox.record_created(key, 7, "https://github.com/x/runs/7", 1, 1.0)
    with store.transaction() as tx:
        tx.prune_jobs(before=1e12)
    assert [store.outbox.get(key) is not None for key in keys] == [True, False]
