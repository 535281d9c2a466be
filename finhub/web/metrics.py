"""``GET /metrics``: finhub's own Prometheus collector, reading Redis and the database at scrape time
(through the status document) rather than counting in this process, so every web process and every
scrape sees what the workers did.

Families (a counter's exposition name ends in ``_total``)::

    finhub_queue_messages{queue,state}                 waiting, delayed, in_flight, dead
    finhub_provider_calls_total{provider,purpose}      calls reserved, since the counters began
    finhub_provider_quota_used{provider,window}        calls counted in the window now
    finhub_provider_quota_limit{provider,window}       the window's limit
    finhub_provider_rate_limited_total{provider}       429s received
    finhub_provider_breaker_open{provider}             1 while the breaker is open or half open
    finhub_assets{asset_type,freshness}                active assets by freshness (fresh, stale, none)
    finhub_quote_age_seconds{asset_type,quote}         of the active assets' newest quotes: the youngest, the oldest
    finhub_job_last_run_timestamp_seconds{job,outcome} when each job last reported a run
    finhub_validation_total{asset_type,status}         stored history rows by validation status
    finhub_quarantined_total{reason}                   quarantined observations kept, by reason
    finhub_workers                                     live worker processes
    finhub_scheduler_lease_held                        1 while a driver holds the scheduler lease
    finhub_up{service}                                 1 while redis / database answer
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from finhub.runtime.status import DB_ERRORS, FRESHNESS


class FinhubCollector(Collector):
    """Every finhub family, read anew at each scrape."""

    def __init__(self, document: Callable[[], dict[str, Any]], quarantined: Callable[[], dict[str, int]]) -> None:
        """``document`` gives the status document (finhub.runtime.status), ``quarantined`` the
        quarantine's observations per reason (a recent count, see finhub.web.recount)."""
        self.document, self.quarantined = document, quarantined

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only: registering must not touch Redis or the database

    def collect(self) -> Iterator[Metric]:
        doc = self.document()
        up = GaugeMetricFamily("finhub_up", "Whether finhub can read the service", labels=["service"])
        for service in ("redis", "database"):
            up.add_metric([service], 1 if doc[service]["ok"] else 0)
        yield up
        yield from _queues(doc)
        yield from _providers(doc)
        yield from _assets(doc)
        yield from _jobs(doc)
        yield from self._stored(doc)
        if doc["workers"] is not None:
            yield GaugeMetricFamily("finhub_workers", "Live worker processes (recent dramatiq heartbeat)",
                                    value=len(doc["workers"]))
        if doc["scheduler"] is not None:
            yield GaugeMetricFamily("finhub_scheduler_lease_held", "1 while a driver holds the scheduler lease",
                                    value=1 if doc["scheduler"]["lease_held"] else 0)

    def _stored(self, doc: dict) -> Iterator[Metric]:
        if doc["history"] is None:
            return
        validation = CounterMetricFamily("finhub_validation", "Stored history rows by validation status",
                                         labels=["asset_type", "status"])
        for asset_type, h in doc["history"].items():
            for status, rows in sorted(h["by_validation"].items()):
                validation.add_metric([asset_type, status], rows)
        yield validation
        try:
            reasons = self.quarantined()
        except DB_ERRORS:
            return
        quarantined = CounterMetricFamily("finhub_quarantined", "Quarantined observations kept, by reason",
                                          labels=["reason"])
        for reason, n in sorted(reasons.items()):
            quarantined.add_metric([reason], n)
        yield quarantined


def _queues(doc: dict) -> Iterator[Metric]:
    if doc["queues"] is None:
        return
    family = GaugeMetricFamily("finhub_queue_messages", "Messages per queue and state", labels=["queue", "state"])
    for queue, depths in doc["queues"].items():
        for state in ("waiting", "delayed", "in_flight", "dead"):
            family.add_metric([queue, state], depths[state])
    yield family


def _providers(doc: dict) -> Iterator[Metric]:
    if doc["providers"] is None:
        return
    calls = CounterMetricFamily("finhub_provider_calls", "Provider calls reserved, by purpose",
                                labels=["provider", "purpose"])
    used = GaugeMetricFamily("finhub_provider_quota_used", "Calls counted in the quota window now",
                             labels=["provider", "window"])
    limit = GaugeMetricFamily("finhub_provider_quota_limit", "The quota window's limit", labels=["provider", "window"])
    limited = CounterMetricFamily("finhub_provider_rate_limited", "429 answers received", labels=["provider"])
    breaker = GaugeMetricFamily("finhub_provider_breaker_open", "1 while the provider's breaker is open or half open",
                                labels=["provider"])
    for p in doc["providers"]:
        name = p["provider"]
        for purpose, n in p["calls"].items():
            calls.add_metric([name, purpose], n)
        for w in p["windows"]:
            used.add_metric([name, w["window"]], w["used"])
            limit.add_metric([name, w["window"]], w["limit"])
        limited.add_metric([name], p["rate_limited"])
        breaker.add_metric([name], 0 if p["breaker"]["state"] == "closed" else 1)
    yield from (calls, used, limit, limited, breaker)


def _assets(doc: dict) -> Iterator[Metric]:
    if doc["assets"] is None:
        return
    counts = GaugeMetricFamily("finhub_assets", "Active assets by the freshness of their newest quote",
                               labels=["asset_type", "freshness"])
    age = GaugeMetricFamily("finhub_quote_age_seconds",
                            "Of the active assets' newest quotes: the youngest (quote=newest) and the oldest",
                            labels=["asset_type", "quote"])
    for asset_type in sorted({a["asset_type"] for a in doc["assets"]}):
        mine = [a for a in doc["assets"] if a["asset_type"] == asset_type]
        for freshness in FRESHNESS:
            counts.add_metric([asset_type, freshness], sum(1 for a in mine if a["freshness"] == freshness))
        ages = [a["age_s"] for a in mine if a["age_s"] is not None]
        if ages:
            age.add_metric([asset_type, "newest"], min(ages))
            age.add_metric([asset_type, "oldest"], max(ages))
    yield from (counts, age)


def _jobs(doc: dict) -> Iterator[Metric]:
    if doc["jobs"] is None:
        return
    family = GaugeMetricFamily("finhub_job_last_run_timestamp_seconds", "When each job last reported a run (epoch)",
                               labels=["job", "outcome"])
    for job in doc["jobs"]:
        if job["last_run"]:
            stamp = datetime.fromisoformat(job["last_run"]).timestamp()
            family.add_metric([job["job"], job["outcome"] or ""], stamp)
    yield family


def registry(collector: FinhubCollector) -> CollectorRegistry:
    """A registry holding only ``collector`` (no process metrics of the web process)."""
    found = CollectorRegistry(auto_describe=False)
    found.register(collector)
    return found
