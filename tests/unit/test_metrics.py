"""`/metrics` as Prometheus reads it (prometheus_client's own parser), the wrappers that count, job times
and the disk-use counter."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple, cast

import pytest
from prometheus_client.parser import text_string_to_metric_families

from eessi_bot.core.effects import CommentEffect, Effects
from eessi_bot.core.job_comment import comment_date
from eessi_bot.core.job_times import duration, job_times, parse_comment_date
from eessi_bot.core.jobs import JobState, Row
from eessi_bot.jobs.manager import CycleStats
from eessi_bot.ports.github import GitHub, NotFound, PullRequest, RateLimited, Rejected, Transient
from eessi_bot.ports.object_store import StoreRefused
from eessi_bot.ports.scheduler import SchedulerUnavailable, Tracked
from eessi_bot.ports.wakeup import Wakeup
from eessi_bot.service.disk import DiskUsage
from eessi_bot.service.health import Health
from eessi_bot.service.instruments import ObservedGitHub, ObservedObjectStore, ObservedScheduler
from eessi_bot.service.metrics import Metrics
from eessi_bot.web.app import create_app
from tests.fakes.clock import FakeClock
from tests.fakes.github_port import FlakyGitHub
from tests.fakes.jobs import make_job
from tests.fakes.memory_store import MemoryStore
from tests.fakes.object_store import FakeObjectStore
from tests.fakes.pipeline import Pipeline
from tests.fakes.scheduler import FakeScheduler
from tests.fakes.webhooks import delivery_headers, encode
from tests.waiting import wait_for

Samples = Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]


def samples(metrics: Metrics) -> Samples:
    """Every sample of an exposition, parsed as Prometheus parses it."""
    parsed: Samples = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            parsed[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return parsed


def value(parsed: Samples, name: str, **labels: str) -> float:
    return parsed.get((name, tuple(sorted(labels.items()))), 0.0)


def test_two_runtimes_in_one_process_count_apart() -> None:
    one, two = Metrics(), Metrics()
    one.inc("eessi_bot_deliveries_total", event="ping", result="queued")
    assert value(samples(one), "eessi_bot_deliveries_total", event="ping", result="queued") == 1
    assert value(samples(two), "eessi_bot_deliveries_total", event="ping", result="queued") == 0


@pytest.mark.parametrize(("headers", "status", "result", "reason"), [
    ({}, 202, "queued", None),
    ({"x-hub-signature-256": "sha256=" + "0" * 64}, 401, "refused", "signature does not match"),
    ({"x-hub-signature-256": None}, 401, "refused", "missing signature"),
    ({"x-hub-signature-256": "md5=abc"}, 401, "refused", "malformed signature header"),
], ids=["queued", "bad-signature", "no-signature", "malformed-signature"])
def test_deliveries_received_and_rejected_by_reason(headers: Dict[str, Optional[str]], status: int, result: str,
                                                    reason: Optional[str]) -> None:
    metrics, store, clock = Metrics(), MemoryStore(), FakeClock()
    metrics.watch(store, clock)
    client = create_app("s3cret", store, clock, metrics, Wakeup()).test_client()
    body = encode({"zen": "hello", "hook_id": 1})
    sent = delivery_headers("ping", body, "s3cret", str(uuid.uuid4()))
    if headers:
        sent = {k: v for k, v in sent.items() if not k.lower().startswith("x-hub-signature")}
        sent.update({k: v for k, v in headers.items() if v is not None})
    assert client.post("/webhook", data=body, headers=sent).status_code == status
    parsed = samples(metrics)
    event = "ping" if result == "queued" else ""
    assert value(parsed, "eessi_bot_deliveries_total", event=event, result=result) == 1
    if reason is not None:
        assert value(parsed, "eessi_bot_deliveries_rejected_total", reason=reason) == 1
    assert value(parsed, "eessi_bot_inbox_deliveries", state="pending") == (1 if status == 202 else 0)


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    made = Pipeline(tmp_path)
    yield made
    made.close()


def test_counters_move_as_a_command_goes_through(pipeline: Pipeline) -> None:
    metrics = pipeline.runtime.metrics
    before = samples(metrics)
    assert value(before, "eessi_bot_deliveries_handled_total", event="issue_comment", outcome="done") == 0
    pipeline.comment("bot: help")
    after = samples(metrics)
    assert value(after, "eessi_bot_deliveries_handled_total", event="issue_comment", outcome="done") == 1
    assert value(after, "eessi_bot_handler_duration_seconds_count", event="issue_comment") == 1
    assert value(after, "eessi_bot_github_calls_total", call="create_comment") == 1
    assert value(after, "eessi_bot_github_calls_total", call="add_reaction") == 1
    assert value(after, "eessi_bot_outbox_writes", state="sent") == 2
    assert value(after, "eessi_bot_inbox_deliveries", state="done") == 1
    assert value(after, "eessi_bot_inbox_oldest_pending_age_seconds") == 0
    assert pipeline.runtime.metrics.health.snapshot().last_write_at == pipeline.clock.now()


def test_a_failing_delivery_counts_as_retry(pipeline: Pipeline) -> None:
    def unavailable(repo: str, number: int) -> PullRequest:
        raise Transient("HTTP 502: Bad Gateway")

    pipeline.github.get_pull = unavailable  # type: ignore[method-assign]
    assert "retrying" in pipeline.comment("bot: build for:arch=x86_64/amd/zen2")
    parsed = samples(pipeline.runtime.metrics)
    assert value(parsed, "eessi_bot_deliveries_handled_total", event="issue_comment", outcome="retry") == 1
    assert value(parsed, "eessi_bot_github_errors_total", call="get_pull", kind="transient") == 1
    assert value(parsed, "eessi_bot_inbox_oldest_pending_age_seconds") == 0


class Failing:
    """A GitHub whose every edit fails with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        raise self.error


