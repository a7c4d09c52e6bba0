"""Retention: old deliveries, finished job records and trashed directories go; recent ones stay."""

from __future__ import annotations

from pathlib import Path

from eessi_bot.core.effects import Effects
from eessi_bot.core.jobs import Job, JobState
from eessi_bot.jobs.housekeeping import DAY, Housekeeping
from tests.fakes.job_site import JobSite
from tests.unit.test_store import delivery


def handled(site: JobSite, delivery_id: str) -> None:
    """A delivery stored, claimed and finished now."""
    site.store.inbox.store(delivery(delivery_id), site.clock.now())
    assert site.store.inbox.claim("w", site.clock.now()) is not None
    with site.store.transaction() as tx:
        tx.put(Effects(), site.clock.now(), delivery_id)
        tx.finish_delivery(delivery_id, "ok", site.clock.now())


def job(key: str, state: JobState) -> Job:
    return Job(key=key, build_key="b", repo="o/r", pr_number=1, node_type="n", repo_id="r",
               software_subdir="x86_64/generic", accelerator=None, on_arch="generic", on_accelerator=None,
               job_dir="/nonexistent", backend="local", comment_key=f"job:{key}", state=state, job_id=key)


def test_old_things_go_recent_ones_stay(tmp_path: Path) -> None:
    site = JobSite(tmp_path, extra="\n[clean_up]\nkeep_deliveries_days = 30\nkeep_jobs_days = 90\n"
                                   "keep_trash_days = 7\n")
    handled(site, "help")
    trash = site.config.clean_up.trash_bin_dir / "o" / "r"
    old, recent = trash / "2027.01.01" / "2027.01" / "pr_1", trash / "2027.01.14" / "2027.01" / "pr_2"
    for directory in (old, recent):
        directory.mkdir(parents=True)
    housekeeping = Housekeeping(site.config, site.store, site.clock)
    assert housekeeping.due()
    housekeeping.run()
    assert site.store.inbox.counts() == {"done": 1}
    assert not old.parent.parent.exists() and recent.exists(), "trash older than 7 days is emptied"
    assert not housekeeping.due()
    site.clock.advance(31 * DAY)
    assert housekeeping.due()
    housekeeping.run()
    assert site.store.inbox.counts() == {}


def test_zero_keeps_forever(tmp_path: Path) -> None:
    site = JobSite(tmp_path, extra="\n[clean_up]\nkeep_deliveries_days = 0\n")
    handled(site, "help")
    site.clock.advance(3650 * DAY)
    Housekeeping(site.config, site.store, site.clock).run()
    assert site.store.inbox.counts() == {"done": 1}


def test_finished_jobs_are_forgotten_after_keep_jobs_days(tmp_path: Path) -> None:
    site = JobSite(tmp_path, extra="\n[clean_up]\nkeep_jobs_days = 90\n")
    with site.store.transaction() as tx:
        tx.save_job(job("1", JobState.FINISHED), site.clock.now())
        tx.save_job(job("2", JobState.RUNNING), site.clock.now())
    site.clock.advance(91 * DAY)
    with site.store.transaction() as tx:
        tx.save_job(job("3", JobState.FINISHED), site.clock.now())
    Housekeeping(site.config, site.store, site.clock).run()
    assert sorted(j.job_id or "" for j in site.store.jobs.for_pr("o/r", 1)) == ["2", "3"]
