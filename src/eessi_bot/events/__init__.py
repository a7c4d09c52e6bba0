"""Event handlers and the routing table that names every event the bot acts on."""

from __future__ import annotations

from eessi_bot.events import check_run, issue_comment, pull_request
from eessi_bot.events.context import EventContext
from eessi_bot.events.router import Router


def _logged(ctx: EventContext) -> str:
    sender = ctx.payload.get("sender")
    login = sender.get("login") if isinstance(sender, dict) else None
    return f"{ctx.delivery.event} {ctx.delivery.action or ''} by {login}: logged".replace("  ", " ")


def default_router() -> Router:
    router = Router()
    router.add("issue_comment", "created", issue_comment.on_comment_created)
    router.add("pull_request", "opened", pull_request.on_opened)
    router.add("pull_request", "labeled", pull_request.on_labeled)
    router.add("pull_request", "unlabeled", pull_request.on_unlabeled)
    router.add("pull_request", "closed", pull_request.on_closed)
    router.add("pull_request", "reopened", pull_request.on_reopened)
    router.add("check_run", None, check_run.on_check_run)
    router.add("ping", None, _logged)
    router.add("installation", None, _logged)
    router.add("installation_repositories", None, _logged)
    return router