@pytest.mark.parametrize(("error", "kind", "waits", "failing"), [
    (Transient("HTTP 502: Bad Gateway"), "transient", None, True),
    (RateLimited("HTTP 403: You have exceeded a secondary rate limit", 0.0), "rate_limited", "secondary", True),
    (RateLimited("HTTP 403: API rate limit exceeded for installation", 0.0), "rate_limited", "primary", True),
    (Rejected("HTTP 422: Validation Failed", 422), "rejected", None, True),
    (NotFound("HTTP 404: Not Found"), "not_found", None, False),
    (RuntimeError("bug"), "other", None, True),
], ids=["transient", "secondary-limit", "primary-limit", "rejected", "comment-gone", "other"])
def test_github_failures_by_kind(error: Exception, kind: str, waits: Optional[str], failing: bool) -> None:
    metrics, clock = Metrics(), FakeClock()
    github = ObservedGitHub(cast(GitHub, Failing(error)), metrics, clock)
    with pytest.raises(type(error)):
        github.edit_comment("o/r", 1, "x")
    parsed = samples(metrics)
    assert value(parsed, "eessi_bot_github_calls_total", call="edit_comment") == 1
    assert value(parsed, "eessi_bot_github_errors_total", call="edit_comment", kind=kind) == 1
    for limit in ("primary", "secondary"):
        assert value(parsed, "eessi_bot_github_rate_limit_waits_total", limit=limit) == (1 if waits == limit else 0)
    snapshot = metrics.health.snapshot()
    assert snapshot.last_error is not None and snapshot.last_error.kind == kind
    assert snapshot.failing_since == (clock.now() if failing else None)
    assert value(parsed, "eessi_bot_github_writes_failing_since_seconds") == (clock.now() if failing else 0)


def test_a_read_failure_is_not_a_failing_write_and_a_write_ends_the_failing() -> None:
    metrics, clock = Metrics(), FakeClock()
    inner = FlakyGitHub(app_id=1, slug="bot")
    github = ObservedGitHub(inner, metrics, clock)
    inner.fail("create", Transient("HTTP 500"))
    with pytest.raises(Transient):
        github.create_comment("o/r", 1, "x")
    assert metrics.health.snapshot().failing_since == clock.now()
    assert list(github.iter_comments("o/r", 1)) == []
    clock.advance(5)
    github.create_comment("o/r", 1, "x")
    assert metrics.health.snapshot().failing_since is None
    assert metrics.health.snapshot().last_write_at == clock.now()
    assert value(samples(metrics), "eessi_bot_github_calls_total", call="iter_comments") == 1


def test_the_rate_limit_github_reported_is_exported() -> None:
    metrics = Metrics()
    inner = FlakyGitHub(app_id=1, slug="bot")
    inner.rate_limit = (4321, 5000)  # type: ignore[attr-defined]  # what GitHubApp keeps
    ObservedGitHub(inner, metrics, FakeClock()).add_reaction("o/r", 1, "eyes")
    assert value(samples(metrics), "eessi_bot_github_rate_limit_remaining") == 4321
    assert ("eessi_bot_github_rate_limit_remaining", ()) not in samples(Metrics())


