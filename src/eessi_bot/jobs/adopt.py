"""Switching from the EESSI bot: take over the jobs it left, so that nothing in flight is lost.

The EESSI bot's job manager keeps a link `job_ids_dir/submitted/<ID>` (moved to `finished/<ID>`)
to each job's directory, where `_bot_job<ID>.metadata` names the PR and the job's comment, and
`cfg/job.cfg` the repository and architecture. Each such job that is not in the database becomes a
job row: submitted ones are followed from there by the job manager like any other (released if
held, reported when running and when finished, from the batch system and the result files), and
their existing comment is edited, never a second one posted; finished ones are imported as finished
(so `bot: status`, deploy and PR close know them) without touching their comment. A job is adopted
once: its batch job id is then in the database.
"""

from __future__ import annotations

import configparser
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import List, Optional, Tuple

from eessi_bot.core.config import Config
from eessi_bot.core.job_comment import comment_date, render_job_comment
from eessi_bot.core.jobfiles import CFG_DIR, JOB_CFG, metadata_name
from eessi_bot.core.jobs import Job, JobState, Row
from eessi_bot.core.results import MAX_FILE_BYTES, parse_result, result_name, test_name
from eessi_bot.jobs.files import read_regular, read_text
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.github import GitHub, GitHubError
from eessi_bot.ports.store import Store

log = logging.getLogger(__name__)

KEY_PREFIX = "eessi:"
"""Adopted jobs' keys: `eessi:<job id>`."""
BACKEND = "slurm"
"""The EESSI bot only ever ran Slurm jobs."""
_PR_DIR = re.compile(r"^pr_(\d+)$")


@dataclass(frozen=True)
class Found:
    """A job the EESSI bot left: its link's name (the job id), its directory, and where it was listed."""

    job_id: str
    job_dir: Path
    finished: bool


@dataclass
class AdoptReport:
    adopted: List[Job] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    """(job id, why not)."""


