"""`eessi-bot cleanup --pr N [--repo OWNER/REPO] [--dry-run] [--json]`: the EESSI bot's
`scripts/cleanup_pr.sh` on this bot's job-directory layout.

That script removed the tmp-storage tarballs (`*[0-9].tgz`) and the build artefacts (`*tar.gz`) below
every `jobs_base_dir/*/pr_N` and showed the disk usage before and after; directories, logs and result
files stayed. This command does the same in the PR's directories here: `jobs_base_dir/YYYY.MM/OWNER/
REPO/pr_N` (every month), the trash's `trash_bin_dir/OWNER/REPO/YYYY.MM.DD/YYYY.MM/pr_N[-K]`, and the
own directories of jobs adopted from the EESSI bot (its layout has no OWNER/REPO). Artefacts may also
end in `.tar.zst` or carry the name a job's result file gave. Unlike the script it tells repositories
apart, never follows a link, and removes nothing while a job of the PR has not finished.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, TextIO, Tuple

from eessi_bot.adapters.config_files import load_config_or_raise
from eessi_bot.cli import admin
from eessi_bot.core.config import Config
from eessi_bot.core.jobs import UNFINISHED, Job
from eessi_bot.jobs import paths

EXIT_STATUS = """exit status:
  0  done (with --dry-run: shown); also when nothing of the PR is found
  1  some files could not be removed (each is named)
  2  wrong invocation, unusable configuration, unreadable database, or the PR number is in several
     repositories (name one with --repo)
  3  refused: jobs of the PR have not finished"""

REMOVED = ("*[0-9].tgz", "*.tar.gz", "*.tar.zst")
"""Tmp-storage tarballs and build artefacts, the files `cleanup_pr.sh` removed (and `.tar.zst`)."""
PARTIAL, REFUSED = 1, 3
_MONTH = "[0-9][0-9][0-9][0-9].[0-9][0-9]"
_DAY = f"{_MONTH}.[0-9][0-9]"


@dataclass(frozen=True)
class Removal:
    path: Path
    size: int
    """Disk usage in bytes, as `du` counts it."""


@dataclass
class Report:
    repo: Optional[str]
    pr_number: int
    dry_run: bool
    before: Dict[Path, int] = field(default_factory=dict)
    after: Dict[Path, int] = field(default_factory=dict)
    removals: List[Removal] = field(default_factory=list)
    """Removed files (with --dry-run: the files that would be)."""
    failures: List[Tuple[Path, str]] = field(default_factory=list)


def run(config_path: Path, pr_number: int, repo: Optional[str], dry_run: bool, as_json: bool, out: TextIO,
        err: TextIO) -> int:
    config, _ = load_config_or_raise(config_path)
    with admin.job_store(config.bot.data_dir) as store:
        if repo is None:
            repo = _only_repo(config, pr_number, store.list(None, pr_number))
        jobs = [] if repo is None else store.list(repo, pr_number)
    unfinished = [job for job in jobs if job.state in UNFINISHED]
    if repo is not None and unfinished:
        return _refuse(repo, pr_number, unfinished, as_json, out, err)
    report = Report(repo, pr_number, dry_run) if repo is None else clean(config, repo, pr_number, jobs, dry_run)
    if as_json:
        _write_json(report, out)
    else:
        _write_text(report, config, out, err)
    return PARTIAL if report.failures else 0


def clean(config: Config, repo: str, pr_number: int, jobs: List[Job], dry_run: bool) -> Report:
    """Remove (or, dry, only find) the tarballs in the PR's directories; disk usage before and after."""
    report = Report(repo, pr_number, dry_run)
    directories = _directories(config, repo, pr_number, jobs)
    artefacts = _artefacts(jobs)
    for directory in directories:
        report.before[directory] = disk_usage(directory)
        report.removals.extend(_removable(directory, artefacts))
    if dry_run:
        for directory in directories:
            freed = sum(r.size for r in report.removals if directory in r.path.parents)
            report.after[directory] = report.before[directory] - freed
        return report
    for removal in report.removals:
        try:
            removal.path.unlink()
        except OSError as exc:
            report.failures.append((removal.path, exc.strerror or str(exc)))
    failed = {path for path, _ in report.failures}
    report.removals = [r for r in report.removals if r.path not in failed]
    report.after = {directory: disk_usage(directory) for directory in directories}
    return report


def disk_usage(top: Path) -> int:
    """Bytes on disk below `top`, links not followed (`du -s`); 0 once it is gone (the bot may move a
    closed PR's directories to the trash meanwhile)."""
    try:
        total = top.lstat().st_blocks * 512
    except FileNotFoundError:
        return 0
    for root, dirs, files in os.walk(top):
        for name in (*dirs, *files):
            try:
                total += (Path(root) / name).lstat().st_blocks * 512
            except OSError:
                continue
    return total


def human(size: int) -> str:
    """`du -h` style: 0, 512B, 4.0K, 12M, 1.5G."""
    if size < 1024:
        return f"{size}B" if size else "0"
    value, unit = float(size), "B"
    for unit in ("K", "M", "G", "T"):  # noqa: B007
        value /= 1024
        if value < 1024:
            break
    return f"{math.ceil(value * 10) / 10:.1f}{unit}" if value < 10 else f"{math.ceil(value)}{unit}"


def _pr_name(pr_number: int) -> re.Pattern[str]:
    """`pr_N`, and `pr_N-K` of a PR closed again on a day the trash already had it."""
    return re.compile(rf"pr_{pr_number}(-[0-9]+)?")


