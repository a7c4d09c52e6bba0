"""The per-job PR comment (reference §5.6), rendered whole from the job's row in the database."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import List, Mapping, Optional, Sequence

from eessi_bot.core.jobs import Job, Row
from eessi_bot.core.markdown import cell, code

TABLE_HEAD = "|date|job status|comment|\n|----------|----------|------------------------|"


def comment_date(timestamp: float) -> str:
    """The EESSI bot's date format (`%b %d %X %Z %Y`), without its dependence on the locale."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%b %d %H:%M:%S UTC %Y")


def submitted_row(templates: Mapping[str, str], job_id: str, timestamp: float, delay_seconds: Optional[int]) -> Row:
    if delay_seconds is None:
        text = templates["submitted_job_comments.awaits_release_hold_release_msg"].format(job_id=job_id)
    else:
        text = templates["submitted_job_comments.awaits_release_delayed_begin_msg"].format(
            job_id=job_id, delay_seconds=delay_seconds)
    return Row(comment_date(timestamp), "submitted", text)


def _accelerator(templates: Mapping[str, str], accelerator: Optional[str]) -> str:
    if not accelerator:
        return ""
    return templates["submitted_job_comments.with_accelerator"].format(accelerator=accelerator)


def header(templates: Mapping[str, str], app_name: str, job: Job, head_sha: str) -> List[str]:
    """Lines 1-5: instance and repository, built on, built for, job dir (the per-job symlink), commit."""
    section = "submitted_job_comments."
    lines = [
        templates[section + "new_job_instance_repo"].format(app_name=app_name, repo_id=job.repo_id),
        templates[section + "build_on_arch"].format(
            on_arch=job.on_arch, on_accelerator=_accelerator(templates, job.on_accelerator)),
        templates[section + "build_for_arch"].format(
            for_arch=job.software_subdir, for_accelerator=_accelerator(templates, job.accelerator)),
        templates[section + "jobdir"].format(symlink=job.symlink or job.job_dir),
    ]
    commit = templates[section + "commit_sha"]
    if commit:
        lines.append(commit.format(commit_sha=head_sha))
    return lines


def table(rows: Sequence[Row]) -> str:
    return "\n".join([TABLE_HEAD] + [f"|{cell(r.date)}|{cell(r.status)}|{cell(r.comment)}|" for r in rows])


def render_job_comment(templates: Mapping[str, str], app_name: str, job: Job, head_sha: str) -> str:
    return "\n".join(header(templates, app_name, job, head_sha)) + "\n" + table(job.rows)


def render_summary(app_name: str, jobs: Sequence[Job], head_sha: str) -> str:
    """`job_comment_mode = summary`: one comment for all jobs of a command, a row per job."""
    lines = [f"Jobs on instance {code(app_name)} for commit {code(head_sha)}",
             "|job|node type|building for|repository|date|job status|comment|",
             "|---|---|---|---|---|---|---|"]
    for job in jobs:
        last = job.rows[-1] if job.rows else Row("", job.state.value, job.error or "")
        target = job.software_subdir + (f", {job.accelerator}" if job.accelerator else "")
        lines.append(f"|{code(job.job_id or '-')}|{code(job.node_type)}|{code(target)}|{code(job.repo_id)}|"
                     f"{cell(last.date)}|{cell(last.status)}|{cell(last.comment)}|")
    return "\n".join(lines)
