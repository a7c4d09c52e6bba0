"""The `bot: status` table, from the database (the EESSI bot scraped its own PR comments)."""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

from eessi_bot.core.jobs import JobState, JobView
from eessi_bot.core.markdown import cell, code

RESULT_LABELS = {"SUCCESS": ":grin: SUCCESS", "FAILURE": ":cry: FAILURE", "UNKNOWN": ":shrug: UNKNOWN"}
HEADER = ("|on|for|repo|state|result|deploy|date|commit|job|",
          "|----|----|----|----|------|------|----|------|---|")
DEPLOY_WORDS = (("uploaded", "uploaded"), ("pending", "uploading"), ("not_uploaded", "not uploaded"),
                ("skipped", "skipped"), ("stopped", "stopped"))
"""Upload states in the order the deploy column names them."""


def latest_per_target(views: Sequence[JobView]) -> List[JobView]:
    """`last_build`: the newest job per (architecture, accelerator, repository)."""
    latest: Dict[Tuple[str, str, str], JobView] = {}
    for view in views:
        job = view.job
        key = (job.software_subdir, job.accelerator or "", job.repo_id)
        if key not in latest or job.created_at >= latest[key].job.created_at:
            latest[key] = view
    return sorted(latest.values(), key=lambda v: (v.job.software_subdir, v.job.accelerator or "", v.job.repo_id))


def _result(view: JobView) -> str:
    job = view.job
    if job.state is not JobState.FINISHED:
        return ""
    label = RESULT_LABELS.get(job.result_status or "UNKNOWN", job.result_status or "")
    if job.end_state and job.end_state != "COMPLETED":
        label += f" ({job.end_state})"
    return label


def _deploy(view: JobView) -> str:
    """`2 uploaded, 1 not uploaded`: what became of the job's artefacts; empty when never deployed."""
    parts = [f"{view.uploads.count(state)} {word}" for state, word in DEPLOY_WORDS if state in view.uploads]
    return ", ".join(parts)


def render_status(views: Sequence[JobView]) -> List[str]:
    """One row per job, in the order given; columns that always line up."""
    lines = ["This is the status of all the `bot: build` commands:", "", *HEADER]
    for view in views:
        job = view.job
        on = code(job.on_arch) + (f", {code(job.on_accelerator)}" if job.on_accelerator else "")
        target = code(job.software_subdir) + (f", {code(job.accelerator)}" if job.accelerator else "")
        date = job.rows[-1].date if job.rows else ""
        link = f"[{job.job_id}]({view.comment_url})" if view.comment_url else code(job.job_id or "-")
        commit = code(view.head_sha[:12]) if view.head_sha else ""
        state = job.state.value.replace("_", " ")
        lines.append(f"|{on}|{target}|{cell(job.repo_id)}|{state}|{cell(_result(view))}|{cell(_deploy(view))}|"
                     f"{cell(date)}|{commit}|{link}|")
    return lines