@pytest.mark.parametrize(("query", "call"), [
    ("poll", lambda s: s.poll([Tracked("1", Path("/x"))])),
    ("end_states", lambda s: s.end_states([Tracked("1", Path("/x"))])),
    ("release", lambda s: s.release(Tracked("1", Path("/x")))),
    ("cancel", lambda s: s.cancel(Tracked("1", Path("/x")))),
], ids=["poll", "end-states", "release", "cancel"])
def test_scheduler_query_errors(query: str, call: Callable[[ObservedScheduler], object]) -> None:
    metrics, inner = Metrics(), FakeScheduler()
    inner.unavailable = True
    with pytest.raises(SchedulerUnavailable):
        call(ObservedScheduler(inner, metrics, FakeClock()))
    assert value(samples(metrics), "eessi_bot_scheduler_errors_total", query=query) == 1
    failure = metrics.health.snapshot().scheduler_error
    assert failure is not None and failure.call == query and "slurmctld is not answering" in failure.message


def test_uploads_and_bytes(tmp_path: Path) -> None:
    metrics = Metrics()
    store = ObservedObjectStore(FakeObjectStore(), metrics)
    artefact = tmp_path / "a.tar.gz"
    artefact.write_bytes(b"x" * 1000)
    store.put_file("eessi-staging", "a.tar.gz", artefact, hashlib.sha256(b"x" * 1000).hexdigest())
    store.put_bytes("eessi-staging", "a.tar.gz.meta.txt", b"{}", hashlib.sha256(b"{}").hexdigest())
    with pytest.raises(StoreRefused, match="checksum mismatch"):
        store.put_bytes("eessi-staging", "k", b"abc", "0" * 64)
    parsed = samples(metrics)
    assert value(parsed, "eessi_bot_upload_objects_total", result="ok") == 2
    assert value(parsed, "eessi_bot_upload_objects_total", result="error") == 1
    assert value(parsed, "eessi_bot_upload_bytes_total") == 1002


def test_manager_cycles_observe_queue_and_run_times_and_ends() -> None:
    metrics, clock = Metrics(), FakeClock()
    rows = (Row(comment_date(clock.now() - 700), "submitted", ""), Row(comment_date(clock.now() - 400), "running", ""))
    running = make_job("cpu_zen2", "r1", "1", state=JobState.RUNNING, rows=rows)
    finished = replace(make_job("cpu_zen4", "r1", "2", state=JobState.FINISHED,
                                rows=(*rows, Row(comment_date(clock.now()), "finished", ""))),
                       end_state="COMPLETED", result_status="SUCCESS")
    vanished = replace(make_job("cpu_zen4", "r2", "3", state=JobState.FINISHED), end_state="UNKNOWN",
                       result_status="<b>weird</b>")
    metrics.manager_cycle(CycleStats(tracked=3, seconds=0.2, reachable=True, moved=[running, finished, vanished]),
                          clock.now())
    parsed = samples(metrics)
    assert value(parsed, "eessi_bot_job_queue_seconds_count", node_type="cpu_zen2") == 1
    assert value(parsed, "eessi_bot_job_queue_seconds_sum", node_type="cpu_zen2") == 300
    assert value(parsed, "eessi_bot_job_run_seconds_sum", node_type="cpu_zen4") == 400
    assert value(parsed, "eessi_bot_jobs_finished_total", node_type="cpu_zen4", end_state="COMPLETED",
                 result="SUCCESS") == 1
    assert value(parsed, "eessi_bot_jobs_finished_total", node_type="cpu_zen4", end_state="UNKNOWN",
                 result="OTHER") == 1
    assert value(parsed, "eessi_bot_manager_cycle_duration_seconds_count") == 1
    assert value(parsed, "eessi_bot_scheduler_up") == 1
    assert value(parsed, "eessi_bot_manager_last_cycle_seconds") == clock.now()


def test_jobs_by_state_and_node_type_and_outbox_age_are_read_from_the_store() -> None:
    metrics, store, clock = Metrics(), MemoryStore(), FakeClock()
    metrics.watch(store, clock)
    with store.transaction() as tx:
        for node_type, state in (("cpu_zen2", JobState.RUNNING), ("cpu_zen4", JobState.RUNNING),
                                 ("cpu_zen4", JobState.FINISHED)):
            tx.save_job(make_job(node_type, state.value, "1", state=state), clock.now())
        tx.put(Effects([CommentEffect("k", "o/r", 1, "body")]), clock.now() - 90)
    parsed = samples(metrics)
    assert value(parsed, "eessi_bot_jobs_total", state="running", node_type="cpu_zen4") == 1
    assert value(parsed, "eessi_bot_jobs_total", state="finished", node_type="cpu_zen4") == 1
    assert value(parsed, "eessi_bot_outbox_oldest_pending_age_seconds") == 90
    assert value(parsed, "eessi_bot_outbox_writes", state="pending") == 1


