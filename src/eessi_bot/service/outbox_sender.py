"""Sends the outbox to GitHub: paced, retried with backoff, never posting a comment twice.

A POST whose outcome is unknown (timeout, 5xx, crash) leaves the row `in_flight`; before posting
again the sender looks for the comment's hidden marker among the PR's comments.

A job's comment is created with the newest state known when the write goes out: in the serving loop
(`run`) the build's first body of a job comment waits up to FRESH_JOB_SETTLE seconds for the job
manager's first look, which the build wakes right after its last submission. That look stores the
`released` row as a new body, which makes the comment due at once (a newer body always does), so the
comment is made with both rows instead of being made and edited a moment later (issue 15: 3 writes per
job, not 4). Nothing else waits: reactions, answers and edits of comments that exist go out at once.
`send_due` alone (replay, demo, try, tests: their callers run the manager themselves) never waits.

A job's check run waits with its comment, for the same reason: created with the `released` state and
row (and, the comment going first, with the comment's URL as its details), it then costs two updates
(`in_progress`, `completed`), where made at once it would cost three. A 403 that says the App lacks
the Checks permission turns check runs off (`jobs.check_runs.CheckRunSwitch`, one warning); check runs
still queued then are given up unsent.
"""

from __future__ import annotations

import logging
import threading
from typing import Dict, Optional

from eessi_bot.core.check_runs import CheckRun, lacks_permission
from eessi_bot.core.effects import CHECK_RUN, marker
from eessi_bot.core.pacing import Pacer
from eessi_bot.jobs.check_runs import CheckRunSwitch
from eessi_bot.jobs.comments import is_job_comment
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.github import Comment, GitHub, GitHubError, NotFound, RateLimited, Rejected
from eessi_bot.ports.store import COMMENT, REACTION, OutboxItem, OutboxStore
from eessi_bot.ports.wakeup import Wakeup
from eessi_bot.service.identity import Identity

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
"""Unexpected errors (bugs) are given up after this many attempts; GitHub's own failures never are."""
MAX_BACKOFF = 300.0
FRESH_JOB_SETTLE = 5.0
"""Seconds a fresh job comment may wait for the job manager's first look (ends as soon as it stored a
newer body). Longer than a command's remaining submissions and one manager cycle take on a busy login
node; short enough that nobody misses the comment. Where the manager runs elsewhere (`eessi-bot
job-manager`, no wake-up across processes) or a held local job waits for a free slot, the comment is made
with its `submitted` row after this wait."""


def backoff(attempts: int) -> float:
    return float(min(MAX_BACKOFF, 2 ** max(0, attempts - 1)))


