"""The store contract, kept by the SQLite store and the in-memory one alike (the `store` fixture
runs every test against both): deliveries stored once and claimed in order per PR, writes
coalesced by key, and a unit of work that saves all or nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import List

import pytest

from eessi_bot.adapters.sqlite.store import SqliteStore
from eessi_bot.core.effects import Effects
from eessi_bot.core.jobs import BuildPin, Checkout, Job, JobState
from eessi_bot.core.uploads import DeployLabel, Upload, UploadState
from eessi_bot.core.webhook import Delivery, parse_delivery
from eessi_bot.ports.store import ClosedPr, Store


def delivery(delivery_id: str, number: int = 1, repo: str = "o/r") -> Delivery:
    body = f'{{"action":"created","issue":{{"number":{number}}},"repository":{{"full_name":"{repo}"}}}}'
    return parse_delivery({"x-github-delivery": delivery_id, "x-github-event": "issue_comment"}, body.encode())


def job(key: str, state: JobState = JobState.SUBMITTED, build_key: str = "d1:0", **changes: object) -> Job:
    made = Job(key=key, build_key=build_key, repo="o/r", pr_number=1, node_type="n", repo_id="r",
               software_subdir="x86_64/generic", accelerator=None, on_arch="generic", on_accelerator=None,
               job_dir="/nonexistent", backend="local", comment_key=f"job:{key}", state=state, job_id=key)
    return replace(made, **changes)  # type: ignore[arg-type]


def comment(key: str, body: str) -> Effects:
    effects = Effects()
    effects.comment(key, "o/r", 1, body)
    return effects


def finish(store: Store, delivery_id: str, effects: Effects, now: float) -> None:
    with store.transaction() as tx:
        tx.put(effects, now, delivery_id)
        tx.finish_delivery(delivery_id, "ok", now)


# -- inbox ---------------------------------------------------------------------------------------
def test_same_id_is_stored_once(store: Store) -> None:
    assert store.inbox.store(delivery("a"), 1.0)
    assert not store.inbox.store(delivery("a"), 2.0)
    assert store.inbox.counts() == {"pending": 1}


def test_one_subject_at_a_time_in_order(store: Store) -> None:
    for index, (delivery_id, number) in enumerate([("a1", 1), ("a2", 1), ("b1", 2)]):
        store.inbox.store(delivery(delivery_id, number), float(index))
    first = store.inbox.claim("w1", 10.0)
    second = store.inbox.claim("w2", 10.0)
    assert first is not None and second is not None
    assert (first.delivery.id, second.delivery.id) == ("a1", "b1")
    assert store.inbox.claim("w3", 10.0) is None, "a2 must wait until a1 of the same PR is done"
    finish(store, "a1", Effects(), 11.0)
    third = store.inbox.claim("w3", 12.0)
    assert third is not None and third.delivery.id == "a2"
    record = store.inbox.get("a1")
    assert record is not None and (record.state, record.outcome, record.attempts) == ("done", "ok", 1)


def test_unfinished_work_is_resumed_after_a_crash(store: Store) -> None:
    store.inbox.store(delivery("a"), 1.0)
    claimed = store.inbox.claim("w1", 2.0)
    assert claimed is not None and claimed.attempts == 1
    assert store.inbox.requeue_unfinished() == 1
    again = store.inbox.claim("w1", 3.0)
    assert again is not None and again.delivery.id == "a" and again.attempts == 2


def test_sqlite_resumes_across_processes(tmp_path: Path) -> None:
    first = SqliteStore.in_dir(tmp_path)
    first.inbox.store(delivery("a"), 1.0)
    assert first.inbox.claim("w1", 2.0) is not None
    first.close()
    restarted = SqliteStore.in_dir(tmp_path)
    assert restarted.inbox.requeue_unfinished() == 1
    assert restarted.inbox.counts() == {"pending": 1}


def test_retry_waits_and_fail_is_final(store: Store) -> None:
    store.inbox.store(delivery("a"), 1.0)
    store.inbox.store(delivery("b", 2), 1.0)
    assert store.inbox.claim("w", 2.0) is not None
    store.inbox.retry("a", "GitHub down", 100.0)
    claimed = store.inbox.claim("w", 3.0)
    assert claimed is not None and claimed.delivery.id == "b"
    store.inbox.fail("b", "malformed", 4.0)
    assert store.inbox.claim("w", 50.0) is None
    assert store.inbox.next_ready_at() == 100.0
    assert store.inbox.claim("w", 100.0) is not None
    assert store.inbox.counts() == {"failed": 1, "processing": 1}


def test_a_retrying_delivery_is_not_overtaken_by_a_later_one_of_its_pr(store: Store) -> None:
    """A `bot: cancel` (or a close) must not run before the build it follows, which waits for a retry."""
    store.inbox.store(delivery("build"), 1.0)
    store.inbox.store(delivery("cancel"), 2.0)
    store.inbox.store(delivery("other-pr", 9), 3.0)
    claimed = store.inbox.claim("w", 10.0)
    assert claimed is not None and claimed.delivery.id == "build"
    store.inbox.retry("build", "GitHub 502", 100.0)
    later = store.inbox.claim("w", 11.0)
    assert later is not None and later.delivery.id == "other-pr"
    assert store.inbox.claim("w", 12.0) is None
    again = store.inbox.claim("w", 100.0)
    assert again is not None and again.delivery.id == "build"


def test_prune_forgets_only_old_handled_deliveries(store: Store) -> None:
    for name in ("old", "new", "waiting"):
        store.inbox.store(delivery(name, number=hash(name) % 1000), 1.0)
    for name, at in (("old", 10.0), ("new", 50.0)):
        assert store.inbox.claim("w", at) is not None
        finish(store, name, Effects(), at)
    assert store.inbox.prune(20.0) == 1
    assert store.inbox.get("old") is None and store.inbox.get("new") is not None
    assert store.inbox.counts() == {"done": 1, "pending": 1}


# -- outbox --------------------------------------------------------------------------------------
def test_a_delivery_ends_with_its_writes_or_not_at_all(store: Store) -> None:
    store.inbox.store(delivery("a"), 1.0)
    assert store.inbox.claim("w", 1.0) is not None
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put(comment("k", "hello"), 2.0, "a")
        tx.finish_delivery("a", "ok", 2.0)
        raise RuntimeError("crash before the commit")
    assert store.outbox.counts() == {"pending": 0, "failed": 0, "sent": 0}
    record = store.inbox.get("a")
    assert record is not None and record.state == "processing"
    finish(store, "a", comment("k", "hello"), 3.0)
    (item,) = store.outbox.due(3.0)
    assert (item.key, item.delivery_id, item.version) == ("k", "a", 1)
    assert item.body.endswith("<!-- eessi-bot:k -->")


@pytest.mark.parametrize(("bodies", "version"), [
    (["one"], 1),
    (["one", "one"], 1),
    (["one", "two", "three"], 3),
], ids=["once", "same-body-again", "new-bodies"])
def test_comment_versions_count_changes_only(store: Store, bodies: list, version: int) -> None:
    for at, body in enumerate(bodies):
        with store.transaction() as tx:
            tx.put(comment("k", body), float(at))
    item = store.outbox.get("k")
    assert item is not None and item.version == version and item.body.startswith(bodies[-1])


def test_a_reaction_is_stored_once(store: Store) -> None:
    effects = Effects()
    effects.reaction("r", "o/r", 5, "eyes")
    for at in (1.0, 2.0):
        with store.transaction() as tx:
            tx.put(effects, at)
    assert [(i.kind, i.target_id, i.body) for i in store.outbox.due(5.0)] == [("reaction", 5, "eyes")]


def test_sent_writes_leave_the_due_list_until_a_new_body(store: Store) -> None:
    with store.transaction() as tx:
        tx.put(comment("k", "v1"), 1.0)
    store.outbox.mark_in_flight("k", 2.0)
    assert store.outbox.get("k").in_flight  # type: ignore[union-attr]
    store.outbox.record_created("k", 77, "https://github/c/77", 1, 2.0)
    assert store.outbox.due(3.0) == [] and store.outbox.next_due_at() is None
    assert store.outbox.comment_url("k") == "https://github/c/77"
    with store.transaction() as tx:
        tx.put(comment("k", "v2"), 4.0)
    (item,) = store.outbox.due(4.0)
    assert (item.result_id, item.version, item.in_flight) == (77, 2, False)
    store.outbox.record_done("k", 2, 5.0)
    assert store.outbox.counts() == {"pending": 0, "failed": 0, "sent": 1}


def test_retry_refused_and_failed_writes(store: Store) -> None:
    with store.transaction() as tx:
        tx.put(comment("a", "x"), 1.0)
        tx.put(comment("b", "y"), 1.0)
    store.outbox.record_retry("a", "502", 60.0, 1.0)
    store.outbox.record_retry("b", "secondary rate limit", 30.0, 1.0, refused=True)
    assert store.outbox.due(10.0) == [] and store.outbox.next_due_at() == 30.0
    assert [i.key for i in store.outbox.due(60.0)] == ["b", "a"], "the earliest due first"
    assert (store.outbox.get("a").attempts, store.outbox.get("b").attempts) == (1, 0)  # type: ignore[union-attr]
    store.outbox.record_failed("a", "422", 61.0)
    assert store.outbox.counts() == {"pending": 1, "failed": 1, "sent": 0}
    with store.transaction() as tx:
        tx.put(comment("a", "x, changed"), 62.0)
    assert store.outbox.counts() == {"pending": 2, "failed": 0, "sent": 0}, "a new body revives a failed write"


def test_a_lost_comment_is_made_again(store: Store) -> None:
    with store.transaction() as tx:
        tx.put(comment("k", "v1"), 1.0)
    store.outbox.record_created("k", 5, "u", 1, 1.0)
    store.outbox.record_lost("k", 2.0)
    item = store.outbox.get("k")
    assert item is not None and item.result_id is None and item.result_url is None


# -- jobs ----------------------------------------------------------------------------------------
def test_a_job_and_its_comment_are_saved_together(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.save_job(job("1"), 1.0)
        tx.put(comment("job:1", "submitted"), 1.0)
        raise RuntimeError("crash before the commit")
    assert store.jobs.get("1") is None and store.outbox.get("job:1") is None
    with store.transaction() as tx:
        tx.save_job(job("1"), 1.0)
        tx.save_job(job("2"), 1.0)
        assert [j.key for j in tx.jobs_of_build("d1:0")] == ["1", "2"], "a transaction sees its own saves"
        tx.put(comment("job:1", "submitted"), 1.0)
    saved = store.jobs.get("1")
    assert saved is not None and saved.state is JobState.SUBMITTED and store.outbox.get("job:1") is not None


def test_a_save_keeps_who_cancelled(store: Store) -> None:
    with store.transaction() as tx:
        tx.save_job(job("1"), 1.0)
    store.jobs.set_cancelled_by("1", "alice", 2.0)
    with store.transaction() as tx:
        tx.save_job(job("1", JobState.RUNNING), 3.0)
    saved = store.jobs.get("1")
    assert saved is not None and (saved.state, saved.cancelled_by) == (JobState.RUNNING, "alice")


def test_active_for_pr_and_counts(store: Store) -> None:
    with store.transaction() as tx:
        tx.save_job(job("1", JobState.RELEASED), 1.0)
        tx.save_job(job("2", JobState.FINISHED), 2.0)
        tx.save_job(job("3", JobState.RUNNING, backend="slurm"), 3.0)
        tx.save_job(job("4", JobState.PREPARED, job_id=None), 4.0)
        tx.save_job(job("5", JobState.SUBMITTED, repo="o/other"), 5.0)
    assert [j.key for j in store.jobs.active("local")] == ["1", "5"]
    assert [j.key for j in store.jobs.for_pr("o/r", 1)] == ["1", "2", "3", "4"]
    assert store.jobs.unfinished_for_pr("o/r", 1) == 3
    assert store.jobs.counts() == {"released": 1, "finished": 1, "running": 1, "prepared": 1, "submitted": 1}


def test_abandon_fails_only_unsubmitted_jobs_of_the_delivery(store: Store) -> None:
    with store.transaction() as tx:
        tx.save_job(job("1", JobState.PREPARED, build_key="d1:0", job_id=None), 1.0)
        tx.save_job(job("2", JobState.SUBMITTED, build_key="d1:0"), 1.0)
        tx.save_job(job("3", JobState.PREPARING, build_key="d10:0", job_id=None), 1.0)
    assert store.jobs.abandon("d1", "given up", 2.0) == 1
    states = {j.key: (j.state, j.error) for j in store.jobs.for_pr("o/r", 1)}
    assert states == {"1": (JobState.SUBMIT_FAILED, "given up"), "2": (JobState.SUBMITTED, None),
                      "3": (JobState.PREPARING, None)}


def test_pins_first_one_wins(store: Store) -> None:
    checkout = Checkout(url="file:///x", base_ref="main", base_sha="b" * 40, head_sha="h" * 40,
                        merge_base="m" * 40, merged_tree="t" * 40)
    store.jobs.save_pin(BuildPin("d1:0", "o/r", 1, checkout), 1.0)
    store.jobs.save_pin(BuildPin("d1:0", "o/r", 1, replace(checkout, head_sha="x" * 40)), 2.0)
    pin = store.jobs.pin("d1:0")
    assert pin is not None and pin.checkout.head_sha == "h" * 40 and store.jobs.pin("other") is None


def test_comment_ids_until_the_metadata_names_them(store: Store) -> None:
    with store.transaction() as tx:
        tx.save_job(job("1"), 1.0)
        tx.put(comment("job:1", "submitted"), 1.0)
    assert store.jobs.comment_ids() == []
    store.outbox.record_created("job:1", 555, "u", 1, 2.0)
    assert [(j.key, cid) for j, cid in store.jobs.comment_ids()] == [("1", 555)]
    store.jobs.set_metadata_comment_id("1", 555)
    assert store.jobs.comment_ids() == []


def test_closed_prs_wait_until_done_and_reopen(store: Store) -> None:
    store.jobs.close_pr("o/r", 1, "close-1", False, "alice", 1.0)
    store.jobs.close_pr("o/r", 2, "close-2", True, "bob", 2.0)
    store.jobs.reopen_pr("o/r", 2)
    assert store.jobs.closed_pending() == [ClosedPr("o/r", 1, "close-1")]
    store.jobs.close_pr("o/r", 1, "close-1", False, "alice", 3.0)
    with store.transaction() as tx:
        tx.closed_done("o/r", 1, 4.0)
    assert store.jobs.closed_pending() == []
    store.jobs.close_pr("o/r", 1, "close-again", False, "alice", 5.0)
    assert store.jobs.closed_pending() == [ClosedPr("o/r", 1, "close-again")], "a re-close starts again"


def test_prune_jobs_keeps_what_is_still_needed(store: Store) -> None:
    with store.transaction() as tx:
        tx.save_job(job("old", JobState.FINISHED), 1.0)
        tx.save_job(job("running", JobState.RUNNING), 1.0)
        tx.put(comment("job:old", "done"), 1.0)
        tx.put(comment("job:running", "running"), 1.0)
    store.outbox.record_created("job:old", 1, "u", 1, 1.0)
    store.outbox.record_created("job:running", 2, "u", 1, 1.0)
    with store.transaction() as tx:
        tx.save_job(job("recent", JobState.FINISHED), 100.0)
        assert tx.prune_jobs(50.0) == 1
    assert sorted(j.key for j in store.jobs.for_pr("o/r", 1)) == ["recent", "running"]
    assert store.outbox.get("job:old") is None and store.outbox.get("job:running") is not None


def test_local_job_ids_are_never_reused(store: Store) -> None:
    ids = [store.jobs.next_local_id(float(i)) for i in range(3)]
    assert len(set(ids)) == 3 and all(i.isdigit() for i in ids)


def test_meta_values(store: Store) -> None:
    assert store.get_meta("app_slug") is None
    store.set_meta("app_slug", "bot")
    store.set_meta("app_slug", "bot-2")
    assert store.get_meta("app_slug") == "bot-2"


# -- deploys -------------------------------------------------------------------------------------
def upload(key: str, deploy_key: str = "deploy:o/r#1:d9", **changes: object) -> Upload:
    made = Upload(key=key, job_key=key.split("|")[0], repo="o/r", pr_number=1, artefact=key.split("|")[1],
                  repo_id="r", arch="x86_64/generic", accelerator=None, deploy_key=deploy_key, approved_by="alice")
    return replace(made, **changes)  # type: ignore[arg-type]


def test_the_deploy_label_is_on_until_removed(store: Store) -> None:
    assert store.uploads.label("o/r", 1) is None
    store.uploads.set_label(DeployLabel("o/r", 1, "alice", "d1", 1.0))
    store.uploads.set_label(DeployLabel("o/r", 2, "bob", "d2", 2.0))
    store.uploads.set_label(DeployLabel("o/r", 1, "carol", "d3", 3.0))
    assert [(lb.pr_number, lb.approved_by, lb.deploy_key) for lb in store.uploads.labels()] == [
        (2, "bob", "deploy:o/r#2:d2"), (1, "carol", "deploy:o/r#1:d3")]
    store.uploads.clear_label("o/r", 1)
    assert store.uploads.label("o/r", 1) is None and len(store.uploads.labels()) == 1


def test_uploads_are_due_until_done_and_saved_with_their_job(store: Store) -> None:
    with store.transaction() as tx:
        tx.save_job(job("1", JobState.FINISHED), 1.0)
        tx.save_upload(upload("1|a.tar.gz"), 1.0)
        tx.save_upload(upload("1|b.tar.gz", next_attempt_at=50.0), 1.0)
        tx.save_upload(upload("1|c.tar.gz", state=UploadState.SKIPPED, reason="older"), 1.0)
        assert [u.artefact for u in tx.uploads_of_deploy("deploy:o/r#1:d9")] == ["a.tar.gz", "b.tar.gz", "c.tar.gz"]
    assert [u.artefact for u in store.uploads.due(10.0)] == ["a.tar.gz"]
    assert store.uploads.next_due_at() == 0.0
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.save_upload(upload("1|a.tar.gz", state=UploadState.UPLOADED), 20.0)
        raise RuntimeError("crash before the commit")
    assert store.uploads.get("1|a.tar.gz").state is UploadState.PENDING  # type: ignore[union-attr]
    with store.transaction() as tx:
        tx.save_upload(upload("1|a.tar.gz", state=UploadState.UPLOADED, sha256="ab", size=3), 20.0)
    done = store.uploads.get("1|a.tar.gz")
    assert done is not None and (done.state, done.sha256, done.size, done.created_at) == (
        UploadState.UPLOADED, "ab", 3, 1.0)
    assert [u.artefact for u in store.uploads.due(60.0)] == ["b.tar.gz"]
    assert [u.key for u in store.uploads.for_pr("o/r", 1)] == ["1|a.tar.gz", "1|b.tar.gz", "1|c.tar.gz"]


def test_uploads_of_forgotten_jobs_are_pruned(store: Store) -> None:
    with store.transaction() as tx:
        tx.save_job(job("old", JobState.FINISHED), 1.0)
        tx.save_upload(upload("old|a.tar.gz", state=UploadState.UPLOADED), 1.0)
        tx.save_job(job("kept", JobState.FINISHED), 100.0)
        tx.save_upload(upload("kept|a.tar.gz", state=UploadState.UPLOADED), 1.0)
    with store.transaction() as tx:
        assert tx.prune_jobs(50.0) == 1
    assert [u.key for u in store.uploads.for_pr("o/r", 1)] == ["kept|a.tar.gz"]


# -- adoption ------------------------------------------------------------------------------------
def test_an_adopted_comment_is_edited_not_posted(store: Store) -> None:
    with store.transaction() as tx:
        tx.save_job(job("77", JobState.SUBMITTED, backend="slurm"), 1.0)
        tx.adopt_comment("job:77", "o/r", 1, 9001, "as the EESSI bot left it", 1.0)
    assert store.outbox.due(2.0) == [], "adopting writes nothing"
    found = store.jobs.with_job_id("slurm", "77")
    assert found is not None and found.key == "77" and store.jobs.with_job_id("local", "77") is None
    with store.transaction() as tx:
        tx.put(comment("job:77", "released"), 3.0)
    (item,) = store.outbox.due(3.0)
    assert (item.result_id, item.version, item.body.split("\n")[0]) == (9001, 2, "released")


def test_deliveries_of_one_pr_received_in_the_same_instant_keep_their_order(store: Store) -> None:
    for delivery_id in ("first", "second", "third"):
        store.inbox.store(delivery(delivery_id), 5.0)
    claimed = store.inbox.claim("w1", 6.0)
    assert claimed is not None and claimed.delivery.id == "first"
    assert store.inbox.claim("w2", 6.0) is None, "second waits for first, though both arrived at 5.0"
    finish(store, "first", Effects(), 7.0)
    again = store.inbox.claim("w2", 8.0)
    assert again is not None and again.delivery.id == "second"
    assert store.inbox.claim("w3", 8.0) is None


HOT_QUERIES = {
    "outbox due": ("SELECT * FROM outbox WHERE version > done_version AND failed = 0 AND next_attempt_at <= ? "
                   "ORDER BY next_attempt_at, created_at, rowid LIMIT ?", (1.0, 1)),
    "uploads due": ("SELECT * FROM uploads WHERE state = 'pending' AND next_attempt_at <= ? "
                    "ORDER BY next_attempt_at, created_at, rowid LIMIT ?", (1.0, 1)),
    "outbox next": ("SELECT MIN(next_attempt_at) FROM outbox WHERE version > done_version AND failed = 0", ()),
    "inbox next": ("SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'", ()),
}


@pytest.mark.parametrize("name", sorted(HOT_QUERIES))
def test_hot_queries_neither_scan_nor_sort_a_backlog(tmp_path: Path, name: str) -> None:
    """Issue 15: `Outbox.due` ran before every write and sorted the whole backlog ("USE TEMP B-TREE"),
    so the webhook's answer slowed down as answers piled up. Every hot query uses an index that
    matches its order."""
    store = SqliteStore.in_dir(tmp_path)
    sql, args = HOT_QUERIES[name]
    plan = " / ".join(str(row[3]) for row in store.db.connection().execute("EXPLAIN QUERY PLAN " + sql, args))
    assert "TEMP B-TREE" not in plan and " INDEX " in plan and not plan.startswith("SCAN"), plan


def test_the_claim_query_walks_pending_deliveries_in_order(tmp_path: Path) -> None:
    store = SqliteStore.in_dir(tmp_path)
    store.inbox.store(delivery("a"), 1.0)
    conn = store.db.connection()
    conn.set_trace_callback(None)
    statements: List[str] = []
    conn.set_trace_callback(statements.append)
    store.inbox.claim("w", 2.0)
    conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().startswith("SELECT")]
    assert selects and all(s == selects[0] for s in selects), "one query decides what a worker takes"
    select = selects[0]
    plan = " / ".join(str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + select))
    assert "TEMP B-TREE" not in plan and "deliveries_pending" in plan, plan
    assert "LIST SUBQUERY" in plan, "the PRs being worked on are looked up once, not per waiting delivery"
    assert "SEARCH p USING COVERING INDEX deliveries_by_subject_state" in plan, plan


# -- listing (`eessi-bot jobs`, `eessi-bot cleanup`) ---------------------------------------------

def save_listed_jobs(store: Store) -> None:
    with store.transaction() as tx:
        tx.save_job(job("1", JobState.RUNNING), 1.0)
        tx.save_job(job("2", JobState.FINISHED), 2.0)
        tx.save_job(job("3", JobState.SUBMITTED, pr_number=2), 3.0)
        tx.save_job(job("4", JobState.FINISHED, repo="o/other"), 4.0)
        tx.save_job(job("5", JobState.PREPARED, job_id=None), 5.0)


@pytest.mark.parametrize(("repo", "pr_number", "states", "expected"), [
    (None, None, None, ["1", "2", "3", "4", "5"]),
    ("o/r", None, None, ["1", "2", "3", "5"]),
    ("o/r", 1, None, ["1", "2", "5"]),
    (None, 1, None, ["1", "2", "4", "5"]),
    (None, None, [JobState.FINISHED], ["2", "4"]),
    ("o/r", 1, [JobState.RUNNING, JobState.PREPARED], ["1", "5"]),
    ("o/r", 7, None, []),
    ("o/nothing", None, None, []),
    (None, None, [], []),
], ids=["everything", "one-repo", "one-pr", "pr-number-in-every-repo", "one-state", "pr-and-states", "unknown-pr",
        "unknown-repo", "no-state-matches-nothing"])
def test_jobs_are_listed_by_repo_pr_and_state_oldest_first(store: Store, repo: object, pr_number: object,
                                                           states: object, expected: List[str]) -> None:
    save_listed_jobs(store)
    listed = store.jobs.list(repo, pr_number, states)  # type: ignore[arg-type]
    assert [j.key for j in listed] == expected


def test_a_listing_keeps_creation_order_and_shows_the_latest_row(store: Store) -> None:
    save_listed_jobs(store)
    with store.transaction() as tx:
        tx.save_job(job("1", JobState.FINISHED, result_status="SUCCESS"), 9.0)
    listed = store.jobs.list("o/r", 1, [JobState.FINISHED])
    assert [(j.key, j.result_status, j.created_at) for j in listed] == [("1", "SUCCESS", 1.0), ("2", None, 2.0)]


# -- retention counts (`eessi-bot gc --dry-run`) -------------------------------------------------

@pytest.mark.parametrize(("before", "expected"), [
    (10.0, 0), (10.5, 1), (30.0, 1), (30.5, 2), (1e12, 2),
], ids=["at-the-first-end", "after-the-first-end", "at-the-failed-end", "after-the-failed-end", "everything"])
def test_prunable_deliveries_are_what_prune_forgets(store: Store, before: float, expected: int) -> None:
    """Handled (done or failed) deliveries that finished strictly before the cutoff; pending ones never."""
    for name, number in (("done", 1), ("failed", 2), ("waiting", 3)):
        store.inbox.store(delivery(name, number), 1.0)
    assert store.inbox.claim("w", 10.0) is not None
    finish(store, "done", Effects(), 10.0)
    assert store.inbox.claim("w", 30.0) is not None
    store.inbox.fail("failed", "malformed", 30.0)
    assert store.inbox.prunable(before) == expected
    assert store.inbox.counts() == {"done": 1, "failed": 1, "pending": 1}, "counting changes nothing"
    assert store.inbox.prune(before) == expected


@pytest.mark.parametrize(("before", "expected"), [
    (10.0, []), (10.5, ["finished"]), (20.5, ["finished", "submit-failed"]), (1e12, ["finished", "submit-failed"]),
], ids=["at-the-first-change", "after-it", "after-the-failed-submission", "running-jobs-never"])
def test_prunable_jobs_are_what_prune_jobs_forgets(store: Store, before: float, expected: List[str]) -> None:
    with store.transaction() as tx:
        tx.save_job(job("running", JobState.RUNNING), 1.0)
        tx.save_job(job("finished", JobState.FINISHED), 10.0)
        tx.save_job(job("submit-failed", JobState.SUBMIT_FAILED, job_id=None), 20.0)
        tx.save_job(job("prepared", JobState.PREPARED, job_id=None), 5.0)
    assert store.jobs.prunable(before) == len(expected)
    assert len(store.jobs.for_pr("o/r", 1)) == 4, "counting changes nothing"
    with store.transaction() as tx:
        assert tx.prune_jobs(before) == len(expected)
    assert sorted(j.key for j in store.jobs.for_pr("o/r", 1)) == sorted(
        {"running", "finished", "submit-failed", "prepared"} - set(expected))
