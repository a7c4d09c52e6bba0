"""PR closed: its job directories go to `trash_bin_dir` once none of its jobs runs any more.

The EESSI bot moved them at once (breaking jobs still running) and matched PRs by number only (moving
other repositories' jobs too). Here the directories of `OWNER/REPO/pr_N` are moved, under every
month, to `trash_bin_dir/OWNER/REPO/YYYY.MM.DD/YYYY.MM/pr_N`, after the PR's last job finished.
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import List

from eessi_bot.core.config import ChatLevel, Config
from eessi_bot.core.effects import Effects
from eessi_bot.core.uploads import UploadState
from eessi_bot.jobs import paths
from eessi_bot.jobs.adopt import KEY_PREFIX as ADOPTED_PREFIX
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.store import Store

log = logging.getLogger(__name__)


def _free(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`, ... when a re-closed PR already left one there today."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate


class Trash:
    def __init__(self, config: Config, store: Store, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.clock = clock

    def sweep(self) -> int:
        """Move the directories of closed PRs whose jobs are all done; how many PRs were done.

        The PR is marked done in the transaction that stores the comment saying where its
        directories went: the comment is never posted for a PR that stays pending, nor twice."""
        done = 0
        for closed in self.store.jobs.closed_pending():
            repo, number, delivery_id = closed.repo, closed.number, closed.delivery_id
            if self.store.jobs.unfinished_for_pr(repo, number) or self._uploading(repo, number):
                continue
            try:
                moved = self._move(repo, number)
            except OSError as exc:
                log.error("cannot move the job directories of %s#%d to the trash: %s", repo, number, exc,
                          extra={"delivery_id": delivery_id})
                continue
            effects = Effects()
            if moved and self.config.bot_control.chatlevel >= ChatLevel.CHATTY:
                text = self.config.template("clean_up.moved_job_dirs_comment").format(
                    job_dirs=str([str(p) for p in moved]), trash_bin_dir=str(self.config.clean_up.trash_bin_dir))
                effects.comment(f"closed:{repo}#{number}:{delivery_id}", repo, number, text)
            with self.store.transaction() as tx:
                tx.put(effects, self.clock.now())
                tx.closed_done(repo, number, self.clock.now())
            done += 1
            log.info("%s#%d closed: moved %d job directories to the trash", repo, number, len(moved),
                     extra={"delivery_id": delivery_id})
        return done

    def _move(self, repo: str, number: int) -> List[Path]:
        day = datetime.fromtimestamp(self.clock.now(), tz=timezone.utc).strftime("%Y.%m.%d")
        base = self.config.clean_up.trash_bin_dir / repo / day
        moved = []
        jobs_base = self.config.buildenv.jobs_base_dir
        found = [(d, d.parents[2].name) for d in paths.pr_dirs(jobs_base, repo, number)]
        found += [(d, d.parent.name) for d in self._eessi_dirs(repo, number) if d.is_dir()]
        for directory, month in found:
            target = _free(base / month / directory.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(directory), str(target))
            moved.append(target)
        return moved

    def _uploading(self, repo: str, number: int) -> bool:
        """A deploy still reads the PR's job directories (a merged PR's artefacts still going to S3)."""
        return any(u.state is UploadState.PENDING for u in self.store.uploads.for_pr(repo, number))

    def _eessi_dirs(self, repo: str, number: int) -> List[Path]:
        """`jobs_base_dir/YYYY.MM/pr_N` of jobs adopted from the EESSI bot (its layout has no owner/repo,
        so such a directory holds whatever that bot put there for PR number N)."""
        base = self.config.buildenv.jobs_base_dir
        dirs = set()
        for job in self.store.jobs.for_pr(repo, number):
            if job.key.startswith(ADOPTED_PREFIX):
                for parent in Path(job.job_dir).parents:
                    if parent.name == f"pr_{number}" and parent.parent.parent == base:
                        dirs.add(parent)
        return sorted(dirs)
