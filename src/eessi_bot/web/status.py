"""The status pages (`GET /`, `/pr/<owner>/<repo>/<N>`, `/job/<key or id>`) and `/metrics`.

Server-rendered HTML with inline CSS, no script and nothing fetched from elsewhere (the Content
Security Policy says so to the browser too), refreshed by the browser every REFRESH seconds. Read-only:
the pages only ask `views`, which only reads. Guarded by `[bot] status_token` when it is set
(`web.auth`); the webhook routes and `/healthz` are the app's and never are.
"""

from __future__ import annotations

from typing import Optional, Tuple

from flask import Blueprint, Response, g, render_template, request

from eessi_bot.ports.clock import Clock
from eessi_bot.ports.store import Store
from eessi_bot.service.metrics import CONTENT_TYPE, Metrics
from eessi_bot.web import views
from eessi_bot.web.auth import authorised, refused, remember

REFRESH = 10
"""Seconds between the page's own reloads."""
POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
          "frame-ancestors 'none'")


def status_pages(store: Store, clock: Clock, metrics: Metrics) -> Blueprint:
    pages = Blueprint("status", __name__, template_folder="templates")
    health = metrics.health

    @pages.before_request
    def guard() -> Optional[Response]:
        allowed, g.remember_token = authorised(request, health.snapshot().site.status_token)
        return None if allowed else refused()

    @pages.after_request
    def headers(response: Response) -> Response:
        if g.get("remember_token"):
            remember(response, health.snapshot().site.status_token)
        response.headers["Content-Security-Policy"] = POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    def show(template: str, status: int = 200, **values: object) -> Tuple[str, int]:
        now = clock.now()
        top = views.overview(store, health.snapshot(), metrics.disk.read(), now)
        return render_template(template, o=top, refresh=REFRESH, **values), status

    @pages.get("/")
    def index() -> Tuple[str, int]:
        jobs, deliveries = views.recent(store, clock.now())
        return show("status/index.html", jobs=jobs, deliveries=deliveries)

    @pages.get("/pr/<owner>/<repo>/<int:number>")
    def pull_request(owner: str, repo: str, number: int) -> Tuple[str, int]:
        found = views.pr_page(store, f"{owner}/{repo}", number, clock.now())
        if found is None:
            return show("status/missing.html", 404, what=f"{owner}/{repo}#{number}")
        return show("status/pr.html", pr=found)

    @pages.get("/job/<path:ident>")
    def job(ident: str) -> Tuple[str, int]:
        found = views.find_job(store, ident, health.snapshot().site.backend)
        if found is None:
            return show("status/missing.html", 404, what=f"job {ident}")
        return show("status/job.html", page=views.job_page(store, found, clock.now()))

    @pages.get("/metrics")
    def prometheus() -> Response:
        return Response(metrics.render(), content_type=CONTENT_TYPE)

    return pages
