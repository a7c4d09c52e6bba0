"""`eessi-bot gc [--dry-run] [--json]`: the `[clean_up] keep_*_days` retention now, on the bot's SQLite
database and trash, with a fake clock: exactly the expired items go, a dry run changes no byte, the
lines an admin reads are exact, and every exit status is the documented one."""

from __future__ import annotations

import hashlib
import io
import json
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from eessi_bot.adapters.sqlite.store import SqliteStore
from eessi_bot.cli import gc_cmd
from eessi_bot.core.effects import Effects
from eessi_bot.core.jobs import JobState
from eessi_bot.core.retention import DAY, human_size
from eessi_bot.jobs.housekeeping import disk_usage
from tests.fakes.clock import FakeClock
from tests.fakes.site import write_site
from tests.unit.test_admin_cli import invoke
from tests.unit.test_store import delivery, job

T = 1_799_452_800.0
"""2027-01-09 00:00:00 UTC, the end of the trash day 2027.01.08."""
DAY_OF_T = "2027.01.08"


@dataclass(frozen=True)
class Site:
    cfg: Path
    root: Path
    trash: Path

    @property
    def database(self) -> Path:
        return self.root / "state" / "eessi-bot.sqlite3"

    def store(self) -> SqliteStore:
        return SqliteStore.in_dir(self.root / "state")


def make_site(tmp_path: Path, deliveries: int = 30, jobs: int = 90, trash: int = 7) -> Site:
    root = tmp_path / "site"
    cfg = write_site(root, extra=f"\n[clean_up]\ntrash_bin_dir = {root}/trash\nkeep_deliveries_days = {deliveries}\n"
                     f"keep_jobs_days = {jobs}\nkeep_trash_days = {trash}\n")
    made = Site(cfg, root, root / "trash")
    made.store().close()
    return made


def add(site: Site, at: float, delivery_id: str = "d1", job_key: str = "j1", day: Optional[str] = None,
        store: Optional[SqliteStore] = None) -> Optional[Path]:
    """A delivery handled at `at`, a job finished at `at`, and (given `day`) a trash day of o/r with a
    PR directory in it; returns that day directory."""
    opened = store or site.store()
    opened.inbox.store(delivery(delivery_id), at)
    assert opened.inbox.claim("w", at) is not None
    with opened.transaction() as tx:
        tx.put(Effects(), at, delivery_id)
        tx.finish_delivery(delivery_id, "ok", at)
        tx.save_job(job(job_key, JobState.FINISHED), at)
    if store is None:
        opened.close()
    if day is None:
        return None
    pr = site.trash / "o" / "r" / day / "2027.01" / "pr_1"
    pr.mkdir(parents=True)
    (pr / "slurm-1.out").write_bytes(b"log line\n" * 2000)
    return pr.parent.parent


def gc(site: Site, now: float, *flags: str) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = gc_cmd.run(site.cfg, "--dry-run" in flags, "--json" in flags, out, err, FakeClock(now))
    return code, out.getvalue(), err.getvalue()


def what_is_left(site: Site) -> Tuple[Optional[str], Optional[str], bool]:
    store = site.store()
    try:
        record, saved = store.inbox.get("d1"), store.jobs.get("j1")
        return (record.id if record else None), (saved.key if saved else None), (site.trash / "o/r" / DAY_OF_T).exists()
    finally:
        store.close()


@pytest.mark.parametrize(("age", "left"), [
    (7 * DAY, ("d1", "j1", True)),
    (7 * DAY + 1, ("d1", "j1", False)),
    (30 * DAY, ("d1", "j1", False)),
    (30 * DAY + 1, (None, "j1", False)),
    (90 * DAY, (None, "j1", False)),
    (90 * DAY + 1, (None, None, False)),
], ids=["trash-at-its-limit", "trash-just-after", "delivery-at-its-limit", "delivery-just-after",
        "job-at-its-limit", "job-just-after"])
def test_exactly_the_expired_items_go(tmp_path: Path, age: float, left: Tuple[object, ...]) -> None:
    """keep 30 days of deliveries, 90 of jobs, 7 of trash: each goes one second after its limit."""
    site = make_site(tmp_path)
    add(site, T, day=DAY_OF_T)
    code, out, err = gc(site, T + age)
    assert (code, err) == (0, "")
    assert what_is_left(site) == left
    counts = [line.rsplit(": ", 1)[1] for line in out.splitlines()[:3]]
    assert counts == [str(int(item is None)) for item in left[:2]] + [str(int(not left[2]))]


