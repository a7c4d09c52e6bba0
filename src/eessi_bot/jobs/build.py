"""Prepare and submit the jobs of one `bot: build` command, exactly once even across crashes.

The PR is fetched once into the repository's mirror and pinned (base and head SHA, stored per
command); each job directory is made from the mirror; each job's progress is a database row whose
comment is re-rendered into the outbox in the same transaction. A command handled again after a
crash picks up where it stopped: prepared directories are reused, and a submission whose answer was
lost is found by its marker instead of being repeated.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import pwd
import shlex
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Mapping, Optional, Sequence, Tuple

from eessi_bot.core.build_report import BuildReport
from eessi_bot.core.config import Config
from eessi_bot.core.job_comment import submitted_row
from eessi_bot.core.jobfiles import (
    CFG_DIR,
    EXPORT_VARS,
    JOB_CFG,
    SANDBOX_CFG,
    metadata_name,
    render_export_vars,
    render_job_cfg,
    render_metadata,
    render_sandbox_cfg,
    sandbox_hidden,
)
from eessi_bot.core.jobs import BuildPin, Job, JobState
from eessi_bot.core.markdown import code, fenced
from eessi_bot.core.targets import Target
from eessi_bot.jobs import paths
from eessi_bot.jobs.comments import JOB_PREFIX, SUMMARY_PREFIX, JobComments
from eessi_bot.jobs.environment import job_environment
from eessi_bot.jobs.files import clear, point, write_new
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.git import Git, GitError
from eessi_bot.ports.github import GitHub
from eessi_bot.ports.jobs import Request, RerunRefused
from eessi_bot.ports.scheduler import Scheduler, Submission, SubmitError
from eessi_bot.ports.store import Store

log = logging.getLogger(__name__)

_JOB_NAMES = ("slurm-*.out", "_bot_*")
"""Names the scheduler, the job script and the local backend write in a job directory."""

_STAGE_TEXTS = {"clone": "git_clone", "checkout": "git_checkout", "pr_diff": "pr_diff", "apply": "git_apply"}


class BuildService:
    def __init__(self, config: Config, github: GitHub, git: Git, scheduler: Scheduler, store: Store,
                 clock: Clock, job_script: Path, environment: Optional[Mapping[str, str]] = None) -> None:
        self.config = config
        self.github = github
        self.git = git
        self.scheduler = scheduler
        self.store = store
        self.clock = clock
        self.job_script = job_script
        self.environment = job_environment(os.environ if environment is None else environment,
                                           config.buildenv.job_environment)
        self.comments = JobComments(config, store)

    def build(self, request: Request, targets: Sequence[Target], exports: Sequence[str]) -> BuildReport:
        build_key = f"{request.delivery_id}:{request.line}"
        report = BuildReport()
        try:
            pin = self._pin(build_key, request)
        except GitError as exc:
            report.download_error = self._download_error(exc)
            return report
        pr = paths.pr_dir(self.config.buildenv.jobs_base_dir, request.repo, request.number, request.received_at)
        run = paths.run_dir(pr, request.delivery_id, request.line)
        for target in targets:
            job = self._job(build_key, request, target, run, exports)
            try:
                job = self._prepare(job, target, pin, exports)
                job = self._submit(job, pin, pr)
            except (SubmitError, GitError, OSError) as exc:
                message = exc.message if isinstance(exc, GitError) else str(exc)
                log.warning("job %s: %s", job.key, message)
                job = replace(job, state=JobState.SUBMIT_FAILED, error=message)
                self.comments.save(job, self.clock.now())
                report.failed.append((target, message))
                continue
            report.submitted.append(job)
        return report

    def rebuild(self, job: Job, request: Request) -> BuildReport:
        """A check run's Re-run: `job`'s target as a new job keyed by `request`, with the same commits
        (its command's pin, copied to the new command; fetched anew only if that pin was forgotten)
        and the same `exportvariable:`s. RerunRefused when this instance no longer builds the target or
        no longer allows an export."""
        node = next((n for n in self.config.node_types if n.name == job.node_type), None)
        if node is None or job.repo_id not in node.repo_targets:
            raise RerunRefused(f"node type {code(job.node_type)} no longer builds repository {code(job.repo_id)} "
                               "on this instance")
        exports = job.exports if job.exports is not None else saved_exports(Path(job.job_dir))
        refused = [e for e in exports if e not in self.config.buildenv.allowed_exportvars]
        if refused:
            raise RerunRefused(f"{code('exportvariable:' + refused[0])} is no longer allowed on this instance")
        pin = self.store.jobs.pin(job.build_key)
        if pin is not None:
            self.store.jobs.save_pin(replace(pin, key=f"{request.delivery_id}:{request.line}"), self.clock.now())
        target = Target(node=node, repo_id=job.repo_id, software_subdir=job.software_subdir,
                        accelerator=job.accelerator, on_accelerator=job.on_accelerator)
        return self.build(request, [target], exports)

    # -- the pinned checkout ---------------------------------------------------------------
    def _pin(self, key: str, request: Request) -> BuildPin:
        pin = self.store.jobs.pin(key)
        if pin is not None:
            return pin
        pull = self.github.get_pull(request.repo, request.number)
        url = pull.ssh_url if self.config.buildenv.clone_git_repo_via == "ssh" else pull.clone_url
        token = self.github.git_token() if url.startswith("https://") else None
        checkout = self.git.prepare(url, pull.base_ref, request.number, pull.head_sha, token)
        pin = BuildPin(key=key, repo=request.repo, pr_number=request.number, checkout=checkout)
        self.store.jobs.save_pin(pin, self.clock.now())
        return pin

    def _download_error(self, exc: GitError) -> str:
        name = _STAGE_TEXTS.get(exc.stage, "git_clone")
        failure = self.config.template(f"download_pr_comments.{name}_failure")
        tip = self.config.template(f"download_pr_comments.{name}_tip")
        details = (exc.stderr or exc.message).strip()
        return f"{exc.message}\n\n{fenced(details)}\n\n{failure}\n{tip}"

    # -- one job ---------------------------------------------------------------------------
    def _job(self, build_key: str, request: Request, target: Target, run: Path, exports: Sequence[str]) -> Job:
        key = f"{build_key}:{target.node.name}:{target.repo_id}"
        existing = self.store.jobs.get(key)
        if existing is not None:
            return existing
        comment_key = (f"{SUMMARY_PREFIX}{build_key}" if self.config.buildenv.job_comment_mode == "summary"
                       else f"{JOB_PREFIX}{key}")
        return Job(key=key, build_key=build_key, repo=request.repo, pr_number=request.number,
                   node_type=target.node.name, repo_id=target.repo_id, software_subdir=target.software_subdir,
                   accelerator=target.accelerator, on_arch=target.on_arch, on_accelerator=target.on_accelerator,
                   job_dir=str(paths.job_dir(run, target)), backend=self.config.buildenv.job_backend,
                   comment_key=comment_key, exports=tuple(exports))

    def _prepare(self, job: Job, target: Target, pin: BuildPin, exports: Sequence[str]) -> Job:
        if job.state not in (JobState.PREPARING, JobState.SUBMIT_FAILED):
            return job
        job = replace(job, state=JobState.PREPARING, error=None)
        job = self.comments.save(job, self.clock.now())
        directory = Path(job.job_dir)
        self.git.make_tree(pin.checkout, directory, pin.pr_number)
        _clear_job_names(directory)
        cfg = directory / CFG_DIR
        clear(cfg)  # whatever the PR put there goes: cfg/ is the bot's
        shutil.copytree(self.config.repos_cfg_dir, cfg, symlinks=True)
        repo = self.config.repos.get(target.repo_id)
        write_new(cfg / JOB_CFG, render_job_cfg(target, self.config.buildenv.site_config, repo, cfg).encode())
        if exports:
            write_new(cfg / EXPORT_VARS, render_export_vars(exports).encode())
        if self.config.buildenv.job_sandbox == "bwrap":
            self._write_sandbox_cfg(cfg)
        self._write_end_dir(cfg)
        return self.comments.save(replace(job, state=JobState.PREPARED), self.clock.now())

    def _write_end_dir(self, cfg: Path) -> None:
        """`cfg/end_dir`: where the job drops its end marker for the manager (`jobs/end_markers.py`); the
        job script reads it before any PR code runs."""
        ended = paths.ended_dir(self.config.buildenv.jobs_base_dir, self.config.github.app_name)
        ended.mkdir(parents=True, exist_ok=True)
        write_new(cfg / paths.END_DIR_FILE, f"{ended}\n".encode())

    def _write_sandbox_cfg(self, cfg: Path) -> None:
        """`cfg/sandbox.cfg`: what the job script hides from the PR's steps. The bot's home is the one
        the job gets (HOME) and this user's home in the password database, should they differ."""
        homes = [self.environment.get("HOME", ""), pwd.getpwuid(os.getuid()).pw_dir]
        try:
            text = render_sandbox_cfg(sandbox_hidden(self.config, homes))
        except ValueError as exc:
            raise OSError(str(exc)) from None
        write_new(cfg / SANDBOX_CFG, text.encode())

    def _submit(self, job: Job, pin: BuildPin, pr: Path) -> Job:
        """Submit (or find the earlier submission of) a prepared job, and record its id at once.

        An answer the scheduler may or may not have acted on (a timeout) raises SchedulerUnavailable:
        the job stays SUBMITTING and the command is retried, which looks for it by its marker first.
        """
        if job.state not in (JobState.PREPARED, JobState.SUBMITTING):
            return job
        submission = self._submission(job)
        job_id = self.scheduler.find(submission) if job.state is JobState.SUBMITTING else None
        if job_id is None:
            job = replace(job, state=JobState.SUBMITTING)
            job = self.comments.save(job, self.clock.now())
            job_id = self.scheduler.submit(submission)
            log.info("job %s: submitted as %s", job.key, job_id)
        else:
            log.info("job %s: found earlier submission %s", job.key, job_id)
        row = submitted_row(self.config.templates, job_id, self.clock.now(), submission.begin_delay)
        job = replace(job, state=JobState.SUBMITTED, job_id=job_id, symlink=str(pr / job_id)).with_row(row)
        job = self.comments.save(job, self.clock.now())
        self._write_extras(job, pin, pr)
        return job

    def _submission(self, job: Job) -> Submission:
        b = self.config.buildenv
        node = next(n for n in self.config.node_types if n.name == job.node_type)
        delay = int(b.job_delay_begin_factor * self.config.job_manager.poll_interval) if b.delayed_begin else None
        return Submission(job_dir=Path(job.job_dir), script=b.build_job_script or self.job_script,
                          name=b.job_name, marker=job.key, options=(*b.slurm_params, *node.slurm_params),
                          hold=not b.delayed_begin, begin_delay=delay, environment=self.environment)

    def _write_extras(self, job: Job, pin: BuildPin, pr: Path) -> None:
        """The metadata file and the links `pr_N/<job id>` (shown in the comment) and
        `job_ids_dir/submitted/<job id>` (for admins): useful, but the job is recorded without them."""
        assert job.job_id is not None
        directory = Path(job.job_dir)
        try:
            write_new(directory / metadata_name(job.job_id), render_metadata(job.repo, job.pr_number, -1,
                                                                             pin.checkout).encode())
            for link in (pr / job.job_id, self.config.job_manager.job_ids_dir / "submitted" / job.job_id):
                point(link, directory)
        except OSError as exc:
            log.warning("job %s: cannot write its metadata or links: %s", job.job_id, exc,
                        extra={"job_id": job.job_id})


def saved_exports(directory: Path) -> Tuple[str, ...]:
    """The `NAME=value`s of a job's `cfg/export_vars.sh` (for a job stored before its exports were kept;
    the caller still checks them against `allowed_exportvars`, since the job could write the file)."""
    if not directory.is_dir():
        raise RerunRefused(f"its job directory {code(str(directory))} is gone (to the trash?), and with it what "
                           "its `exportvariable:`s were")
    try:
        text = (directory / CFG_DIR / EXPORT_VARS).read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        raise RerunRefused(f"its exports cannot be read from {code(str(directory))}: {exc}") from None
    found = []
    for line in text.splitlines():
        try:
            words = shlex.split(line)
        except ValueError:
            words = []
        if len(words) != 2 or words[0] != "export" or "=" not in words[1]:
            raise RerunRefused(f"its {code(EXPORT_VARS)} holds a line the bot did not write")
        found.append(words[1])
    return tuple(found)


def _clear_job_names(directory: Path) -> None:
    """Whatever the PR put at a name the job's own writes use goes: a link there would make Slurm or the job
    script (outside a sandbox) write through it into a file of the bot's."""
    for entry in directory.iterdir():
        if any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in _JOB_NAMES):
            clear(entry)
