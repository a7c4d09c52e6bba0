"""Retention: old deliveries, finished job records and trashed directories go; recent ones stay."""

from __future__ import annotations

from pathlib import Path

from eessi_bot.jobs.housekeeping import DAY, Housekeeping
from tests.fakes.pipeline import Pipeline


def test_old_things_go_recent_ones_stay(tmp_path: Path) -> None:
    bot = Pipeline(tmp_path, extra="\n[clean_up]\nkeep_deliveries_days = 30\nkeep_jobs_days = 90\n"
                                   "keep_trash_days = 7\n")
    bot.comment("bot: help")
    trash = bot.config.clean_up.trash_bin_dir / "o" / "r"
    old, recent = trash / "2026.12.01" / "2026.12" / "pr_1", trash / "2027.01.14" / "2027.01" / "pr_2"
    for directory in (old, recent):
        directory.mkdir(parents=True)
    housekeeping = Housekeeping(bot.config, bot.runtime.store, bot.clock)
    assert housekeeping.due()
    housekeeping.run()
    assert bot.runtime.inbox.counts() == {"done": 1}
    assert not old.parent.parent.exists() and recent.exists(), "trash older than 7 days is emptied"
    assert not housekeeping.due()
    bot.clock.advance(31 * DAY)
    assert housekeeping.due()
    housekeeping.run()
    assert bot.runtime.inbox.counts() == {}
    bot.close()


def test_zero_keeps_forever(tmp_path: Path) -> None:
    bot = Pipeline(tmp_path, extra="\n[clean_up]\nkeep_deliveries_days = 0\n")
    bot.comment("bot: help")
    bot.clock.advance(3650 * DAY)
    Housekeeping(bot.config, bot.runtime.store, bot.clock).run()
    assert bot.runtime.inbox.counts() == {"done": 1}
    bot.close()


def test_finished_jobs_are_forgotten_after_keep_jobs_days(tmp_path: Path) -> None:
    from eessi_bot.core.jobs import Job, JobState

    bot = Pipeline(tmp_path, extra="\n[clean_up]\nkeep_jobs_days = 90\n")
    store = bot.runtime.store

    def job(key: str, state: JobState) -> Job:
        return Job(key=key, build_key="b", repo="o/r", pr_number=1, node_type="n", repo_id="r",
                   software_subdir="x86_64/generic", accelerator=None, on_arch="generic", on_accelerator=None,
                   job_dir="/nonexistent", backend="local", comment_key=f"job:{key}", state=state, job_id=key)

    with store.transaction() as tx:
        tx.save_job(job("1", JobState.FINISHED), bot.clock.now())
        tx.save_job(job("2", JobState.RUNNING), bot.clock.now())
    bot.clock.advance(91 * DAY)
    with store.transaction() as tx:
        tx.save_job(job("3", JobState.FINISHED), bot.clock.now())
    Housekeeping(bot.config, store, bot.clock).run()
    assert sorted(j.job_id or "" for j in store.jobs.for_pr("o/r", 1)) == ["2", "3"]
    bot.close()
