"""The HTTP face of the bot: webhooks in (verify → inbox → 202), health out; the status pages and
metrics are `web.status`'s.

Nothing here talks to GitHub: the request only verifies the signature, stores the delivery in the
same transaction that decides the answer, and wakes the workers.
"""

from __future__ import annotations

import logging
from typing import Dict, Optional, Tuple

from flask import Flask, Response, jsonify, request

from eessi_bot.core.webhook import MAX_BODY_BYTES, DeliveryError, Verdict, parse_delivery, verify_signature
from eessi_bot.jobs.check_runs import CheckRunSwitch
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.store import Store
from eessi_bot.ports.wakeup import Wakeup
from eessi_bot.service.health import degraded_reason
from eessi_bot.service.metrics import Metrics
from eessi_bot.web.status import status_pages

log = logging.getLogger(__name__)

DELIVERIES = "eessi_bot_deliveries_total"


def create_app(secret: str, store: Store, clock: Clock, metrics: Metrics, deliveries_waiting: Wakeup,
               check_runs: Optional[CheckRunSwitch] = None) -> Flask:
    """The WSGI app; a stored delivery notifies `deliveries_waiting` (the workers). `check_runs`: whether
    check runs are written (`/healthz` says so, and why not)."""
    app = Flask("eessi_bot")
    inbox, outbox = store.inbox, store.outbox
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    def refuse(status: int, result: str, message: str) -> Tuple[Response, int]:
        metrics.inc(DELIVERIES, result=result)
        metrics.rejected.labels(reason=message if status == 401 else result).inc()
        return jsonify({"message": message}), status

    def receive() -> Tuple[Response, int]:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return refuse(413, "too_large", "payload too large")
        body = request.get_data(cache=False)
        headers = {k.lower(): v for k, v in request.headers.items()}
        verdict = verify_signature(secret, body, headers)
        if verdict is not Verdict.OK:
            log.warning("refused a webhook from %s: %s (delivery header %r)", request.remote_addr,
                        verdict.value, headers.get("x-github-delivery", "")[:100])
            return refuse(401, "refused", verdict.value)
        try:
            delivery = parse_delivery(headers, body)
        except DeliveryError as exc:
            return refuse(400, "invalid", str(exc))
        if not inbox.store(delivery, clock.now()):
            metrics.inc(DELIVERIES, result="duplicate")
            return jsonify({"status": "duplicate", "id": delivery.id}), 200
        metrics.inc(DELIVERIES, result="queued", event=delivery.event)
        deliveries_waiting.notify()
        return jsonify({"status": "queued", "id": delivery.id}), 202

    app.add_url_rule("/", "webhook_root", receive, methods=["POST"])
    app.add_url_rule("/webhook", "webhook", receive, methods=["POST"])

    @app.errorhandler(413)
    def too_large(_: Exception) -> Tuple[Response, int]:
        return refuse(413, "too_large", "payload too large")

    @app.get("/healthz")
    def healthz() -> Tuple[Response, int]:
        """200 while the bot serves; `degraded` (still 200: a restart would not help) with the reason
        when GitHub writes have failed for a while (`service.health.degraded_reason`)."""
        written = outbox.counts()
        reason = degraded_reason(metrics.health.snapshot(), written.get("pending", 0), clock.now())
        report: Dict[str, object] = {"status": "degraded" if reason else "ok", "inbox": inbox.counts(),
                                     "outbox": written}
        if reason:
            report["reason"] = reason
        if check_runs is not None:
            report["check_runs"] = check_runs.report(clock.now())
        return jsonify(report), 200

    app.register_blueprint(status_pages(store, clock, metrics))
    return app
