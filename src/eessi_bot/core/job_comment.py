"""The per-job PR comment (reference §5.6), rendered whole from the job's row in the database.

GitHub refuses a comment body over 65,536 characters, and result files (PR code) and deploys can add
any amount of text. A body that would not fit is made to (`fit`): in a job's own comment, the rows of
its life stay whole while leaving out upload rows (oldest first) is enough; otherwise the longest
comment cells are shortened first, all to one common length (`html_text.shorten_html`, so their HTML
stays balanced), the finished row keeping how the job ended and saying the result, the test result
and the result files outside the shortened text; rows are left out rather than cells shortened below
MIN_CELL (a summary's last jobs, a job's upload rows), and a line under the table says how many.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, List, Mapping, Optional, Sequence, Set

from eessi_bot.core.html_text import ELLIPSIS, shorten_html
from eessi_bot.core.jobs import Job, Row
from eessi_bot.core.markdown import cell, code
from eessi_bot.core.results import result_name, test_name

TABLE_HEAD = "|date|job status|comment|\n|----------|----------|------------------------|"
GITHUB_MAX_BODY = 65_536
"""GitHub's limit on a comment body, in characters."""
MAX_BODY = GITHUB_MAX_BODY - 1_024
"""What a rendered body may use: `Effects.comment` adds the hidden marker (and may escape `bot:` at
the start of a line)."""
MIN_CELL = 120
"""Comment cells are not shortened below this; rows are left out instead."""
LIFE_CYCLE = ("submitted", "received", "released", "running", "finished")
"""Row statuses of a job's life; the others (`uploaded`, `not uploaded`) are left out first."""
LIMIT_TEXT = "GitHub takes at most 65,536 characters in a comment"


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


Shorten = Callable[[str, int], str]
"""Shortens an escaped comment cell to a budget of characters."""


@dataclass(frozen=True)
class TableLine:
    """A table row: its fixed cells, then the comment cell, which may be shortened."""

    fixed: str
    comment: str
    shorten: Shorten
    keep_whole: bool = False
    """Shown whole as long as leaving out other rows is enough (a job's life in its own comment)."""

    def render(self, comment: str) -> str:
        return f"{self.fixed}{comment}|"

    def cost(self, whole: bool) -> int:
        """Characters it takes at least: its comment whole, or else not shorter than MIN_CELL."""
        return len(self.fixed) + (len(self.comment) if whole else min(len(self.comment), MIN_CELL)) + 2


def _plain(text: str, budget: int) -> str:
    return shorten_html(text, budget)


def _finished(job: Job) -> Shorten:
    """The finished row's way to shorten: its last line (how the job ended) stays whole, and the
    result and test result are said outside the shortened text."""
    status = f"result {code(job.result_status or 'UNKNOWN')}, test result {code(job.test_status or 'UNKNOWN')}"
    files = f"{code(result_name(job.job_id or ''))} and {code(test_name(job.job_id or ''))}"
    note = f" (shortened; {status}; the full texts are in {files})"

    def shorten(text: str, budget: int) -> str:
        head, sep, tail = text.rpartition("<br/>")
        if sep and "<" not in tail:
            room = budget - len(sep) - len(tail)
            if room >= len(ELLIPSIS) + len(note):
                return shorten_html(head, room, note) + sep + tail
            if len(status) <= room:
                return status + sep + tail
        return shorten_html(text, budget, note)
    return shorten


def _line(fixed: str, row: Row, job: Job, keep_whole: bool = False) -> TableLine:
    return TableLine(fixed, cell(row.comment), _finished(job) if row.status == "finished" else _plain, keep_whole)


