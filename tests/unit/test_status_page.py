"""The status pages, `/healthz` and the status token, rendered by the Flask app over the in-memory store."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from flask.testing import FlaskClient

from eessi_bot.core.effects import CommentEffect, Effects
from eessi_bot.core.job_comment import comment_date
from eessi_bot.core.jobs import Job, JobState, Row
from eessi_bot.core.uploads import Upload, UploadState
from eessi_bot.core.webhook import Delivery
from eessi_bot.ports.wakeup import Wakeup
from eessi_bot.service.disk import DiskUsage
from eessi_bot.service.health import DEGRADED_AFTER, Cycle, Health, Site
from eessi_bot.service.metrics import Metrics
from eessi_bot.web.app import create_app
from tests.fakes.clock import FakeClock
from tests.fakes.jobs import make_job
from tests.fakes.memory_store import MemoryStore
from tests.fakes.webhooks import delivery_headers
from tests.waiting import wait_for

TOKEN = "st-7f3a9c1e5b"
SECRET = "webhook-s3cret"
REPO = "EESSI/software-layer"


class Instance:
    def __init__(self, token: str = "") -> None:
        self.store = MemoryStore()
        self.clock = FakeClock()
        self.metrics = Metrics(Health(Site(instance="site-bot", backend="local", status_token=token),
                                      started_at=self.clock.now() - 3700))
        self.metrics.watch(self.store, self.clock)
        self.app = create_app(SECRET, self.store, self.clock, self.metrics, Wakeup())

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def save(self, *jobs: Job) -> None:
        with self.store.transaction() as tx:
            for job in jobs:
                tx.save_job(job, self.clock.now())

    def deliver(self, subject: Optional[str], outcome: str, event: str = "issue_comment") -> None:
        delivery = Delivery(id=f"d-{len(self.store.state.deliveries)}", event=event, action="created",
                            subject=subject, body=b"{}")
        self.store.inbox.store(delivery, self.clock.now())
        with self.store.transaction() as tx:
            tx.finish_delivery(delivery.id, outcome, self.clock.now())


@pytest.fixture
def site() -> Instance:
    return Instance()


def text(html: str) -> str:
    """The page as a reader sees it: tags gone, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").strip()


def rows_at(clock: FakeClock, *steps: Tuple[str, float]) -> Tuple[Row, ...]:
    """Comment rows `(status, seconds before now)`, as the manager writes them."""
    return tuple(Row(comment_date(clock.now() - ago), status, f"{status} text") for status, ago in steps)


def jobs_in_every_state(clock: FakeClock) -> List[Job]:
    submitted = rows_at(clock, ("submitted", 600))
    return [
        make_job("n_prep", "r1", None, state=JobState.PREPARING, pr_number=7, repo=REPO),
        replace(make_job("n_fail", "r1", None, state=JobState.SUBMIT_FAILED, pr_number=7, repo=REPO),
                error="sbatch: error: invalid partition"),
        make_job("n_sub", "r1", "101", state=JobState.SUBMITTED, pr_number=7, repo=REPO, rows=submitted),
        make_job("n_rel", "r1", "102", state=JobState.RELEASED, pr_number=7, repo=REPO,
                 rows=rows_at(clock, ("submitted", 600), ("released", 590))),
        make_job("n_run", "r1", "103", state=JobState.RUNNING, pr_number=7, repo=REPO,
                 rows=rows_at(clock, ("submitted", 600), ("released", 590), ("running", 300))),
        replace(make_job("n_fin", "r1", "104", state=JobState.FINISHED, pr_number=7, repo=REPO,
                         rows=rows_at(clock, ("submitted", 4000), ("released", 3990), ("running", 3700),
                                      ("finished", 100))),
                result_status="SUCCESS", test_status="SUCCESS", end_state="COMPLETED", exit_code="0:0"),
        replace(make_job("n_gone", "r1", "105", state=JobState.FINISHED, pr_number=7, repo=REPO,
                         rows=rows_at(clock, ("submitted", 900), ("finished", 60))),
                result_status="FAILURE", end_state="UNKNOWN"),
    ]


