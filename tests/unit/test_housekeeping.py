"""Retention: exactly what is older than `keep_*_days` goes (0 keeps forever), once a day in the bot;
a dry run only counts; trashed trees go whole, read-only ones too, and no link is followed."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest

from eessi_bot.core.effects import Effects
from eessi_bot.core.jobs import Job, JobState
from eessi_bot.core.retention import DAY, human_size
from eessi_bot.jobs.housekeeping import EVERY, Housekeeping, Report, TrashDir, disk_usage
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


def make_site(tmp_path: Path, deliveries: int = 0, jobs: int = 0, trash: int = 0) -> JobSite:
    return JobSite(tmp_path / "site", extra=f"\n[clean_up]\ntrash_bin_dir = {tmp_path}/trash\n"
                   f"keep_deliveries_days = {deliveries}\nkeep_jobs_days = {jobs}\nkeep_trash_days = {trash}\n")


def today(site: JobSite) -> Path:
    """The trash day directory of the PR the bot would move there now (with a file in a read-only tree)."""
    day = datetime.fromtimestamp(site.clock.now(), tz=timezone.utc).strftime("%Y.%m.%d")
    pr = site.config.clean_up.trash_bin_dir / "o" / "r" / day / "2027.01" / "pr_1"
    (pr / "software").mkdir(parents=True)
    (pr / "software" / "lib.so").write_bytes(b"x" * 5000)
    (pr / "software").chmod(0o555)
    return pr.parent.parent


def end_of_today(site: JobSite) -> float:
    return (site.clock.now() // DAY + 1) * DAY


Kind = Tuple[Callable[[JobSite], object], Callable[[JobSite, object], bool], Callable[[JobSite], float]]
KINDS: Dict[str, Kind] = {
    "deliveries": (lambda site: handled(site, "d1"), lambda site, _: site.store.inbox.get("d1") is not None,
                   lambda site: site.clock.now()),
    "jobs": (lambda site: _save(site, job("1", JobState.FINISHED)),
             lambda site, _: site.store.jobs.get("1") is not None, lambda site: site.clock.now()),
    "trash": (today, lambda _, day: Path(str(day)).exists(), end_of_today),
}
"""kind → (make one item now, is it still there, the moment its age counts from)."""


def _save(site: JobSite, saved: Job) -> None:
    with site.store.transaction() as tx:
        tx.save_job(saved, site.clock.now())


@pytest.mark.parametrize(("kind", "keep", "age", "kept"), [
    ("deliveries", 30, 30 * DAY, True), ("deliveries", 30, 30 * DAY + 1, False), ("deliveries", 0, 3650 * DAY, True),
    ("jobs", 90, 90 * DAY, True), ("jobs", 90, 90 * DAY + 1, False), ("jobs", 0, 3650 * DAY, True),
    ("trash", 7, 7 * DAY, True), ("trash", 7, 7 * DAY + 1, False), ("trash", 0, 3650 * DAY, True),
    ("trash", 1, 0.0, True),
], ids=["delivery-at-the-limit", "delivery-just-after", "delivery-zero-keeps-forever",
        "job-at-the-limit", "job-just-after", "job-zero-keeps-forever",
        "trash-at-the-limit", "trash-just-after", "trash-zero-keeps-forever", "trash-of-today-stays"])
def test_exactly_the_expired_items_go(tmp_path: Path, kind: str, keep: int, age: float, kept: bool) -> None:
    """Age counts from a delivery's end, a finished job's last change, and the end of a trash day (UTC)."""
    site = make_site(tmp_path, **{kind: keep})
    make, present, since = KINDS[kind]
    item = make(site)
    site.clock.advance(since(site) - site.clock.now() + age)
    report = Housekeeping(site.config, site.store, site.clock).run()
    assert present(site, item) is kept
    gone = {"deliveries": report.deliveries, "jobs": report.jobs, "trash": len(report.trash)}
    assert gone == {name: int(name == kind and not kept) for name in KINDS}
    assert report.failures == []


def test_running_jobs_and_pending_deliveries_stay_whatever_their_age(tmp_path: Path) -> None:
    site = make_site(tmp_path, deliveries=1, jobs=1)
    site.store.inbox.store(delivery("waiting"), site.clock.now())
    _save(site, job("running", JobState.RUNNING))
    _save(site, job("failed-submission", JobState.SUBMIT_FAILED))
    site.clock.advance(400 * DAY)
    report = Housekeeping(site.config, site.store, site.clock).run()
    assert (report.deliveries, report.jobs) == (0, 1)
    assert site.store.inbox.counts() == {"pending": 1} and site.store.jobs.get("running") is not None


def expired_site(tmp_path: Path) -> Tuple[JobSite, Path]:
    site = make_site(tmp_path, deliveries=30, jobs=90, trash=7)
    handled(site, "d1")
    _save(site, job("1", JobState.FINISHED))
    day = today(site)
    site.clock.advance(100 * DAY)
    return site, day


def test_a_dry_run_counts_what_would_go_and_changes_nothing(tmp_path: Path) -> None:
    site, day = expired_site(tmp_path)
    size = disk_usage(day)
    before = (site.store.inbox.counts(), site.store.jobs.counts(), sorted(os.walk(day)))
    housekeeping = Housekeeping(site.config, site.store, site.clock)
    dry = housekeeping.sweep(dry_run=True)
    assert (dry.deliveries, dry.jobs, dry.trash, dry.freed) == (1, 1, [TrashDir(day, size)], size)
    assert (site.store.inbox.counts(), site.store.jobs.counts(), sorted(os.walk(day))) == before
    assert dry.summary() == (f"dry run: would forget 1 delivery and 1 finished job, would remove 1 trash directory, "
                             f"would free {human_size(size)}; nothing changed")
    done = housekeeping.sweep()
    assert (done.deliveries, done.jobs, done.trash, done.freed) == (1, 1, [TrashDir(day, size)], size)
    assert not day.exists() and day.parent.is_dir(), "the day goes, its OWNER/REPO directory stays"


def test_rounds_are_daily_and_the_first_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    site, day = expired_site(tmp_path)
    size = disk_usage(day)
    housekeeping = Housekeeping(site.config, site.store, site.clock)
    assert EVERY == DAY and housekeeping.due()
    with caplog.at_level(logging.INFO, logger="eessi_bot.jobs.housekeeping"):
        housekeeping.run()
    assert caplog.messages == [f"retention: forgot 1 delivery and 1 finished job, removed 1 trash directory, "
                               f"freed {human_size(size)}"]
    site.clock.advance(DAY - 1)
    assert not housekeeping.due()
    site.clock.advance(1)
    assert housekeeping.due()


def test_trash_removal_follows_no_link(tmp_path: Path) -> None:
    """Links in a trashed tree (PR content) go as links; what they point to stays. Other names, and a
    day reached through a linked OWNER or REPO directory, are not the bot's: they stay."""
    site = make_site(tmp_path, trash=1)
    outside = tmp_path / "outside"
    (outside / "2000.01.01").mkdir(parents=True)
    (outside / "keep.txt").write_text("precious")
    day = today(site)
    (day / "to-dir").symlink_to(outside)
    (day / "to-file").symlink_to(outside / "keep.txt")
    trash = site.config.clean_up.trash_bin_dir
    (trash / "o" / "linked-repo").symlink_to(outside)
    (trash / "o" / "r" / "notes").mkdir()
    (trash / "o" / "r" / "2026.13.45").mkdir()
    (trash / "o" / "r" / "2026.01.01").symlink_to(outside)
    site.clock.advance(400 * DAY)
    report = Housekeeping(site.config, site.store, site.clock).run()
    assert report.trash == [TrashDir(day, report.freed)] and report.failures == []
    assert not day.exists()
    assert sorted(p.name for p in (trash / "o" / "r").iterdir()) == ["2026.01.01", "2026.13.45", "notes"]
    assert (outside / "keep.txt").read_text() == "precious" and (outside / "2000.01.01").is_dir()