def water_level(lengths: Sequence[int], room: int) -> int:
    """The largest cap with sum(min(length, cap)) <= room: cells longer than it are shortened to it."""
    ordered = sorted(lengths)
    below = 0
    for k, length in enumerate(ordered):
        if below + (len(ordered) - k) * length > room:
            return max(0, (room - below) // (len(ordered) - k))
        below += length
    return ordered[-1] if ordered else 0


def _leave_out(lines: Sequence[TableLine], order: Sequence[int], room: int, protect: bool) -> Optional[Set[int]]:
    """The rows to leave out, taken in `order`, for the others to fit with no comment cell shorter than
    MIN_CELL (and, if `protect`, those to keep whole whole); None when that cannot be done."""
    need = sum(line.cost(protect and line.keep_whole) for line in lines)
    dropped: Set[int] = set()
    for index in order:
        if need <= room:
            break
        if not (protect and lines[index].keep_whole):
            dropped.add(index)
            need -= lines[index].cost(False)
    return dropped if need <= room else None


def fit(head: str, lines: Sequence[TableLine], drop_order: Sequence[int], left_out: Callable[[int], str]) -> str:
    """`head`, then the table lines, within MAX_BODY (see the module's description)."""
    room = MAX_BODY - len(head)
    if sum(line.cost(True) for line in lines) <= room:
        return head + "".join("\n" + line.render(line.comment) for line in lines)
    reserve = len(left_out(len(lines)))
    plans = ((protect, order) for protect in (True, False) for order in ((), drop_order))
    dropped, protect = set(drop_order), False
    for protect, order in plans:
        found = _leave_out(lines, order, room - (reserve if order else 0), protect)
        if found is not None:
            dropped = found
            break
    kept = [line for index, line in enumerate(lines) if index not in dropped]
    free = room - (reserve if dropped else 0) - sum(line.cost(protect and line.keep_whole) for line in kept)
    cap = MIN_CELL + water_level([len(line.comment) - MIN_CELL for line in kept
                                  if len(line.comment) > MIN_CELL and not (protect and line.keep_whole)], free)
    body = head + "".join("\n" + line.render(line.comment if len(line.comment) <= cap or (protect and line.keep_whole)
                                              else line.shorten(line.comment, cap)) for line in kept)
    body += left_out(len(dropped)) if dropped else ""
    return body if len(body) <= MAX_BODY else shorten_html(body, MAX_BODY)


def table(rows: Sequence[Row]) -> str:
    return "\n".join([TABLE_HEAD] + [f"|{cell(r.date)}|{cell(r.status)}|{cell(r.comment)}|" for r in rows])


def render_job_comment(templates: Mapping[str, str], app_name: str, job: Job, head_sha: str) -> str:
    head = "\n".join(header(templates, app_name, job, head_sha)) + "\n" + TABLE_HEAD
    lines = [_line(f"|{cell(r.date)}|{cell(r.status)}|", r, job, r.status in LIFE_CYCLE) for r in job.rows]
    later = [i for i, r in enumerate(job.rows) if r.status not in LIFE_CYCLE]
    order = later + [i for i in range(len(job.rows) - 1) if i not in later]
    return fit(head, lines, order, lambda n: f"\n\nNot shown here: {n} rows of this job ({LIMIT_TEXT}).")


def render_summary(app_name: str, jobs: Sequence[Job], head_sha: str) -> str:
    """`job_comment_mode = summary`: one comment for all jobs of a command, a row per job."""
    head = "\n".join([f"Jobs on instance {code(app_name)} for commit {code(head_sha)}",
                      "|job|node type|building for|repository|date|job status|comment|",
                      "|---|---|---|---|---|---|---|"])
    lines = []
    for job in jobs:
        last = job.rows[-1] if job.rows else Row("", job.state.value, job.error or "")
        target = job.software_subdir + (f", {job.accelerator}" if job.accelerator else "")
        fixed = (f"|{code(job.job_id or '-')}|{code(job.node_type)}|{code(target)}|{code(job.repo_id)}|"
                 f"{cell(last.date)}|{cell(last.status)}|")
        lines.append(_line(fixed, last, job))
    order = list(range(len(lines) - 1, 0, -1))
    return fit(head, lines, order,
               lambda n: f"\n\nNot shown here: {n} more jobs ({LIMIT_TEXT}); `bot: status` lists them.")
