"""The deployer thread: while `bot:deploy` is on a PR, its successful jobs' artefacts go to S3.

Each round plans (the upload policy over the PR's finished jobs, `deploy/planner.py`) and uploads
what is due (`deploy/transfer.py`). Progress lives in the database: an upload, the `uploaded` /
`not uploaded` row on its job's comment and the deploy's summary comment are saved in one
transaction, so a restart resumes where the bot stopped and reports nothing twice. While the object
store is unreachable an upload waits (backoff capped at MAX_BACKOFF) and is never given up.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Dict, List, Sequence

from eessi_bot.core.config import ChatLevel, Config
from eessi_bot.core.deploy.artefacts import check_artefact
from eessi_bot.core.deploy.policy import BuildTarget, Candidate, Decision
from eessi_bot.core.deploy.report import FAILED, UPLOADED, WAITING, DeployItem, render_deploy_summary, upload_row
from eessi_bot.core.effects import Effects
from eessi_bot.core.jobs import Job
from eessi_bot.core.uploads import REPORTED, DeployLabel, Upload, UploadState
from eessi_bot.deploy.artefact_file import ArtefactRefused
from eessi_bot.deploy.legacy_uploads import legacy_targets_for
from eessi_bot.deploy.planner import plan
from eessi_bot.deploy.transfer import ArtefactTransfer, Context
from eessi_bot.jobs.comments import JobComments
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.object_store import StoreRefused, StoreUnavailable
from eessi_bot.ports.signer import SigningError
from eessi_bot.ports.store import Store
from eessi_bot.ports.wakeup import Wakeup

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
"""Seconds between attempts at most while the object store is down: uploads resume soon after it returns."""
PLAN_EVERY = 5.0
"""Seconds between looks at labelled PRs for jobs that finished meanwhile."""


def summary_item(upload: Upload, job_id: str) -> DeployItem:
    """An upload as the deploy's summary comment shows it: chosen (waiting, uploaded, failed) or
    left out (the policy, a refused name, the label removed), with why."""
    candidate = Candidate(upload.job_key, job_id, BuildTarget(upload.repo_id, upload.arch, upload.accelerator),
                          upload.artefact, upload.created_at)
    refused_name = check_artefact(upload.artefact) is not None
    if upload.state in (UploadState.SKIPPED, UploadState.STOPPED) or refused_name:
        return DeployItem(Decision(candidate, False, upload.reason))
    state = {UploadState.UPLOADED: UPLOADED, UploadState.NOT_UPLOADED: FAILED}.get(upload.state, WAITING)
    return DeployItem(Decision(candidate, True), bucket=upload.bucket, key=upload.object_key, state=state,
                      error=upload.reason if state == FAILED else None)


def backoff(attempts: int) -> float:
    return float(min(MAX_BACKOFF, 2 ** max(0, attempts - 1)))


class Deployer:
    def __init__(self, config: Config, store: Store, transfer: ArtefactTransfer, clock: Clock, uploads_waiting: Wakeup,
                 writes_waiting: Wakeup) -> None:
        self.config = config
        self.store = store
        self.transfer = transfer
        self.clock = clock
        self.uploads_waiting = uploads_waiting
        self.writes_waiting = writes_waiting
        self.comments = JobComments(config, store)

    # -- one round ---------------------------------------------------------------------------
    def cycle(self) -> int:
        """Plan for every labelled PR, then upload what is due; how many uploads changed state."""
        changed = sum(self._plan(label) for label in self.store.uploads.labels())
        for upload in self.store.uploads.due(self.clock.now()):
            changed += self._upload(upload)
        if changed:
            self.writes_waiting.notify()
        return changed

    def _plan(self, label: DeployLabel) -> int:
        jobs = self.store.jobs.for_pr(label.repo, label.pr_number)
        policy = self.config.deploy.upload_policy
        legacy = legacy_targets_for(self.config, label.pr_number) if policy == "once" else frozenset()
        rows = plan(policy, label, jobs, self.store.uploads.for_pr(label.repo, label.pr_number), legacy)
        if rows:
            by_key = {job.key: job for job in jobs}
            self._save(rows, by_key)
            log.info("%s#%d: deploy planned %d uploads", label.repo, label.pr_number,
                     sum(1 for r in rows if r.state is UploadState.PENDING))
        return len(rows)

    def _upload(self, upload: Upload) -> int:
        job = self.store.jobs.get(upload.job_key)
        if job is None:
            self._save([replace(upload, state=UploadState.NOT_UPLOADED, reason="the job is no longer known")], {})
            return 1
        started = replace(upload, attempts=upload.attempts + 1)
        self._save([started], {})
        ulog = logging.LoggerAdapter(log, {"job_id": job.job_id})
        try:
            done = self.transfer.run(started, self._context(job))
        except StoreUnavailable as exc:
            wait = backoff(started.attempts)
            ulog.warning("upload of %s: the object store is unreachable (%s); next try in %.0f s",
                         upload.artefact, exc, wait)
            self._save([replace(started, next_attempt_at=self.clock.now() + wait, reason=str(exc)[:500])], {})
            return 0
        except (ArtefactRefused, StoreRefused, SigningError) as exc:
            ulog.warning("upload of %s refused: %s", upload.artefact, exc)
            done = replace(started, state=UploadState.NOT_UPLOADED, reason=str(exc)[:500])
        else:
            ulog.info("uploaded %s to %s/%s", upload.artefact, done.bucket, done.object_key)
        self._save([done], {job.key: job})
        return 1

    def _context(self, job: Job) -> Context:
        pin = self.store.jobs.pin(job.build_key)
        written = self.store.outbox.get(job.comment_key)
        comment_id = written.result_id if written is not None and written.result_id is not None else -1
        return Context(job=job, pr_comment_id=comment_id, base_sha=pin.checkout.base_sha if pin else "",
                       head_sha=pin.checkout.head_sha if pin else "")

    # -- bookkeeping ---------------------------------------------------------------------------
    def _save(self, uploads: List[Upload], jobs: Dict[str, Job]) -> None:
        """Store uploads; a finished one adds its row to its job's comment, and the deploy's summary
        comment is rendered again; all in one transaction."""
        now = self.clock.now()
        reported = [u for u in uploads if u.state in REPORTED and u.job_key in jobs]
        heads = {key: self.comments.head_sha(job) for key, job in jobs.items()}
        with self.store.transaction() as tx:
            for upload in uploads:
                tx.save_upload(upload, now)
            for upload in reported:
                job = jobs[upload.job_key]
                row = upload_row(now, upload.artefact, upload.state is UploadState.UPLOADED, upload.reason)
                jobs[upload.job_key] = self.comments.stage(tx, job.with_row(row), now, heads[upload.job_key])
            if self.config.bot_control.chatlevel >= ChatLevel.BASIC:
                for deploy_key in sorted({u.deploy_key for u in uploads}):
                    tx.put(self._summary(deploy_key, tx.uploads_of_deploy(deploy_key)), now)

    def _summary(self, deploy_key: str, uploads: Sequence[Upload]) -> Effects:
        first = uploads[0]
        items = [summary_item(u, self._job_id(u.job_key)) for u in uploads]
        body = render_deploy_summary(self.config.instance, first.approved_by, self.config.deploy.upload_policy, items)
        effects = Effects()
        effects.comment(deploy_key, first.repo, first.pr_number, body)
        return effects

    def _job_id(self, job_key: str) -> str:
        job = self.store.jobs.get(job_key)
        return job.job_id or "?" if job is not None else "?"

    # -- the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.cycle()
            except Exception:
                log.exception("deployer round failed; trying again")
            next_at = self.store.uploads.next_due_at()
            wait = PLAN_EVERY if next_at is None else min(PLAN_EVERY, max(0.05, next_at - self.clock.now()))
            self.uploads_waiting.wait(wait)