def test_what_cannot_be_removed_is_named_and_the_rest_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    site = make_site(tmp_path, trash=1)
    old, stuck = today(site), today_plus(site, 1)
    (stuck / "pinned.log").write_text("held by another user's process")
    real_unlink = Path.unlink

    def unlink(path: Path, missing_ok: bool = False) -> None:
        if path.name == "pinned.log":
            raise PermissionError(1, "Operation not permitted", str(path))
        real_unlink(path, missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    site.clock.advance(400 * DAY)
    with caplog.at_level(logging.INFO, logger="eessi_bot.jobs.housekeeping"):
        report = Housekeeping(site.config, site.store, site.clock).run()
    assert [t.path for t in report.trash] == [old] and not old.exists()
    assert report.failures == [(stuck / "pinned.log", "Operation not permitted")], "its parents are not named"
    assert sorted(p.name for p in stuck.rglob("*")) == ["pinned.log"]
    assert caplog.messages[1:] == [f"retention: cannot remove {stuck / 'pinned.log'}: Operation not permitted"]
    assert caplog.messages[0].endswith("; 1 entry could not be removed")


def today_plus(site: JobSite, days: int) -> Path:
    site.clock.advance(days * DAY)
    made = today(site)
    site.clock.advance(-days * DAY)
    return made


def test_nothing_to_do_is_one_plain_line(tmp_path: Path) -> None:
    site = make_site(tmp_path, deliveries=30, jobs=90, trash=7)
    report = Housekeeping(site.config, site.store, site.clock).sweep()
    assert report == Report(report.cutoffs)
    assert report.summary() == "forgot 0 deliveries and 0 finished jobs, removed 0 trash directories, freed 0"


READ_ONLY_TREE = """
import os, sys
from pathlib import Path
from eessi_bot.jobs.housekeeping import remove_tree
top = Path(sys.argv[1]) / "2027.01.15"
installed = top / "2027.01" / "pr_1" / "software" / "GCC" / "13.2.0"
(installed / "bin").mkdir(parents=True)
(installed / "bin" / "gcc").write_text("#!/bin/sh")
(installed / "empty").mkdir()
(installed / "locked").mkdir(mode=0o000)
for path in (installed / "bin", installed / "empty", installed, installed.parent):
    path.chmod(0o555)
print(remove_tree(top), top.exists())
"""


def test_read_only_trees_go_too() -> None:
    """EasyBuild leaves installations read-only; the owner may not delete in them until they are opened
    up. Run as an ordinary user (root may delete anyway): `nobody` when the tests run as root."""
    top = Path(tempfile.mkdtemp(prefix="eessi-bot-trash-"))
    argv = [sys.executable, "-c", READ_ONLY_TREE, str(top)]
    if os.geteuid() == 0:
        os.chown(top, 65534, 65534)
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=top, check=False,
                              env={"PATH": os.environ["PATH"], "HOME": str(top)})
        assert (done.returncode, done.stdout, done.stderr) == (0, "[] False\n", "")
    finally:
        shutil.rmtree(top)


@pytest.mark.parametrize(("count", "expected"), [(9, 10), (12, 11)], ids=["all-named", "the-rest-counted"])
def test_many_failures_are_counted_not_all_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture, count: int, expected: int) -> None:
    site = make_site(tmp_path, trash=1)
    day = today(site)
    for number in range(count):
        (day / f"f{number}").write_text("x")
    monkeypatch.setattr(Path, "unlink", lambda path, missing_ok=False: _refuse(path))
    site.clock.advance(400 * DAY)
    with caplog.at_level(logging.WARNING, logger="eessi_bot.jobs.housekeeping"):
        report = Housekeeping(site.config, site.store, site.clock).run()
    warnings: List[str] = caplog.messages
    assert len(report.failures) == count + 1, "each file, and lib.so of the read-only tree"
    assert len(warnings) == expected
    if count > 10:
        assert warnings[-1] == f"retention: {count + 1 - 10} more entries of the trash could not be removed"


def _refuse(path: Path) -> None:
    raise PermissionError(13, "Permission denied", str(path))