class OutboxSender:
    def __init__(self, outbox: OutboxStore, github: GitHub, identity: Identity, clock: Clock,
                 writes_waiting: Wakeup, pacer: Optional[Pacer] = None, checks: Optional[CheckRunSwitch] = None,
                 ) -> None:
        """`checks`: where a refused check run turns them off (None: a refusal only fails that write)."""
        self.outbox = outbox
        self.checks = checks
        self.github = github
        self.identity = identity
        self.clock = clock
        self.writes_waiting = writes_waiting
        self.pacer = pacer or Pacer()
        self._paused_until = 0.0
        """GitHub said to wait (rate limit): no write at all goes out before this time."""
        self.settle = 0.0
        """Seconds a fresh job comment waits (`run` sets FRESH_JOB_SETTLE; 0: `send_due` sends it now)."""
        self._settling: Dict[str, float] = {}
        """Job comments held back, until when (in memory: after a restart one waits once more)."""

    def run(self, stop: threading.Event, idle: float = 1.0, settle: float = FRESH_JOB_SETTLE) -> None:
        self.settle = settle
        while not stop.is_set():
            try:
                wait = self.send_due()
            except Exception:
                log.exception("outbox sender failed; retrying")
                wait = idle
            self.writes_waiting.wait(min(idle, wait) if wait is not None else idle)

    def send_due(self) -> Optional[float]:
        """Send what is due now. Returns seconds until the next item is due (None: nothing waits)."""
        while True:
            now = self.clock.now()
            if now < self._paused_until:
                return self._paused_until - now
            items = self.outbox.due(now, limit=1)
            if not items:
                next_at = self.outbox.next_due_at()
                return None if next_at is None else max(0.0, next_at - now)
            delay = self.pacer.delay(now)
            if delay > 0:
                return delay
            self.send(items[0])

    def send(self, item: OutboxItem) -> None:
        now = self.clock.now()
        olog = logging.LoggerAdapter(log, {"delivery_id": item.delivery_id})
        try:
            if item.kind == REACTION:
                self._write()
                assert item.target_id is not None
                self.github.add_reaction(item.repo, item.target_id, item.body)
                self.outbox.record_done(item.key, item.version, self.clock.now())
            elif item.kind == COMMENT:
                self._send_comment(item, olog)
            elif item.kind == CHECK_RUN:
                self._send_check_run(item, olog)
            else:
                self.outbox.record_failed(item.key, f"unknown outbox kind {item.kind!r}", now)
        except RateLimited as exc:
            until = exc.retry_at or now + 60
            olog.warning("outbox %s: rate limited until %.0f; all writes wait: %s", item.key, until, exc)
            self._paused_until = max(self._paused_until, until)
            self.outbox.record_retry(item.key, str(exc), until, now, refused=True)
        except NotFound as exc:
            if item.kind == COMMENT and item.result_id is not None:
                olog.warning("outbox %s: comment %s is gone; making it again", item.key, item.result_id)
                self.outbox.record_lost(item.key, now)
            else:
                olog.error("outbox %s: %s; giving up", item.key, exc)
                self.outbox.record_failed(item.key, str(exc), now)
        except Rejected as exc:
            if item.kind == CHECK_RUN and lacks_permission(exc.status, str(exc)) and self.checks is not None:
                warning = self.checks.suspend(now, str(exc))
                if warning:
                    olog.warning("%s", warning)
            else:
                olog.error("outbox %s: GitHub refused the write (%s); giving up", item.key, exc)
            self.outbox.record_failed(item.key, str(exc), now)
        except GitHubError as exc:  # transient (5xx, timeouts): GitHub comes back, the write waits for it
            attempts = item.attempts + 1
            olog.warning("outbox %s: GitHub error (attempt %d), retrying in %.0f s: %s", item.key, attempts,
                         backoff(attempts), exc)
            self.outbox.record_retry(item.key, str(exc), now + backoff(attempts), now)
        except Exception as exc:
            attempts = item.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                olog.exception("outbox %s: unexpected error after %d attempts, giving up", item.key, attempts)
                self.outbox.record_failed(item.key, str(exc), now)
            else:
                olog.exception("outbox %s: unexpected error (attempt %d), retrying in %.0f s", item.key, attempts,
                               backoff(attempts))
                self.outbox.record_retry(item.key, str(exc), now + backoff(attempts), now)

    def _send_comment(self, item: OutboxItem, olog: logging.LoggerAdapter) -> None:  # type: ignore[type-arg]
        assert item.issue_number is not None
        result_id = item.result_id
        if result_id is None and item.in_flight:
            found = self._find_posted(item)
            if found is not None:
                olog.info("outbox %s: found comment %s of an earlier uncertain POST", item.key, found.id)
                self.outbox.record_adopted(item.key, found.id, found.html_url, self.clock.now())
                if found.body == item.body:
                    self.outbox.record_done(item.key, item.version, self.clock.now())
                    return
                result_id = found.id
        if result_id is None and self._settles(item):
            return
        if result_id is None:
            self.outbox.mark_in_flight(item.key, self.clock.now())
            self._write()
            ref = self.github.create_comment(item.repo, item.issue_number, item.body)
            olog.info("outbox %s: created comment %s", item.key, ref.id)
            self.outbox.record_created(item.key, ref.id, ref.html_url, item.version, self.clock.now())
            return
        self._write()
        self.github.edit_comment(item.repo, result_id, item.body)
        olog.info("outbox %s: edited comment %s", item.key, result_id)
        self.outbox.record_done(item.key, item.version, self.clock.now())

    def _send_check_run(self, item: OutboxItem, olog: logging.LoggerAdapter) -> None:  # type: ignore[type-arg]
        """Like a comment: created once (after an uncertain POST, found by its external_id first), then
        updated to the newest state; the job comment's URL, once known, is its details URL."""
        if self.checks is not None and not self.checks.on(self.clock.now()):
            olog.info("outbox %s: check runs are off; not sent", item.key)
            self.outbox.record_failed(item.key, "check runs are off (see /healthz)", self.clock.now())
            return
        run = CheckRun.decode(item.body)
        details = self.outbox.comment_url(run.details_key) if run.details_key else None
        result_id = item.result_id
        if result_id is None and item.in_flight:
            found = self.github.find_check_run(item.repo, run)
            if found is not None:
                olog.info("outbox %s: found check run %s of an earlier uncertain POST", item.key, found.id)
                self.outbox.record_adopted(item.key, found.id, found.html_url, self.clock.now())
                result_id = found.id
        if result_id is None and self._settles(item):
            return
        if result_id is None:
            self.outbox.mark_in_flight(item.key, self.clock.now())
            self._write()
            ref = self.github.create_check_run(item.repo, run, details)
            olog.info("outbox %s: created check run %s (%s)", item.key, ref.id, run.status)
            self.outbox.record_created(item.key, ref.id, ref.html_url, item.version, self.clock.now())
            return
        self._write()
        self.github.update_check_run(item.repo, result_id, run, details)
        olog.info("outbox %s: updated check run %s (%s)", item.key, result_id, run.conclusion or run.status)
        self.outbox.record_done(item.key, item.version, self.clock.now())

    def _settles(self, item: OutboxItem) -> bool:
        """Hold back the build's first body (version 1) of a job comment (or check run) never sent, up to `settle`
        seconds from the first look; True if it waits. The wait is stored as the row's next attempt,
        so other writes go out meanwhile; a newer body makes the row due at once and is sent."""
        until = self._settling.pop(item.key, None)
        if self.settle <= 0 or item.version != 1 or item.in_flight or not is_job_comment(item.key):
            return False
        now = self.clock.now()
        until = now + self.settle if until is None else until
        if now >= until:
            return False
        self._settling[item.key] = until
        self.outbox.record_retry(item.key, "waiting for the job manager's first look", until, now, refused=True)
        return True

    def _find_posted(self, item: OutboxItem) -> Optional[Comment]:
        assert item.issue_number is not None
        tag = marker(item.key)
        for comment in self.github.iter_comments(item.repo, item.issue_number):
            if comment.body.rstrip().endswith(tag) and self.identity.wrote(comment):
                return comment
        return None

    def _write(self) -> None:
        self.pacer.record(self.clock.now())
