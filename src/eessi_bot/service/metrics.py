"""Prometheus metrics for `/metrics` (names start with `eessi_bot_`; README "Metrics" lists them all).

One `CollectorRegistry` per runtime, never prometheus_client's global one: tests run several runtimes
in one process, and each must count its own. Counters and histograms are updated where things happen
(the webhook endpoint, the workers, the GitHub and scheduler wrappers of `service.instruments`, the
job manager's cycle); the depths and ages of the inbox and outbox, the jobs and the uploads by state
are read from the database when scraped (a handful of indexed queries), and GitHub's rate limit and
the failing writes from `Health`.
"""

from __future__ import annotations

from typing import Dict, Iterator, Optional, Tuple

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from eessi_bot.core.job_times import job_times
from eessi_bot.core.jobs import Job, JobState
from eessi_bot.jobs.manager import CycleStats
from eessi_bot.ports.clock import Clock
from eessi_bot.ports.store import Store
from eessi_bot.service.disk import DiskUsage
from eessi_bot.service.health import Cycle, Health

CONTENT_TYPE = CONTENT_TYPE_LATEST
DELIVERIES = "eessi_bot_deliveries_total"
JOB_BUCKETS = (10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0)
"""Seconds: from a quick test build to the 24 h default time limit and a two-day queue."""
RESULTS = ("SUCCESS", "FAILURE")
"""Result words kept as label values; anything else a result file says is `OTHER` (bounded labels)."""


