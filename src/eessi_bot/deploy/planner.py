"""What a deploy adds now: the upload policy applied to the PR's successful jobs, minus what
earlier rounds already decided. Pure: data in, new upload rows out."""

from __future__ import annotations

from typing import Dict, FrozenSet, Iterable, List, Sequence

from eessi_bot.core.deploy.artefacts import check_artefact
from eessi_bot.core.deploy.policy import BuildTarget, History, candidates_of, select
from eessi_bot.core.jobs import Job
from eessi_bot.core.uploads import DeployLabel, Upload, UploadState, upload_key

LIVE = (UploadState.PENDING, UploadState.UPLOADED)
"""Uploads that count as done or in progress for the policy."""


def plan(policy: str, label: DeployLabel, jobs: Sequence[Job], existing: Sequence[Upload],
         legacy_targets: Iterable[BuildTarget] = ()) -> List[Upload]:
    """New upload rows for the PR of `label`: pending ones to upload, skipped ones (the policy left
    them out) and refused ones (bad names), each at most once per (job, artefact). A row stopped by
    an earlier removal of the label is decided again."""
    decided: Dict[str, Upload] = {u.key: u for u in existing if u.state is not UploadState.STOPPED}
    live = [u for u in existing if u.state in LIVE]
    history = History(uploads=frozenset((u.job_key, u.artefact) for u in live),
                      targets=_targets(live) | frozenset(legacy_targets))
    rows = []
    for decision in select(policy, candidates_of(jobs), history):
        candidate = decision.candidate
        key = upload_key(candidate.job_key, candidate.artefact)
        if key in decided:
            continue
        if decision.upload:
            state, reason = UploadState.PENDING, None
        else:
            refused = check_artefact(candidate.artefact) is not None
            state, reason = (UploadState.NOT_UPLOADED if refused else UploadState.SKIPPED), decision.reason
        target = candidate.target
        row = Upload(key=key, job_key=candidate.job_key, repo=label.repo, pr_number=label.pr_number,
                     artefact=candidate.artefact, repo_id=target.repo_id, arch=target.arch,
                     accelerator=target.accelerator, deploy_key=label.deploy_key, approved_by=label.approved_by,
                     state=state, reason=reason)
        decided[key] = row
        rows.append(row)
    return rows


def _targets(uploads: Iterable[Upload]) -> FrozenSet[BuildTarget]:
    return frozenset(BuildTarget(u.repo_id, u.arch, u.accelerator) for u in uploads)
