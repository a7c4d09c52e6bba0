"""The status page's read-only questions (`ports.store.OverviewStore`), kept alike by the SQLite store and
the in-memory one (the `store` fixture runs each test against both)."""

from __future__ import annotations

from dataclasses import replace

from eessi_bot.core.effects import CommentEffect, Effects, ReactionEffect
from eessi_bot.core.jobs import JobState
from eessi_bot.core.uploads import Upload, UploadState
from eessi_bot.core.webhook import Delivery
from eessi_bot.ports.store import Store
from tests.fakes.jobs import make_job


def deliver(store: Store, number: int, subject: str, at: float) -> str:
    delivery_id = f"d{number}"
    store.inbox.store(Delivery(id=delivery_id, event="issue_comment", action="created", subject=subject,
                               body=b'{"secret": "body"}'), at)
    return delivery_id


def test_the_oldest_delivery_not_yet_handled(store: Store) -> None:
    assert store.overview.oldest_pending_delivery() is None
    first = deliver(store, 1, "o/r#1", 100.0)
    deliver(store, 2, "o/r#2", 200.0)
    assert store.overview.oldest_pending_delivery() == 100.0
    claimed = store.inbox.claim("w", 300.0)
    assert claimed is not None and claimed.delivery.id == first
    assert store.overview.oldest_pending_delivery() == 100.0, "processing is not handled yet"
    with store.transaction() as tx:
        tx.finish_delivery(first, "handled", 300.0)
    assert store.overview.oldest_pending_delivery() == 200.0
    assert [store.overview.delivery_state(d) for d in (first, "d2", "nope")] == ["done", "pending", None]


def test_the_oldest_unsent_write(store: Store) -> None:
    assert store.overview.oldest_pending_write() is None
    with store.transaction() as tx:
        tx.put(Effects([CommentEffect("c1", "o/r", 1, "one")]), 100.0)
        tx.put(Effects([ReactionEffect("r1", "o/r", 5, "eyes")]), 150.0)
    assert store.overview.oldest_pending_write() == 100.0
    store.outbox.record_created("c1", 11, "https://example.org/c1", 1, 200.0)
    store.outbox.record_done("r1", 1, 200.0)
    assert store.overview.oldest_pending_write() is None
    with store.transaction() as tx:
        tx.put(Effects([CommentEffect("c1", "o/r", 1, "two")]), 400.0)
    assert store.overview.oldest_pending_write() == 400.0, "an edit waits since its new body"
    store.outbox.record_failed("c1", "HTTP 422", 450.0)
    assert store.overview.oldest_pending_write() is None


def test_recent_deliveries_newest_first_and_per_pr_without_their_bodies(store: Store) -> None:
    for number, subject in enumerate(("o/r#1", "o/r#2", "o/r#1"), start=1):
        deliver(store, number, subject, float(number))
    store.inbox.store(Delivery(id="d4", event="ping", action=None, subject=None, body=b"{}"), 4.0)
    assert [d.id for d in store.overview.recent_deliveries(10)] == ["d4", "d3", "d2", "d1"]
    assert [d.id for d in store.overview.recent_deliveries(2)] == ["d4", "d3"]
    mine = store.overview.recent_deliveries(10, subject="o/r#1")
    assert [(d.id, d.subject, d.state, d.received_at) for d in mine] == [("d3", "o/r#1", "pending", 3.0),
                                                                        ("d1", "o/r#1", "pending", 1.0)]
    assert not hasattr(mine[0], "body")


def test_recent_jobs_and_counts(store: Store) -> None:
    with store.transaction() as tx:
        tx.save_job(make_job("cpu_zen2", "r1", "1", state=JobState.RUNNING), 10.0)
        tx.save_job(make_job("cpu_zen4", "r1", "2", state=JobState.RUNNING), 20.0)
        tx.save_job(make_job("cpu_zen4", "r2", "3", state=JobState.FINISHED), 30.0)
    with store.transaction() as tx:
        tx.save_job(replace(make_job("cpu_zen2", "r1", "1"), state=JobState.FINISHED), 40.0)
        tx.save_upload(Upload(key="u1", job_key="k", repo="o/r", pr_number=1, artefact="a.tgz", repo_id="r1",
                              arch="x86_64/amd/zen2", accelerator=None, deploy_key="d", approved_by="boss",
                              state=UploadState.UPLOADED), 40.0)
    assert [job.job_id for job in store.overview.recent_jobs(10)] == ["1", "3", "2"]
    assert [job.job_id for job in store.overview.recent_jobs(1)] == ["1"]
    assert store.overview.job_counts() == {("finished", "cpu_zen2"): 1, ("running", "cpu_zen4"): 1,
                                           ("finished", "cpu_zen4"): 1}
    assert store.overview.upload_counts() == {"uploaded": 1}