class Adopter:
    def __init__(self, config: Config, store: Store, github: GitHub, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.github = github
        self.clock = clock

    def found(self) -> List[Found]:
        """Every job linked from `job_ids_dir/submitted` and `finished`, by job id."""
        links = []
        for listing, finished in (("submitted", False), ("finished", True)):
            directory = self.config.job_manager.job_ids_dir / listing
            if not directory.is_dir():
                continue
            for link in sorted(directory.iterdir(), key=lambda p: p.name):
                if link.name.isdigit() and link.is_symlink():
                    links.append(Found(link.name, Path(link.resolve()), finished))
        return links

    def adopt(self, dry_run: bool = False) -> AdoptReport:
        """Adopt what is not in the database yet; with `dry_run` only say what would be adopted."""
        report = AdoptReport()
        found_jobs = self.found()
        if found_jobs and self.config.buildenv.job_backend != BACKEND:
            report.skipped += [(f.job_id, "the EESSI bot's jobs are Slurm jobs, and job_backend is not slurm")
                               for f in found_jobs]
            return report
        for found in found_jobs:
            if self.store.jobs.with_job_id(BACKEND, found.job_id) is not None:
                continue
            try:
                job, comment_id = self._job(found)
            except ValueError as exc:
                report.skipped.append((found.job_id, str(exc)))
                continue
            if not dry_run:
                self._save(job, comment_id)
                log.info("adopted the EESSI bot's job %s (%s#%d, %s)", found.job_id, job.repo, job.pr_number,
                         job.state.value, extra={"job_id": found.job_id})
            report.adopted.append(job)
        return report

    # -- one job ------------------------------------------------------------------------------------
    def _job(self, found: Found) -> Tuple[Job, Optional[int]]:
        directory = found.job_dir
        metadata = _ini(directory / metadata_name(found.job_id))
        cfg = _ini(directory / CFG_DIR / JOB_CFG)
        repo = metadata.get("PR", "repo", fallback="").strip()
        number = metadata.get("PR", "pr_number", fallback="").strip()
        if not repo or not number.isdigit():
            raise ValueError(f"{metadata_name(found.job_id)} names no repository and PR")
        arch = cfg.get("architecture", "software_subdir", fallback="").strip()
        accelerator = cfg.get("architecture", "accelerator", fallback="").strip() or None
        key = KEY_PREFIX + found.job_id
        pr_dir = next((p for p in directory.parents if _PR_DIR.match(p.name)), None)
        job = Job(key=key, build_key=key, repo=repo, pr_number=int(number), node_type="(EESSI bot)",
                  repo_id=cfg.get("repository", "repo_id", fallback="").strip() or "?", software_subdir=arch or "?",
                  accelerator=accelerator, on_arch="-".join(arch.split("/")[1:]) or arch or "?",
                  on_accelerator=None, job_dir=str(directory), backend=BACKEND, comment_key=f"job:{key}",
                  state=JobState.SUBMITTED, job_id=found.job_id,
                  symlink=str(pr_dir / found.job_id) if pr_dir is not None else None)
        submitted_at = _mtime(directory / metadata_name(found.job_id)) or self.clock.now()
        text = self.config.template("submitted_job_comments.awaits_release_hold_release_msg").format(
            job_id=found.job_id)
        job = job.with_row(Row(comment_date(submitted_at), "submitted", text))
        if found.finished:
            job = self._finished(job, directory)
        comment = metadata.get("PR", "pr_comment_id", fallback="-1").strip()
        comment_id = int(comment) if comment.lstrip("-").isdigit() and int(comment) > 0 else None
        return job, comment_id or self._find_comment(job)

    def _finished(self, job: Job, directory: Path) -> Job:
        """A job the EESSI bot already reported: its result, as its result files say."""
        job_id = job.job_id or ""
        result = parse_result(read_regular(directory / result_name(job_id), MAX_FILE_BYTES), "RESULT")
        test = parse_result(read_regular(directory / test_name(job_id), MAX_FILE_BYTES), "TEST")
        ended = _mtime(directory / result_name(job_id)) or self.clock.now()
        text = "<br/>".join(d for d in (result.description, test.description) if d) or "result unknown"
        return replace(job, state=JobState.FINISHED, result_status=result.status, test_status=test.status,
                       artefacts=result.artefacts, end_state="UNKNOWN").with_row(
            Row(comment_date(ended), "finished", text))

    def _find_comment(self, job: Job) -> Optional[int]:
        """The job's comment when its metadata does not name it: found as the EESSI bot found it
        (`submitted ... job id `<ID>``)."""
        wanted = re.compile(rf"submitted.*job id `{re.escape(job.job_id or '')}`")
        try:
            for comment in self.github.iter_comments(job.repo, job.pr_number):
                if wanted.search(comment.body):
                    return comment.id
        except GitHubError as exc:
            log.warning("job %s: cannot look for its comment: %s", job.job_id, exc, extra={"job_id": job.job_id})
        return None

    def _save(self, job: Job, comment_id: Optional[int]) -> None:
        now = self.clock.now()
        with self.store.transaction() as tx:
            tx.save_job(replace(job, updated_at=now), now)
            if comment_id is not None:
                body = render_job_comment(self.config.templates, self.config.instance, job, "")
                tx.adopt_comment(job.comment_key, job.repo, job.pr_number, comment_id, body, now)


def _ini(path: Path) -> configparser.ConfigParser:
    """An INI file of the job directory, leniently; ValueError when it is missing or unreadable."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    text = read_text(path, 64 * 1024)
    if text is None:
        raise ValueError(f"{path.name} is missing or not a regular file in {path.parent}")
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise ValueError(f"{path.name} is not an INI file: {exc.__class__.__name__}") from exc
    return parser


def _mtime(path: Path) -> Optional[float]:
    try:
        return path.lstat().st_mtime
    except OSError:
        return None
