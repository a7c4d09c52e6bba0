"""What the status pages show, gathered from the store and `Health` into plain values for the templates.

Only what the PR comments already show (states, targets, results, the job directory's link, GitHub's
own comment URLs) and counts; never a delivery body, a file of a job directory, the environment or a
setting beyond the instance's name, intake and backend. The templates escape every value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, List, Optional, Sequence, Tuple
from urllib.parse import quote

from eessi_bot.core.job_times import duration, job_times
from eessi_bot.core.jobs import Job, JobState
from eessi_bot.core.uploads import Upload
from eessi_bot.ports.store import DeliverySummary, Store
from eessi_bot.service.disk import Usage
from eessi_bot.service.health import Failure, Snapshot, degraded_reason

RECENT_JOBS = 50
RECENT_DELIVERIES = 30


def when(epoch: Optional[float]) -> str:
    if epoch is None:
        return "\u2014"
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(epoch: Optional[float], now: float) -> str:
    return "\u2014" if epoch is None else f"{duration(max(0.0, now - epoch))} ago"


def pr_link(repo: str, number: int) -> str:
    return f"/pr/{quote(repo, safe='/')}/{number}"


def job_link(job: Job) -> str:
    return f"/job/{quote(job.job_id or job.key, safe='')}"


@dataclass(frozen=True)
class JobLine:
    link: str
    name: str
    repo: str
    pr_number: int
    pr_link: str
    state: str
    target: str
    node_type: str
    repo_id: str
    queued: str
    ran: str
    result: str
    deploy: str
    comment_url: Optional[str]
    check_url: Optional[str]
    updated: str


def target(job: Job) -> str:
    return job.software_subdir + (f", accel={job.accelerator}" if job.accelerator else "")


def result(job: Job) -> str:
    if job.state is JobState.SUBMIT_FAILED:
        return "not submitted"
    if job.state is not JobState.FINISHED:
        return "\u2014"
    parts = [job.result_status or "UNKNOWN"]
    if job.test_status:
        parts.append(f"test {job.test_status}")
    if job.end_state and (job.end_state != "COMPLETED" or (job.exit_code or "0:0") != "0:0"):
        parts.append(f"{job.end_state} {job.exit_code or ''}".strip())
    return ", ".join(parts)


def deploy_state(uploads: Sequence[Upload]) -> str:
    """`3 uploaded, 1 pending`, or an em dash when nothing of the job was chosen for upload."""
    counts: Dict[str, int] = {}
    for upload in uploads:
        counts[upload.state.value] = counts.get(upload.state.value, 0) + 1
    return ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in sorted(counts.items())) or "\u2014"


def job_line(store: Store, job: Job, uploads: Sequence[Upload], now: float) -> JobLine:
    times = job_times(job)
    return JobLine(
        link=job_link(job), name=job.job_id or "(not submitted)", repo=job.repo, pr_number=job.pr_number,
        pr_link=pr_link(job.repo, job.pr_number), state=job.state.value, target=target(job), node_type=job.node_type,
        repo_id=job.repo_id, queued=duration(times.queued_seconds(now)), ran=duration(times.run_seconds(now)),
        result=result(job), deploy=deploy_state([u for u in uploads if u.job_key == job.key]),
        comment_url=store.outbox.comment_url(job.comment_key), check_url=None, updated=when(job.updated_at))


def job_lines(store: Store, jobs: Sequence[Job], now: float) -> List[JobLine]:
    uploads: Dict[Tuple[str, int], List[Upload]] = {}
    for job in jobs:
        if (job.repo, job.pr_number) not in uploads:
            uploads[(job.repo, job.pr_number)] = store.uploads.for_pr(job.repo, job.pr_number)
    return [job_line(store, job, uploads[(job.repo, job.pr_number)], now) for job in jobs]


@dataclass(frozen=True)
class DeliveryLine:
    received: str
    event: str
    subject: Optional[str]
    pr_link: Optional[str]
    state: str
    attempts: int
    outcome: str


def delivery_line(summary: DeliverySummary) -> DeliveryLine:
    link = None
    repo, _, number = (summary.subject or "").rpartition("#")
    if repo and number.isdigit():
        link = pr_link(repo, int(number))
    event = summary.event + (f".{summary.action}" if summary.action else "")
    return DeliveryLine(received=when(summary.received_at), event=event, subject=summary.subject, pr_link=link,
                        state=summary.state, attempts=summary.attempts, outcome=summary.outcome or "")


@dataclass(frozen=True)
class Tree:
    name: str
    used: str
    detail: str


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def trees(names: Sequence[str], counts: Dict[str, Usage], now: float) -> List[Tree]:
    shown = []
    for name in names:
        usage = counts.get(name)
        if usage is None:
            shown.append(Tree(name, "counting\u2026", "counted in the background, at most every 10 minutes"))
            continue
        if not usage.exists:
            shown.append(Tree(name, "not there yet", f"looked {ago(usage.counted_at, now)}"))
            continue
        unreadable = f", {usage.errors} unreadable" if usage.errors else ""
        shown.append(Tree(name, size(usage.bytes), f"{usage.files} entries{unreadable}; counted "
                                                   f"{ago(usage.counted_at, now)} in {duration(usage.seconds)}"))
    return shown


@dataclass(frozen=True)
class Overview:
    """The numbers at the top of every page."""

    instance: str
    version: str
    started: str
    uptime: str
    intake: str
    backend: str
    roles: str
    status: str
    degraded: Optional[str]
    inbox: Dict[str, int]
    inbox_oldest: str
    outbox: Dict[str, int]
    outbox_oldest: str
    rate: str
    last_error: Optional[str]
    last_write: str
    manager: str
    scheduler: str
    trees: List[Tree]


def failure_text(failure: Optional[Failure], now: float) -> Optional[str]:
    if failure is None:
        return None
    return f"{failure.call}: {failure.kind}: {failure.message} ({ago(failure.at, now)})"


def manager_texts(snapshot: Snapshot, now: float) -> Tuple[str, str]:
    cycle = snapshot.cycle
    if cycle is None:
        if snapshot.roles and "job manager" not in snapshot.roles:
            return "runs in its own process (eessi-bot job-manager)", "\u2014"
        return "no cycle yet", "not asked yet"
    manager = f"last cycle {ago(cycle.at, now)}, took {cycle.seconds:.2f} s, jobs followed: {cycle.tracked}"
    failed = failure_text(snapshot.scheduler_error, now)
    if cycle.reachable is None:
        scheduler = "not asked (no job to follow)"
    else:
        scheduler = "reachable" if cycle.reachable else "NOT reachable"
    return manager, scheduler + (f"; last failure: {failed}" if failed else "")


def overview(store: Store, snapshot: Snapshot, counts: Dict[str, Usage], now: float) -> Overview:
    site = snapshot.site
    outbox = store.outbox.counts()
    reason = degraded_reason(snapshot, outbox.get("pending", 0), now)
    rate = "\u2014" if snapshot.rate_remaining is None else f"{snapshot.rate_remaining} of {snapshot.rate_limit} left"
    manager, scheduler = manager_texts(snapshot, now)
    return Overview(
        instance=site.instance, version=site.version, started=when(snapshot.started_at),
        uptime=duration(now - snapshot.started_at), intake=site.intake, backend=site.backend,
        roles=snapshot.roles or "\u2014", status="degraded" if reason else "ok", degraded=reason,
        inbox=store.inbox.counts(), inbox_oldest=ago(store.overview.oldest_pending_delivery(), now), outbox=outbox,
        outbox_oldest=ago(store.overview.oldest_pending_write(), now), rate=rate,
        last_error=failure_text(snapshot.last_error, now), last_write=ago(snapshot.last_write_at, now),
        manager=manager, scheduler=scheduler,
        trees=trees([name for name, path in (("jobs tree", site.jobs_dir), ("trash", site.trash_dir)) if path],
                    counts, now))


def recent(store: Store, now: float) -> Tuple[List[JobLine], List[DeliveryLine]]:
    jobs = job_lines(store, store.overview.recent_jobs(RECENT_JOBS), now)
    return jobs, [delivery_line(d) for d in store.overview.recent_deliveries(RECENT_DELIVERIES)]


@dataclass(frozen=True)
class PrPage:
    repo: str
    number: int
    jobs: List[JobLine]
    deliveries: List[DeliveryLine]
    deploy: Optional[str]


def pr_page(store: Store, repo: str, number: int, now: float) -> Optional[PrPage]:
    jobs = store.jobs.for_pr(repo, number)
    deliveries = store.overview.recent_deliveries(RECENT_DELIVERIES * 2, subject=f"{repo}#{number}")
    if not jobs and not deliveries:
        return None
    label = store.uploads.label(repo, number)
    deploy = None if label is None else f"bot:deploy set by {label.approved_by} {ago(label.since, now)}"
    return PrPage(repo, number, job_lines(store, list(reversed(jobs)), now), [delivery_line(d) for d in deliveries],
                  deploy)


@dataclass(frozen=True)
class JobPage:
    line: JobLine
    job: Job
    rows: List[Tuple[str, str, List[str]]]
    """(date, status, the comment cell's lines): the job comment's table, as text."""
    uploads: List[Tuple[str, str, str]]
    """(artefact, state, reason)."""


def find_job(store: Store, ident: str, backend: str) -> Optional[Job]:
    return store.jobs.get(ident) or store.jobs.with_job_id(backend, ident)


def job_page(store: Store, job: Job, now: float) -> JobPage:
    uploads = [u for u in store.uploads.for_pr(job.repo, job.pr_number) if u.job_key == job.key]
    rows = [(row.date, row.status, row.comment.split("<br/>")) for row in job.rows]
    return JobPage(job_line(store, job, uploads, now), job, rows,
                   [(u.artefact, u.state.value.replace("_", " "), u.reason or "") for u in uploads])