class Metrics:
    def __init__(self, health: Optional[Health] = None, disk: Optional[DiskUsage] = None) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.health = health or Health()
        self.disk = disk or DiskUsage({})
        """The status page's disk use (counted only while someone looks, so not a metric)."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.deliveries = Counter("eessi_bot_deliveries", "Webhook requests by event and result (queued, duplicate, "
                                  "refused, invalid, too_large)", ["event", "result"], registry=r)
        self.rejected = Counter("eessi_bot_deliveries_rejected", "Webhook requests refused, by reason",
                                ["reason"], registry=r)
        self.handled = Counter("eessi_bot_deliveries_handled", "Deliveries run through their handlers, by event and "
                               "outcome (done, retry, failed)", ["event", "outcome"], registry=r)
        self.handler_seconds = Histogram("eessi_bot_handler_duration_seconds", "Time to handle one delivery",
                                         ["event"], registry=r,
                                         buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0))
        self.github_calls = Counter("eessi_bot_github_calls", "GitHub API calls by call", ["call"], registry=r)
        self.github_errors = Counter("eessi_bot_github_errors", "Failed GitHub API calls by call and kind "
                                     "(rate_limited, transient, not_found, rejected, other)", ["call", "kind"],
                                     registry=r)
        self.rate_limit_waits = Counter("eessi_bot_github_rate_limit_waits", "Times GitHub said to wait (a rate "
                                        "limit), by limit (secondary, primary)", ["limit"], registry=r)
        self.jobs_finished = Counter("eessi_bot_jobs_finished", "Jobs seen to end, by node type, end state "
                                     "(UNKNOWN: vanished from the batch system) and result", ["node_type",
                                     "end_state", "result"], registry=r)
        self.queue_seconds = Histogram("eessi_bot_job_queue_seconds", "Time from submission to start",
                                       ["node_type"], buckets=JOB_BUCKETS, registry=r)
        self.run_seconds = Histogram("eessi_bot_job_run_seconds", "Time from start to end", ["node_type"],
                                     buckets=JOB_BUCKETS, registry=r)
        self.upload_objects = Counter("eessi_bot_upload_objects", "Objects put into S3 (artefacts, metadata, "
                                      "signatures), by result (ok, error)", ["result"], registry=r)
        self.upload_bytes = Counter("eessi_bot_upload_bytes", "Bytes put into S3", registry=r)
        self.cycle_seconds = Histogram("eessi_bot_manager_cycle_duration_seconds", "Time of one job manager cycle",
                                       buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
                                       registry=r)
        self.scheduler_errors = Counter("eessi_bot_scheduler_errors", "Batch system queries that failed, by query "
                                        "(poll, end_states, release, cancel, submit, find)", ["query"], registry=r)
        site = self.health.snapshot().site
        Info("eessi_bot", "This instance", registry=r).info({"instance": site.instance, "version": site.version})
        Gauge("eessi_bot_start_time_seconds", "When this process started (epoch seconds)",
              registry=r).set(self.health.snapshot().started_at)
        ProcessCollector(registry=r)
        r.register(_HealthCollector(self.health))
        self._counters: Dict[str, Tuple[Counter, Tuple[str, ...]]] = {DELIVERIES: (self.deliveries,
                                                                                    ("event", "result"))}

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Count on a counter by its exposed name; labels not given are empty (the webhook endpoint's API)."""
        counter, names = self._counters[name]
        counter.labels(*(labels.get(label, "") for label in names)).inc(amount)

    def watch(self, store: Store, clock: Clock) -> None:
        """Read the inbox, outbox, jobs and uploads from `store` at every scrape."""
        self.registry.register(_StoreCollector(store, clock))

    def manager_cycle(self, stats: CycleStats, now: float) -> None:
        """After a job manager cycle: its time, whether the batch system answered, the jobs it saw start or end."""
        self.health.cycle(Cycle(at=now, seconds=stats.seconds, tracked=stats.tracked, reachable=stats.reachable))
        self.cycle_seconds.observe(stats.seconds)
        for job in stats.moved:
            times = job_times(job)
            if job.state is JobState.RUNNING and (queued := times.queued_seconds(now)) is not None:
                self.queue_seconds.labels(node_type=job.node_type).observe(queued)
            if job.state is JobState.FINISHED:
                self._finished(job, now)

    def _finished(self, job: Job, now: float) -> None:
        times = job_times(job)
        if times.started is None and (queued := times.queued_seconds(now)) is not None:
            self.queue_seconds.labels(node_type=job.node_type).observe(queued)
        if (ran := times.run_seconds(now)) is not None:
            self.run_seconds.labels(node_type=job.node_type).observe(ran)
        result = job.result_status if job.result_status in RESULTS else "OTHER"
        self.jobs_finished.labels(node_type=job.node_type, end_state=job.end_state or "UNKNOWN", result=result).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StoreCollector(Collector):
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock.now()
        overview = self.store.overview
        yield _by("eessi_bot_inbox_deliveries", "Deliveries in the inbox by state", "state",
                  self.store.inbox.counts())
        yield _by("eessi_bot_outbox_writes", "GitHub writes in the outbox by state (pending, sent, failed)", "state",
                  self.store.outbox.counts())
        yield _age("eessi_bot_inbox_oldest_pending_age_seconds", "Age of the oldest delivery not yet handled (0: none)",
                   overview.oldest_pending_delivery(), now)
        yield _age("eessi_bot_outbox_oldest_pending_age_seconds", "How long the oldest unsent GitHub write has waited "
                   "(an edit: since its body or last attempt changed; 0: none)", overview.oldest_pending_write(), now)
        jobs = GaugeMetricFamily("eessi_bot_jobs_total", "Jobs in the database by state and node type",
                                 labels=["state", "node_type"])
        for (state, node_type), count in sorted(overview.job_counts().items()):
            jobs.add_metric([state, node_type], count)
        yield jobs
        yield _by("eessi_bot_uploads", "Uploads in the database by state", "state", overview.upload_counts())


class _HealthCollector(Collector):
    def __init__(self, health: Health) -> None:
        self.health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self.health.snapshot()
        if state.rate_remaining is not None:
            yield GaugeMetricFamily("eessi_bot_github_rate_limit_remaining", "Requests left in GitHub's primary "
                                    "rate limit, as its last answer said", value=state.rate_remaining)
        failing = GaugeMetricFamily("eessi_bot_github_writes_failing_since_seconds", "When GitHub writes began to "
                                    "fail (epoch seconds; 0: the last write succeeded)",
                                    value=state.failing_since or 0.0)
        yield failing
        if state.cycle is not None:
            yield GaugeMetricFamily("eessi_bot_manager_last_cycle_seconds", "When the job manager's last cycle "
                                    "ended (epoch seconds)", value=state.cycle.at)
            if state.cycle.reachable is not None:
                yield GaugeMetricFamily("eessi_bot_scheduler_up", "1 when the batch system answered the last "
                                        "cycle's query", value=1.0 if state.cycle.reachable else 0.0)


def _by(name: str, help_text: str, label: str, counts: Dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=[label])
    for key, value in sorted(counts.items()):
        family.add_metric([key], value)
    return family


def _age(name: str, help_text: str, since: Optional[float], now: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=0.0 if since is None else max(0.0, now - since))