def _only_repo(config: Config, pr_number: int, jobs: List[Job]) -> Optional[str]:
    """The one repository that has PR `pr_number` here (jobs or directories); None when none has."""
    repos = {job.repo for job in jobs}
    for path in config.buildenv.jobs_base_dir.glob(f"{_MONTH}/*/*/pr_{pr_number}"):
        repos.add(f"{path.parent.parent.name}/{path.parent.name}")
    for path in config.clean_up.trash_bin_dir.glob(f"*/*/{_DAY}/{_MONTH}/pr_{pr_number}*"):
        if _pr_name(pr_number).fullmatch(path.name):
            repos.add(f"{path.parents[3].name}/{path.parents[2].name}")
    if len(repos) > 1:
        raise admin.AdminError(f"PR #{pr_number} is in several repositories ({', '.join(sorted(repos))}); "
                               "name one with --repo")
    return next(iter(repos), None)


def _directories(config: Config, repo: str, pr_number: int, jobs: List[Job]) -> List[Path]:
    """The PR's directories in the job tree and the trash, and its adopted jobs' own directories."""
    name = _pr_name(pr_number)
    found = paths.pr_dirs(config.buildenv.jobs_base_dir, repo, pr_number)
    found += sorted(p for p in (config.clean_up.trash_bin_dir / repo).glob(f"{_DAY}/{_MONTH}/pr_{pr_number}*")
                    if name.fullmatch(p.name) and p.is_dir() and not p.is_symlink())
    base = config.buildenv.jobs_base_dir.resolve()
    for job in jobs:
        job_dir = Path(job.job_dir)
        if not job_dir.is_dir() or job_dir.is_symlink() or base not in job_dir.resolve().parents:
            continue
        if not any(_within(job_dir, directory) for directory in found):
            found.append(job_dir)
    return found


def _within(path: Path, directory: Path) -> bool:
    resolved, top = path.resolve(), directory.resolve()
    return resolved == top or top in resolved.parents


def _artefacts(jobs: List[Job]) -> Dict[Path, Set[str]]:
    """Artefact names the result files gave, by (resolved) job directory."""
    named: Dict[Path, Set[str]] = {}
    for job in jobs:
        named.setdefault(Path(job.job_dir).resolve(), set()).update(job.artefacts)
    return named


def _removable(directory: Path, artefacts: Dict[Path, Set[str]]) -> Iterator[Removal]:
    """Regular files below `directory` that cleanup removes; links are neither followed nor removed."""
    for root, _, files in os.walk(directory):
        named = artefacts.get(Path(root).resolve(), set())
        for name in sorted(files):
            if name not in named and not any(fnmatch.fnmatchcase(name, pattern) for pattern in REMOVED):
                continue
            path = Path(root) / name
            try:
                info = path.lstat()
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                yield Removal(path, info.st_blocks * 512)


def _refuse(repo: str, pr_number: int, unfinished: List[Job], as_json: bool, out: TextIO, err: TextIO) -> int:
    if as_json:
        json.dump({"repo": repo, "pr_number": pr_number, "refused": [admin.job_record(j) for j in unfinished]},
                  out, indent=2)
        out.write("\n")
        return REFUSED
    err.write(f"eessi-bot cleanup: refused: {len(unfinished)} job(s) of {repo}#{pr_number} have not finished; "
              "wait for them (or 'bot: cancel' them) and run cleanup again\n")
    err.writelines(line + "\n" for line in admin.table(admin.JOB_HEADER, [admin.job_row(j) for j in unfinished]))
    return REFUSED


def _write_text(report: Report, config: Config, out: TextIO, err: TextIO) -> None:
    where = f"of {report.repo}#{report.pr_number}" if report.repo else f"of PR #{report.pr_number}"
    if not report.before:
        out.write(f"nothing to clean up: no directories {where} in {config.buildenv.jobs_base_dir} or "
                  f"{config.clean_up.trash_bin_dir}\n")
        return
    verb = "would remove" if report.dry_run else "removed"
    out.writelines(f"{verb} {r.path} ({human(r.size)})\n" for r in report.removals)
    err.writelines(f"eessi-bot cleanup: cannot remove {path}: {why}\n" for path, why in report.failures)
    rows = [[str(d), human(report.before[d]), human(report.after[d])] for d in report.before]
    rows.append(["total", human(sum(report.before.values())), human(sum(report.after.values()))])
    header = ("DIRECTORY", "BEFORE", "WOULD BE" if report.dry_run else "AFTER")
    out.writelines(line + "\n" for line in admin.table(header, rows, right=(1, 2)))
    freed = human(sum(report.before.values()) - sum(report.after.values()))
    if not report.removals:
        out.write(f"nothing to remove {where}: no tmp-storage tarballs or build artefacts\n")
    elif report.dry_run:
        out.write(f"dry run: {len(report.removals)} file(s) would be removed, {freed} freed; nothing changed\n")
    else:
        out.write(f"{len(report.removals)} file(s) removed, {freed} freed\n")


def _write_json(report: Report, out: TextIO) -> None:
    json.dump({
        "repo": report.repo, "pr_number": report.pr_number, "dry_run": report.dry_run,
        "directories": [{"path": str(d), "before": report.before[d], "after": report.after[d]} for d in report.before],
        "removed": [{"path": str(r.path), "size": r.size} for r in report.removals],
        "failed": [{"path": str(path), "error": why} for path, why in report.failures],
    }, out, indent=2)
    out.write("\n")