@pytest.mark.parametrize("kind", ["deliveries", "jobs", "trash"])
def test_zero_keeps_forever(tmp_path: Path, kind: str) -> None:
    site = make_site(tmp_path, **{kind: 0})
    add(site, T, day=DAY_OF_T)
    code, out, _ = gc(site, T + 3650 * DAY)
    delivery_left, job_left, trash_left = what_is_left(site)
    assert code == 0
    assert {"deliveries": delivery_left is not None, "jobs": job_left is not None, "trash": trash_left} == {
        name: name == kind for name in ("deliveries", "jobs", "trash")}
    line = {"deliveries": "deliveries are kept forever (keep_deliveries_days = 0)",
            "jobs": "finished jobs are kept forever (keep_jobs_days = 0)",
            "trash": "trash directories are kept forever (keep_trash_days = 0)"}[kind]
    assert line in out.splitlines()


def expired(tmp_path: Path) -> Tuple[Site, Path, int]:
    site = make_site(tmp_path)
    day = add(site, T, day=DAY_OF_T)
    assert day is not None
    return site, day, disk_usage(day)


def test_the_lines_an_admin_reads(tmp_path: Path) -> None:
    site, day, size = expired(tmp_path)
    code, out, err = gc(site, T + 100 * DAY, "--dry-run")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "deliveries handled before 2027-03-20 00:00:00 UTC go (keep_deliveries_days = 30): 1",
        "finished jobs last changed before 2027-01-19 00:00:00 UTC go (keep_jobs_days = 90): 1",
        "trash days that ended before 2027-04-12 00:00:00 UTC go (keep_trash_days = 7): 1",
        f"would remove {day} ({human_size(size)})",
        f"dry run: would forget 1 delivery and 1 finished job, would remove 1 trash directory, would free "
        f"{human_size(size)}; nothing changed",
    ]
    code, out, err = gc(site, T + 100 * DAY)
    assert (code, err) == (0, "")
    assert out.splitlines()[3:] == [f"removed {day} ({human_size(size)})",
                                    f"forgot 1 delivery and 1 finished job, removed 1 trash directory, freed "
                                    f"{human_size(size)}"]
    code, out, err = gc(site, T + 100 * DAY)
    assert (code, out.splitlines()[-1], err) == (0, "forgot 0 deliveries and 0 finished jobs, removed 0 trash "
                                                    "directories, freed 0", "")


def test_json_for_scripts(tmp_path: Path) -> None:
    site, day, size = expired(tmp_path)
    forever = make_site(tmp_path / "forever", deliveries=0, jobs=0, trash=0)
    code, out, _ = gc(site, T + 100 * DAY, "--json", "--dry-run")
    assert code == 0 and json.loads(out) == {
        "dry_run": True,
        "deliveries": {"keep_days": 30, "before": "2027-03-20T00:00:00+00:00", "count": 1},
        "jobs": {"keep_days": 90, "before": "2027-01-19T00:00:00+00:00", "count": 1},
        "trash": {"keep_days": 7, "before": "2027-04-12T00:00:00+00:00",
                  "directories": [{"path": str(day), "size": size}]},
        "freed": size, "failed": [],
    }
    code, out, _ = gc(forever, T, "--json")
    assert code == 0 and json.loads(out) == {
        "dry_run": False, "deliveries": {"keep_days": 0, "before": None, "count": 0},
        "jobs": {"keep_days": 0, "before": None, "count": 0},
        "trash": {"keep_days": 0, "before": None, "directories": []}, "freed": 0, "failed": []}


def snapshot(site: Site) -> Tuple[str, List[str], List[Tuple[str, int]]]:
    """The database file's bytes, its dump (what a reader sees, the WAL included) and the trash."""
    with sqlite3.connect(site.database) as conn:
        dump = list(conn.iterdump())
    conn.close()
    trash = sorted((str(p), p.lstat().st_size) for p in site.trash.rglob("*"))
    return hashlib.sha256(site.database.read_bytes()).hexdigest(), dump, trash


@pytest.mark.parametrize(("running", "summary"), [
    (False, "forgot 1 delivery and 1 finished job"), (True, "forgot 2 deliveries and 2 finished jobs"),
], ids=["bot-stopped", "bot-running"])
def test_a_dry_run_changes_nothing(tmp_path: Path, running: bool, summary: str) -> None:
    """Not a row, not a byte of the database file, not a file of the trash; also while a bot holds the
    database open with rows still in its WAL."""
    site, _, _ = expired(tmp_path)
    bot = site.store() if running else None
    if bot is not None:
        add(site, T + 1, delivery_id="d2", job_key="j2", store=bot)
    before = snapshot(site)
    for flags in (("--dry-run",), ("--dry-run", "--json")):
        code, out, _ = gc(site, T + 100 * DAY, *flags)
        assert code == 0 and out
    assert snapshot(site) == before
    code, out, _ = gc(site, T + 100 * DAY)
    assert code == 0 and snapshot(site) != before
    assert out.splitlines()[-1].startswith(summary)
    if bot is not None:
        bot.close()


