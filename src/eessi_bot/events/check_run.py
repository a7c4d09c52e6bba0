"""`check_run` events of this App's check runs: GitHub's Re-run button (`rerequested`) and the Cancel
button (`requested_action` with identifier `cancel`).

The job is found by the check run's `external_id` (the job's key) in the database, checked against the
check run id stored with it; the payload's `pull_requests` is never read (GitHub leaves it empty for a
fork's PR, which is most PRs of a software stack). Only someone in `build_permission` may re-run or
cancel, as with `bot: build` and `bot: cancel`; anyone else is refused on the PR, at every chatlevel
as the commands' refusals are, and nothing runs. A re-run submits that job's target again with the same
commits and arguments, as a new job with a new check run; what went wrong is answered at every
chatlevel, what went right only at chatty (the new job's comment and check run say it anyway).
"""

from __future__ import annotations

from typing import List

from eessi_bot.core.check_runs import CANCEL, CheckRunEvent, check_run_event, check_run_name
from eessi_bot.core.config import ChatLevel
from eessi_bot.core.jobs import Job
from eessi_bot.core.markdown import code
from eessi_bot.core.response import Code, Item, Node, Verbatim, render_list, render_notice
from eessi_bot.events.context import EventContext
from eessi_bot.ports.jobs import Request, RerunRefused

RERUN = "rerequested"
ACTION = "requested_action"


def answer_key(delivery_id: str) -> str:
    return f"check-run:{delivery_id}"


def on_check_run(ctx: EventContext) -> str:
    event = check_run_event(ctx.payload)
    if event.action not in (RERUN, ACTION):
        return f"check run {event.action or '?'}: nothing to do"
    if event.app_id != ctx.config.github.app_id:
        return f"check run of App {event.app_id}, not this one: ignored"
    if event.action == ACTION and event.identifier != CANCEL:
        return f"requested action {event.identifier!r} is none of this bot's: ignored"
    job = ctx.jobs.check_run_job(event.repo, event.check_run_id, event.external_id)
    if job is None:
        return f"check run {event.check_run_id} is no job of this instance: ignored"
    what = "re-run" if event.action == RERUN else "cancel"
    login = event.sender.login
    if event.sender.is_bot:
        return f"{what} of job {job.job_id} by {login}, a bot: ignored"
    if not ctx.config.buildenv.build_permission.allows(login):
        asked = (f"re-run the check run {code(check_run_name(ctx.config.instance, job))}" if what == "re-run"
                 else f"cancel job {code(job.job_id or '?')}")
        _answer(ctx, job, [Item(f"account {code(login)} has NO permission to {asked}; nothing was done")])
        return f"{what} of job {job.job_id} by {login}: no build permission"
    if event.action == RERUN:
        return _rerun(ctx, event, job)
    return _cancel(ctx, job, login)


def _rerun(ctx: EventContext, event: CheckRunEvent, job: Job) -> str:
    login = event.sender.login
    line = job.build_key.rpartition(":")[2]
    request = Request(repo=job.repo, number=job.pr_number, sender=login, comment_id=0, comment_url="",
                      delivery_id=ctx.delivery.id, line=int(line) if line.isdigit() else 1,
                      received_at=ctx.received_at)
    head = f"re-run of check run {code(check_run_name(ctx.config.instance, job))} by {code(login)}:"
    try:
        report = ctx.jobs.rerun(job, request)
    except RerunRefused as exc:
        _answer(ctx, job, [Item(f"{head} nothing was submitted: {exc}")])
        return f"re-run of job {job.job_id} by {login}: refused: {exc}"
    nodes: List[Node] = []
    if report.download_error is not None:
        nodes += [Item(f"{head} nothing was submitted: the PR could not be prepared"),
                  Verbatim(report.download_error)]
    for new in report.submitted:
        nodes.append(Item(f"{head} submitted job {code(new.job_id or '?')} on node type {code(new.node_type)} "
                          f"for repository {code(new.repo_id)}"))
    for target, message in report.failed:
        nodes.append(Item(f"{head} submitting the job on node type {code(target.node.name)} failed:",
                          (Code(message),)))
    failed = bool(report.failed) or report.download_error is not None
    if failed or ctx.config.bot_control.chatlevel >= ChatLevel.CHATTY:
        _answer(ctx, job, nodes)
    done = ", ".join(j.job_id or "?" for j in report.submitted) or "none"
    return f"re-run of job {job.job_id} by {login}: submitted {done}" + (" (with failures)" if failed else "")


def _cancel(ctx: EventContext, job: Job, login: str) -> str:
    report = ctx.jobs.cancel(job.repo, job.pr_number, [job.job_id or ""], login)
    if report.cancelled:
        if ctx.config.bot_control.chatlevel >= ChatLevel.CHATTY:
            _answer(ctx, job, [Item(f"cancelled job {code(job.job_id or '?')} on node type {code(job.node_type)} "
                                    f"for repository {code(job.repo_id)} (Cancel button, by {code(login)})")])
        return f"cancel of job {job.job_id} by {login}: cancelled"
    reasons = "; ".join(why for _, why in report.refused)
    _answer(ctx, job, [Item(f"job {code(job.job_id or '?')} {why}; nothing was cancelled")
                       for _, why in report.refused])
    return f"cancel of job {job.job_id} by {login}: refused: {reasons}"


def _answer(ctx: EventContext, job: Job, nodes: List[Node]) -> None:
    fmt = ctx.config.template("bot_control.command_response_fmt")
    body = render_notice(fmt, ctx.config.instance, render_list(nodes))
    ctx.effects.comment(answer_key(ctx.delivery.id), job.repo, job.pr_number, body)
