"""The `bot:deploy` label, recorded: the deployer thread does the rest (`deploy/deployer.py`)."""

from __future__ import annotations

import logging
from dataclasses import replace

from eessi_bot.core.uploads import DeployLabel, UploadState
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.store import Store
from eessi_bot.ports.wakeup import Wakeup

log = logging.getLogger(__name__)


class DeployService:
    """`ports.deploys.Deploys`; wakes the deployer (`uploads_waiting`) when the label changes."""

    def __init__(self, store: Store, clock: Clock, uploads_waiting: Wakeup) -> None:
        self.store = store
        self.clock = clock
        self.uploads_waiting = uploads_waiting

    def label_on(self, repo: str, pr_number: int, approved_by: str, delivery_id: str) -> None:
        current = self.store.uploads.label(repo, pr_number)
        if current is None or current.delivery_id != delivery_id:
            self.store.uploads.set_label(DeployLabel(repo, pr_number, approved_by, delivery_id, self.clock.now()))
        self.uploads_waiting.notify()

    def label_off(self, repo: str, pr_number: int) -> int:
        self.store.uploads.clear_label(repo, pr_number)
        waiting = [u for u in self.store.uploads.for_pr(repo, pr_number)
                   if u.state is UploadState.PENDING and u.attempts == 0]
        now = self.clock.now()
        with self.store.transaction() as tx:
            for upload in waiting:
                tx.save_upload(replace(upload, state=UploadState.STOPPED, reason="the bot:deploy label was removed"),
                               now)
        if waiting:
            log.info("%s#%d: bot:deploy removed; %d uploads stopped", repo, pr_number, len(waiting))
        return len(waiting)