@pytest.mark.parametrize(("path", "shown"), [
    ("/", ["site-bot", "eessi-bot 0.1.0", "up 1 h 01 min", "intake: webhook", "backend: local", "status: ok",
           "no jobs", "no deliveries", "oldest waiting \u2014"]),
    ("/pr/EESSI/software-layer/7", ["Not known here", "knows nothing about EESSI/software-layer#7"]),
    ("/job/404", ["Not known here", "knows nothing about job 404"]),
], ids=["overview", "unknown-pr", "unknown-job"])
def test_an_empty_instance(site: Instance, path: str, shown: List[str]) -> None:
    response = site.client().get(path)
    assert response.status_code == (200 if path == "/" else 404)
    page = text(response.get_data(as_text=True))
    for words in shown:
        assert words in page


@pytest.mark.parametrize(("node_type", "state", "queued", "ran", "result"), [
    ("n_prep", "preparing", "\u2014", "\u2014", "\u2014"),
    ("n_fail", "submit_failed", "\u2014", "\u2014", "not submitted"),
    ("n_sub", "submitted", "10 min 00 s", "\u2014", "\u2014"),
    ("n_rel", "released", "10 min 00 s", "\u2014", "\u2014"),
    ("n_run", "running", "5 min 00 s", "5 min 00 s", "\u2014"),
    ("n_fin", "finished", "5 min 00 s", "1 h 00 min", "SUCCESS, test SUCCESS"),
    ("n_gone", "finished", "14 min 00 s", "\u2014", "FAILURE, UNKNOWN"),
], ids=["preparing", "submit-failed", "submitted", "released", "running", "finished", "vanished"])
def test_a_pr_with_jobs_in_every_state(site: Instance, node_type: str, state: str, queued: str, ran: str,
                                       result: str) -> None:
    site.save(*jobs_in_every_state(site.clock))
    site.deliver(f"{REPO}#7", "handled build for:arch=x86_64/amd/zen2")
    html = site.client().get("/pr/EESSI/software-layer/7").get_data(as_text=True)
    row = next(r for r in re.findall(r'<tr class="job">.*?</tr>', html, re.S) if f"<td>{node_type}</td>" in r)
    cells = [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[1:3] == [state, "x86_64/amd/zen2"]
    assert cells[5:8] == [queued, ran, result]
    assert "handled build for:arch=x86_64/amd/zen2" in text(html)


def test_the_overview_lists_recent_jobs_and_deliveries_with_links(site: Instance) -> None:
    site.save(*jobs_in_every_state(site.clock))
    site.deliver(f"{REPO}#7", "handled build for:arch=x86_64/amd/zen2")
    html = site.client().get("/").get_data(as_text=True)
    assert html.count('<tr class="job">') == 7
    assert '<a href="/pr/EESSI/software-layer/7">EESSI/software-layer#7</a>' in html
    assert '<a href="/job/104">104</a>' in html
    assert "issue_comment.created" in text(html)


def test_a_job_page_shows_its_rows_uploads_and_comment(site: Instance) -> None:
    job = jobs_in_every_state(site.clock)[5]
    site.save(job)
    with site.store.transaction() as tx:
        tx.save_upload(Upload(key=f"{job.key}|a.tar.gz", job_key=job.key, repo=REPO, pr_number=7,
                              artefact="a.tar.gz", repo_id="r1", arch="x86_64/amd/zen2", accelerator=None,
                              deploy_key="deploy:x", approved_by="boss", state=UploadState.UPLOADED), 0.0)
    response = site.client().get("/job/104")
    page = text(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Job 104 of EESSI/software-layer#7" in page
    assert "finished finished text" in page and "deploy 1 uploaded" in page
    assert "a.tar.gz uploaded" in page and "no comment yet" in page
    assert site.client().get(f"/job/{job.key}").status_code == 200


HOSTILE = '<script>alert("x")</script>'


def test_hostile_names_and_texts_are_escaped(site: Instance) -> None:
    job = make_job("n<i>", "r<b>1</b>", "7<x>", state=JobState.FINISHED, pr_number=7, repo=f"evil/{HOSTILE}",
                   rows=(Row("Jan 01 00:00:00 UTC 2027", "finished", f"{HOSTILE}<br/>second line"),))
    site.save(replace(job, result_status=HOSTILE))
    site.deliver(f"evil/{HOSTILE}#7", f"handled {HOSTILE}")
    for path in ("/", "/job/7%3Cx%3E", "/pr/evil/x/7"):
        html = site.client().get(path).get_data(as_text=True)
        assert "<script" not in html and "<i>" not in html and "<b>1" not in html and "<x>" not in html
    job_page = site.client().get("/job/7%3Cx%3E").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;<br>second line" in job_page


@pytest.mark.parametrize(("token", "path", "headers", "query", "status"), [
    ("", "/", {}, "", 200),
    (TOKEN, "/", {}, "", 401),
    (TOKEN, "/", {"Authorization": f"Bearer {TOKEN}"}, "", 200),
    (TOKEN, "/", {"Authorization": f"bearer {TOKEN}"}, "", 200),
    (TOKEN, "/", {"Authorization": "Bearer wrong"}, "", 401),
    (TOKEN, "/", {"Authorization": f"Basic {TOKEN}"}, "", 401),
    (TOKEN, "/", {}, f"?token={TOKEN}", 200),
    (TOKEN, "/", {}, "?token=wrong", 401),
    (TOKEN, "/pr/a/b/1", {}, "", 401),
    (TOKEN, "/job/1", {}, "", 401),
    (TOKEN, "/metrics", {}, "", 401),
    (TOKEN, "/metrics", {"Authorization": f"Bearer {TOKEN}"}, "", 200),
    (TOKEN, "/healthz", {}, "", 200),
], ids=["no-token-set", "none", "bearer", "bearer-lower-case", "wrong-bearer", "basic", "query", "wrong-query",
        "pr-page", "job-page", "metrics", "metrics-bearer", "healthz-never"])
def test_the_status_token(token: str, path: str, headers: Dict[str, str], query: str, status: int) -> None:
    response = Instance(token).client().get(path + query, headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="eessi-bot"'
        assert TOKEN not in response.get_data(as_text=True)


def test_a_browser_that_came_with_the_token_follows_links_with_a_cookie_that_is_not_the_token() -> None:
    client = Instance(TOKEN).client()
    first = client.get(f"/?token={TOKEN}")
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    assert TOKEN not in first.get_data(as_text=True)
    assert client.get("/pr/a/b/1").status_code == 404
    assert Instance(TOKEN).client().get("/pr/a/b/1").status_code == 401


@pytest.mark.parametrize("path", ["/", "/webhook"], ids=["root", "webhook"])
def test_webhooks_never_need_the_status_token(path: str) -> None:
    body = b'{"zen": "ok", "hook_id": 1}'
    response = Instance(TOKEN).client().post(path, data=body, headers=delivery_headers("ping", body, SECRET, "abc-1"))
    assert response.status_code == 202


def test_pages_fetch_nothing_and_run_no_script(site: Instance) -> None:
    response = site.client().get("/")
    html = response.get_data(as_text=True)
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert '<meta http-equiv="refresh" content="10">' in html


def failing(health: Health, since: float, last: float) -> None:
    health.github_failed(since, "create_comment", "transient", "HTTP 502: Bad Gateway", write=True)
    health.github_failed(last, "edit_comment", "transient", "HTTP 503: Service Unavailable", write=True)


@pytest.mark.parametrize(("history", "pending", "reason"), [
    ([], 3, None),
    ([("fail", 240, 200)], 3, None),
    ([("fail", 400, 390)], 3, "GitHub writes have failed for 6 min 40 s; 3 writes wait (last error: edit_comment: "
                              "HTTP 503: Service Unavailable)"),
    ([("fail", 400, 390)], 0, None),
    ([("fail", 700, 50)], 0, "GitHub writes have failed for 11 min 40 s; 0 writes wait (last error: edit_comment: "
                             "HTTP 503: Service Unavailable)"),
    ([("fail", 700, 650), ("ok", 600, 0)], 3, None),
    ([("read", 900, 800)], 3, None),
], ids=["no-failure", "failing-4-min", "failing-6-min-writes-wait", "one-failure-nothing-waits",
        "refused-for-good", "succeeded-since", "reads-only"])
def test_healthz_is_degraded_when_github_writes_fail_for_5_minutes(
        site: Instance, history: List[Tuple[str, int, int]], pending: int, reason: Optional[str]) -> None:
    now = site.clock.now()
    health = site.metrics.health
    for what, first, last in history:
        if what == "fail":
            failing(health, now - first, now - last)
        elif what == "ok":
            health.write_ok(now - first)
        else:
            health.github_failed(now - first, "get_pull", "transient", "HTTP 502", write=False)
    with site.store.transaction() as tx:
        for n in range(pending):
            tx.put(Effects([CommentEffect(f"k{n}", REPO, 7, "body")]), now)
    report = site.client().get("/healthz").get_json()
    assert report["status"] == ("degraded" if reason else "ok")
    assert report.get("reason") == reason
    assert set(report) == ({"status", "inbox", "outbox"} | ({"reason"} if reason else set()))
    assert report["outbox"]["pending"] == pending
    assert DEGRADED_AFTER == 300.0
    page = text(site.client().get("/").get_data(as_text=True))
    assert (f"status: {report['status']}" in page) and ((reason or "") in page)


@pytest.mark.parametrize(("cycle", "roles", "shown"), [
    (None, "intake, job manager", ["manager no cycle yet", "batch system not asked yet"]),
    (None, "intake", ["manager runs in its own process (eessi-bot job-manager)"]),
    (Cycle(at=0.0, seconds=0.25, tracked=3, reachable=True), "intake, job manager",
     ["took 0.25 s, jobs followed: 3", "batch system reachable"]),
    (Cycle(at=0.0, seconds=1.5, tracked=3, reachable=False), "intake, job manager", ["batch system NOT reachable"]),
    (Cycle(at=0.0, seconds=0.01, tracked=0, reachable=None), "intake, job manager",
     ["batch system not asked (no job to follow)"]),
], ids=["not-yet", "split-mode", "reachable", "unreachable", "nothing-to-ask"])
def test_the_job_manager_card(site: Instance, cycle: Optional[Cycle], roles: str, shown: List[str]) -> None:
    site.metrics.health.started(roles)
    if cycle is not None:
        site.metrics.health.cycle(replace(cycle, at=site.clock.now() - 5))
    page = text(site.client().get("/").get_data(as_text=True))
    for words in shown:
        assert words in page


def test_the_disk_card_shows_the_last_count_and_never_waits_for_one(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    (jobs / "2024.06").mkdir(parents=True)
    (jobs / "2024.06" / "out").write_bytes(b"x" * 200_000)
    site = Instance()
    site.metrics.disk = DiskUsage({"jobs tree": jobs, "trash": tmp_path / "trash"}, clock=site.clock.now)
    site.metrics.health = Health(replace(site.metrics.health.snapshot().site, jobs_dir=jobs,
                                         trash_dir=tmp_path / "trash"), site.clock.now())
    site.app = create_app(SECRET, site.store, site.clock, site.metrics, Wakeup())
    first = text(site.client().get("/").get_data(as_text=True))
    assert "jobs tree counting\u2026" in first or "jobs tree 2" in first
    wait_for(lambda: not site.metrics.disk.walking() and len(site.metrics.disk.read()) == 2)
    page = text(site.client().get("/").get_data(as_text=True))
    assert re.search(r"jobs tree \d+\.\d KiB \(2 entries; counted 0 s ago in 0 s\)", page), page
    assert "trash not there yet (looked 0 s ago)" in page