def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["gc", "--help"], capsys)
    assert code == 0 and out.startswith("usage: eessi-bot gc [--dry-run] [--json] [-c app.cfg]\n")
    assert gc_cmd.EXIT_STATUS in out
    assert re.findall(r"^  ([0-9]+) ", gc_cmd.EXIT_STATUS, re.MULTILINE) == ["0", "1", "2"]


def mistake_site(tmp_path: Path, kind: str) -> Site:
    site = make_site(tmp_path)
    if kind == "no-database":
        site.database.unlink()
    elif kind in ("newer-schema", "older-schema"):
        with sqlite3.connect(site.database) as conn:
            conn.execute(f"PRAGMA user_version = {999 if kind == 'newer-schema' else 1}")
        conn.close()
    elif kind == "not-a-database":
        site.database.write_bytes(b"not SQLite at all, " * 100)
    return site


@pytest.mark.parametrize(("argv", "kind", "message"), [
    (["gc", "-c", "@cfg", "--dry-run=yes"], "ok", "eessi-bot gc: error: argument --dry-run: ignored explicit "
     "argument 'yes'"),
    (["gc", "-c", "@cfg"], "no-database",
     "eessi-bot gc: no database at @db: has the bot run with this configuration ([bot] data_dir)?"),
    (["gc", "-c", "@cfg", "--dry-run"], "newer-schema",
     "eessi-bot gc: @db was written by a newer eessi-bot (schema 999); use the version the bot runs"),
    (["gc", "-c", "@cfg"], "older-schema",
     "eessi-bot gc: @db was written by an older eessi-bot (schema 1); start the bot with this version once to "
     "update it"),
    (["gc", "-c", "@cfg"], "not-a-database", "eessi-bot gc: cannot change the database @db: file is not a database"),
    (["gc", "-c", "@missing"], "ok",
     "eessi-bot gc: @missing: error: cannot read the configuration file: No such file or directory (copy "
     "app.cfg.example to app.cfg, or pass --config PATH)\nthe configuration has errors; run 'eessi-bot check-config' "
     "for details"),
], ids=["unknown-option", "no-database", "newer-schema", "older-schema-never-migrated", "not-a-database",
        "missing-config"])
def test_wrong_invocations_exit_2_with_one_plain_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      argv: List[str], kind: str, message: str) -> None:
    site = mistake_site(tmp_path, kind)
    names = {"@cfg": str(site.cfg), "@missing": str(tmp_path / "missing.cfg"), "@db": str(site.database)}
    code, out, err = invoke([names.get(arg, arg) for arg in argv], capsys)
    for name, value in names.items():
        message = message.replace(name, value)
    assert (code, out) == (2, "")
    if "--dry-run=yes" in argv:
        assert err.startswith("usage: eessi-bot gc [--dry-run] [--json] [-c app.cfg]\n")
        assert err.endswith(message + "\n")
    else:
        assert err == message + "\n"
    if kind == "older-schema":
        with sqlite3.connect(site.database) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 1, "gc never migrates"
        conn.close()


def test_entries_that_stay_are_named_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """With the real clock: a trash day of 2000 goes, but for the file that cannot be removed."""
    site = make_site(tmp_path)
    old = add(site, time.time() - 400 * DAY, day="2000.01.01")
    assert old is not None
    stuck = old / "2027.01" / "pr_1" / "slurm-1.out"
    real_unlink = Path.unlink

    def unlink(path: Path, missing_ok: bool = False) -> None:
        if path == stuck:
            raise PermissionError(1, "Operation not permitted", str(path))
        real_unlink(path, missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    code, out, err = invoke(["gc", "-c", str(site.cfg)], capsys)
    assert code == 1
    assert err == f"eessi-bot gc: cannot remove {stuck}: Operation not permitted\n"
    assert out.splitlines()[-1].startswith("forgot 1 delivery and 1 finished job, removed 0 trash directories, freed ")
    assert out.splitlines()[-1].endswith("; 1 entry could not be removed")
    assert [p.name for p in old.rglob("*")] == ["2027.01", "pr_1", "slurm-1.out"]
