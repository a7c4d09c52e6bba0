"""`pull_request` events: the node-type table when a PR opens, the `bot:deploy` label, the disabled
`bot:build` label, PR close and reopen."""

from __future__ import annotations

from eessi_bot.commands.show_config import node_types
from eessi_bot.core.config import ChatLevel
from eessi_bot.core.events import PullRequestEvent, pull_request
from eessi_bot.core.response import render_block, render_notice
from eessi_bot.events.context import EventContext

BUILD_LABEL = "bot:build"
DEPLOY_LABEL = "bot:deploy"
BUILD_LABEL_DISABLED = (
    "Handling the label 'bot:build' is disabled. Use the command `bot: build [FILTER]*` instead."
)


def on_opened(ctx: EventContext) -> str:
    event = pull_request(ctx.payload)
    if ctx.config.bot_control.chatlevel < ChatLevel.CHATTY:
        return "PR opened (node types not shown below chatlevel chatty)"
    body = render_block(node_types(ctx.config))
    ctx.effects.comment(f"pr-opened:{event.repo}#{event.number}", event.repo, event.number, body)
    return "PR opened: node types shown"


def on_labeled(ctx: EventContext) -> str:
    event = pull_request(ctx.payload)
    if event.label == DEPLOY_LABEL:
        return _deploy_label(ctx, event)
    if event.label != BUILD_LABEL:
        return f"label {event.label!r}: nothing to do"
    if ctx.config.bot_control.chatlevel < ChatLevel.BASIC:
        return "label bot:build: disabled (not said below chatlevel basic)"
    fmt = ctx.config.template("bot_control.command_response_fmt")
    body = render_notice(fmt, ctx.config.instance, BUILD_LABEL_DISABLED)
    ctx.effects.comment(f"label:{ctx.delivery.id}", event.repo, event.number, body)
    return "label bot:build: answered that it is disabled"


def _deploy_label(ctx: EventContext, event: PullRequestEvent) -> str:
    """Record the label (the deployer uploads in the background); a refusal is answered on the PR
    at every chatlevel, as the other refusals are."""
    deploy = ctx.config.deploy
    sender = event.sender.login
    if not deploy.deploy_permission.allows(sender):
        text = ctx.config.template("deploycfg.no_deploy_permission_comment").format(deploy_labeler=sender)
        ctx.effects.comment(f"deploy-refused:{ctx.delivery.id}", event.repo, event.number, text)
        return f"label bot:deploy by {sender}: no deploy permission"
    if deploy.upload_policy == "none":
        return "label bot:deploy: upload_policy is none, nothing is deployed"
    ctx.deploys.label_on(event.repo, event.number, sender, ctx.delivery.id)
    return f"label bot:deploy by {sender}: deploying (upload policy {deploy.upload_policy})"


def on_unlabeled(ctx: EventContext) -> str:
    event = pull_request(ctx.payload)
    if event.label != DEPLOY_LABEL:
        return f"label {event.label!r} removed: nothing to do"
    stopped = ctx.deploys.label_off(event.repo, event.number)
    return f"label bot:deploy removed: {stopped} uploads that had not started are stopped"


def on_closed(ctx: EventContext) -> str:
    """Job directories go to the trash once the PR's jobs are done (the job manager moves them)."""
    event = pull_request(ctx.payload)
    report = ctx.jobs.close_pr(event.repo, event.number, ctx.delivery.id, event.merged, event.sender.login)
    cancelled = f", cancelled jobs {', '.join(j.job_id or '?' for j in report.cancelled)}" if report.cancelled else ""
    return f"PR {'merged' if event.merged else 'closed'}{cancelled}; its job directories go to the trash"


def on_reopened(ctx: EventContext) -> str:
    event = pull_request(ctx.payload)
    ctx.jobs.reopen_pr(event.repo, event.number)
    return "PR reopened"