@pytest.mark.parametrize(("text", "epoch"), [
    ("Jan 01 00:00:00 UTC 1970", 0.0),
    ("Mar 01 12:00:05 UTC 2024", 1709294405.0),
    ("Mar 1 12:00:05 UTC 2024", 1709294405.0),
    ("Mar 01 12:00:05 CET 2024", None),
    ("Foo 01 12:00:05 UTC 2024", None),
    ("Mar 01 12:00 UTC 2024", None),
    ("Mar 01 25:00:05 UTC 2024", None),
    ("", None),
], ids=["epoch", "eessi-format", "one-digit-day", "not-utc", "no-month", "no-seconds", "hour-25", "empty"])
def test_row_dates(text: str, epoch: Optional[float]) -> None:
    assert parse_comment_date(text) == epoch
    if epoch is not None:
        assert parse_comment_date(comment_date(epoch)) == epoch


@pytest.mark.parametrize(("steps", "queued", "ran"), [
    ([("submitted", 100)], 100, None),
    ([("submitted", 100), ("released", 90), ("running", 60)], 40, 60),
    ([("submitted", 100), ("released", 90), ("running", 60), ("finished", 10)], 40, 50),
    ([("submitted", 100), ("released", 90), ("finished", 10)], 10, 80),
    ([("submitted", 100), ("finished", 10)], 90, None),
    ([], None, None),
], ids=["waiting", "running", "finished", "ended-between-polls", "cancelled-while-held", "not-submitted"])
def test_queue_and_run_times(steps: List[Tuple[str, int]], queued: Optional[float], ran: Optional[float]) -> None:
    clock = FakeClock()
    job = make_job("n", "r", "1", rows=tuple(Row(comment_date(clock.now() - ago), status, "") for status, ago in steps))
    times = job_times(job)
    assert (times.queued_seconds(clock.now()), times.run_seconds(clock.now())) == (queued, ran)


@pytest.mark.parametrize(("seconds", "shown"), [
    (None, "\u2014"), (0.4, "0 s"), (59, "59 s"), (65, "1 min 05 s"), (7260, "2 h 01 min"), (90000, "1 d 01 h"),
], ids=["unknown", "under-a-second", "seconds", "minutes", "hours", "days"])
def test_durations(seconds: Optional[float], shown: str) -> None:
    assert duration(seconds) == shown


def test_disk_use_is_counted_in_the_background_never_following_links_and_at_most_every_interval(
        tmp_path: Path) -> None:
    jobs, outside = tmp_path / "jobs", tmp_path / "outside"
    (jobs / "2024.06" / "pr_1").mkdir(parents=True)
    (jobs / "trash_bin" / "old").mkdir(parents=True)
    outside.mkdir()
    (outside / "big").write_bytes(os.urandom(1 << 20))
    (jobs / "2024.06" / "pr_1" / "out").write_bytes(os.urandom(64 << 10))
    (jobs / "trash_bin" / "old" / "tgz").write_bytes(os.urandom(128 << 10))
    (jobs / "2024.06" / "pr_1" / "link").symlink_to(outside)
    now = [1000.0]
    disk = DiskUsage({"jobs tree": jobs, "trash": jobs / "trash_bin", "none": tmp_path / "none"}, interval=600,
                     clock=lambda: now[0])
    assert disk.read() == {}
    wait_for(lambda: len(disk.read()) == 3 and not disk.walking())
    counts = disk.read()
    assert not counts["none"].exists and counts["jobs tree"].exists
    assert 64 << 10 <= counts["jobs tree"].bytes < 1 << 20
    assert 128 << 10 <= counts["trash"].bytes < 1 << 20
    (jobs / "2024.06" / "pr_1" / "more").write_bytes(os.urandom(256 << 10))
    now[0] += 599
    assert disk.read()["jobs tree"] == counts["jobs tree"]
    assert not disk.walking()
    now[0] += 1
    wait_for(lambda: not disk.walking() and disk.read()["jobs tree"].bytes >= (320 << 10))


def test_health_starts_without_site() -> None:
    assert Health().snapshot().site.instance == ""
