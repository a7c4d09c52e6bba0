"""Jobs, pins, closed PRs, deploy labels and uploads of the in-memory store."""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple

from eessi_bot.core.jobs import FOLLOWED, UNFINISHED, BuildPin, Job, JobState
from eessi_bot.core.uploads import DeployLabel, Upload, UploadState
from eessi_bot.ports.store import ClosedPr
from tests.fakes.memory_state import ClosedRow, Part

PRE_SUBMIT = tuple(s for s in UNFINISHED if s not in FOLLOWED)


class MemoryJobs(Part):
    def pin(self, key: str) -> Optional[BuildPin]:
        with self._store.lock:
            return self._s.pins.get(key)

    def save_pin(self, pin: BuildPin, now: float) -> None:
        with self._store.lock:
            if pin.key not in self._s.pins:
                self._s.pins[pin.key] = pin
                self._s.pinned_at[pin.key] = now

    def get(self, key: str) -> Optional[Job]:
        with self._store.lock:
            found = self._s.jobs.get(key)
            return None if found is None else found[1]

    def with_job_id(self, backend: str, job_id: str) -> Optional[Job]:
        return next((job for job in self._ordered() if (job.backend, job.job_id) == (backend, job_id)), None)

    def active(self, backend: str) -> List[Job]:
        return [job for job in self._ordered() if job.backend == backend and job.state in FOLLOWED]

    def for_pr(self, repo: str, pr_number: int) -> List[Job]:
        return [job for job in self._ordered() if (job.repo, job.pr_number) == (repo, pr_number)]

    def list(self, repo: Optional[str] = None, pr_number: Optional[int] = None,
             states: Optional[Sequence[JobState]] = None) -> List[Job]:
        return [job for job in self._ordered() if (repo is None or job.repo == repo)
                and (pr_number is None or job.pr_number == pr_number) and (states is None or job.state in states)]

    def unfinished_for_pr(self, repo: str, pr_number: int) -> int:
        return sum(1 for job in self.for_pr(repo, pr_number) if job.state in UNFINISHED)

    def comment_ids(self) -> List[Tuple[Job, int]]:
        with self._store.lock:
            found = []
            for job in self._ordered():
                write = self._s.writes.get(job.comment_key)
                comment_id = write.item.result_id if write is not None else None
                if job.job_id and comment_id is not None and self._s.metadata_comment_ids.get(job.key) != comment_id:
                    found.append((job, comment_id))
            return found

    def set_metadata_comment_id(self, key: str, comment_id: int) -> None:
        with self._store.lock:
            self._s.metadata_comment_ids[key] = comment_id

    def set_cancelled_by(self, key: str, sender: str, now: float) -> None:
        with self._store.lock:
            order, job = self._s.jobs[key]
            self._s.jobs[key] = (order, replace(job, cancelled_by=sender, updated_at=now))

    def abandon(self, delivery_id: str, reason: str, now: float) -> int:
        with self._store.lock:
            count = 0
            for key, (order, job) in list(self._s.jobs.items()):
                if job.build_key.startswith(delivery_id + ":") and job.state in PRE_SUBMIT:
                    self._s.jobs[key] = (order, replace(job, state=JobState.SUBMIT_FAILED, error=reason,
                                                        updated_at=now))
                    count += 1
            return count

    def close_pr(self, repo: str, pr_number: int, delivery_id: str, merged: bool, sender: str, now: float) -> None:
        with self._store.lock:
            closed = self._s.closed.get((repo, pr_number))
            if closed is None or closed.delivery_id != delivery_id:
                self._s.closed[(repo, pr_number)] = ClosedRow(delivery_id, now)

    def reopen_pr(self, repo: str, pr_number: int) -> None:
        with self._store.lock:
            closed = self._s.closed.get((repo, pr_number))
            if closed is not None and closed.done_at is None:
                del self._s.closed[(repo, pr_number)]

    def closed_pending(self) -> List[ClosedPr]:
        with self._store.lock:
            pending = sorted(((c.closed_at, key, c) for key, c in self._s.closed.items() if c.done_at is None),
                             key=lambda item: item[0])
            return [ClosedPr(repo, number, c.delivery_id) for _, (repo, number), c in pending]

    def counts(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for job in self._ordered():
            counts[job.state.value] = counts.get(job.state.value, 0) + 1
        return counts

    def next_local_id(self, now: float) -> str:
        with self._store.lock:
            self._s.local_ids += 1
            return str(self._s.local_ids)

    def prunable(self, before: float) -> int:
        return sum(1 for job in self._ordered()
                   if job.state in (JobState.FINISHED, JobState.SUBMIT_FAILED) and job.updated_at < before)

    def _ordered(self) -> List[Job]:
        with self._store.lock:
            return [job for _, job in sorted(self._s.jobs.values(), key=lambda item: (item[1].created_at, item[0]))]


class MemoryUploads(Part):
    def label(self, repo: str, pr_number: int) -> Optional[DeployLabel]:
        with self._store.lock:
            return self._s.labels.get((repo, pr_number))

    def labels(self) -> List[DeployLabel]:
        with self._store.lock:
            return sorted(self._s.labels.values(), key=lambda label: label.since)

    def set_label(self, label: DeployLabel) -> None:
        with self._store.lock:
            self._s.labels[(label.repo, label.pr_number)] = label

    def clear_label(self, repo: str, pr_number: int) -> None:
        with self._store.lock:
            self._s.labels.pop((repo, pr_number), None)

    def get(self, key: str) -> Optional[Upload]:
        with self._store.lock:
            found = self._s.uploads.get(key)
            return None if found is None else found[1]

    def for_pr(self, repo: str, pr_number: int) -> List[Upload]:
        return [u for u in self._ordered() if (u.repo, u.pr_number) == (repo, pr_number)]

    def due(self, now: float, limit: int = 10) -> List[Upload]:
        ready = [u for u in self._ordered() if u.state is UploadState.PENDING and u.next_attempt_at <= now]
        return sorted(ready, key=lambda u: u.next_attempt_at)[:limit]

    def next_due_at(self) -> Optional[float]:
        times = [u.next_attempt_at for u in self._ordered() if u.state is UploadState.PENDING]
        return min(times) if times else None

    def _ordered(self) -> List[Upload]:
        with self._store.lock:
            return [u for _, u in sorted(self._s.uploads.values(), key=lambda item: (item[1].created_at, item[0]))]
