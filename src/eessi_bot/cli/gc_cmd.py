"""`eessi-bot gc [--dry-run] [--json] [-c app.cfg]`: the `[clean_up] keep_*_days` retention, now.

The bot runs the same round once a day (`jobs/housekeeping.py`); an admin whose quota is full need not
wait for it, and `--dry-run` shows what the next round would remove. Handled deliveries and finished
job records leave the database (counted), trash day directories leave the disk (each named with its
size), and the space freed is summed.

Safe beside a running bot: the database is in WAL mode and the rows go in one short transaction
(`--dry-run` opens it read-only: nothing is written, created or migrated); the trash's directory of
today, where the bot moves closed PRs, is never old enough to go; a link is never followed.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Optional, TextIO, Union

from eessi_bot.adapters.config_files import load_config_or_raise
from eessi_bot.adapters.sqlite.db import DB_NAME, Database
from eessi_bot.adapters.sqlite.store import SqliteStore
from eessi_bot.adapters.system_clock import SystemClock
from eessi_bot.cli.admin import AdminError
from eessi_bot.core.config import Config
from eessi_bot.core.retention import human_size
from eessi_bot.jobs.housekeeping import Housekeeping, Report
from eessi_bot.ports.clock import Clock

EXIT_STATUS = """exit status:
  0  done (with --dry-run: shown, nothing changed); also when nothing is old enough to go
  1  some entries of the trash could not be removed (each is named on stderr, or in the JSON); the
     rest went
  2  wrong invocation, unusable configuration, or no usable database"""

PARTIAL = 1


def run(config_path: Path, dry_run: bool, as_json: bool, out: TextIO, err: TextIO,
        clock: Optional[Clock] = None) -> int:
    config, _ = load_config_or_raise(config_path)
    with _store(config.bot.data_dir, dry_run) as store:
        report = Housekeeping(config, store, clock or SystemClock()).sweep(dry_run)
    if as_json:
        json.dump(_record(report, config), out, indent=2)
        out.write("\n")
    else:
        _write_text(report, config, out, err)
    return PARTIAL if report.failures else 0


@contextmanager
def _store(data_dir: Path, dry_run: bool) -> Iterator[SqliteStore]:
    """The bot's store, read-only for a dry run; its schema must be this version's (gc never migrates
    a database a running bot of another version uses)."""
    path = data_dir / DB_NAME
    if not path.is_file():
        raise AdminError(f"no database at {path}: has the bot run with this configuration ([bot] data_dir)?")
    reader = Database(path, read_only=True)
    opened = [reader]
    try:
        problem = reader.schema_problem()
        if problem is not None:
            raise AdminError(problem)
        if not dry_run:
            opened.append(Database(path))
        yield SqliteStore(opened[-1])
    except sqlite3.Error as exc:
        raise AdminError(f"cannot {'read' if dry_run else 'change'} the database {path}: {exc}") from exc
    finally:
        for db in opened:
            db.close()


def _write_text(report: Report, config: Config, out: TextIO, err: TextIO) -> None:
    keep, cut = config.clean_up, report.cutoffs
    rules = (("deliveries handled", "deliveries are", cut.deliveries, "keep_deliveries_days", keep.keep_deliveries_days,
              report.deliveries),
             ("finished jobs last changed", "finished jobs are", cut.jobs, "keep_jobs_days", keep.keep_jobs_days,
              report.jobs),
             ("trash days that ended", "trash directories are", cut.trash, "keep_trash_days", keep.keep_trash_days,
              len(report.trash)))
    for what, forever, before, key, days, count in rules:
        if before is None:
            out.write(f"{forever} kept forever ({key} = 0)\n")
        else:
            out.write(f"{what} before {_utc(before)} go ({key} = {days}): {count}\n")
    verb = "would remove" if report.dry_run else "removed"
    out.writelines(f"{verb} {t.path} ({human_size(t.size)})\n" for t in report.trash)
    err.writelines(f"eessi-bot gc: cannot remove {path}: {why}\n" for path, why in report.failures)
    out.write(report.summary() + "\n")


def _record(report: Report, config: Config) -> Dict[str, object]:
    """The report for `--json`: times in ISO 8601 (UTC), sizes in bytes; `before` is null for a kind kept
    forever."""
    keep, cut = config.clean_up, report.cutoffs
    directories: List[Dict[str, Union[str, int]]] = [{"path": str(t.path), "size": t.size} for t in report.trash]
    return {
        "dry_run": report.dry_run,
        "deliveries": {"keep_days": keep.keep_deliveries_days, "before": _iso(cut.deliveries),
                       "count": report.deliveries},
        "jobs": {"keep_days": keep.keep_jobs_days, "before": _iso(cut.jobs), "count": report.jobs},
        "trash": {"keep_days": keep.keep_trash_days, "before": _iso(cut.trash), "directories": directories},
        "freed": report.freed,
        "failed": [{"path": str(path), "error": why} for path, why in report.failures],
    }


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(timestamp: Optional[float]) -> Optional[str]:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")
