"""Prometheus metrics: every metric object OpenEngage exports, in one leaf module every layer may import.

`GET /metrics` serves them (api/observe.py). Under `openengage serve` the API workers and the processor
are separate processes; `serve` gives them one scratch directory in PROMETHEUS_MULTIPROC_DIR before they
start, prometheus-client then keeps each process's values in a memory-mapped file there, and the
endpoint sums the files: the figures are the node's totals whichever worker answers. Without that
variable (tests, `openengage process`) values live in memory.

The backlog gauges (`openengage_processor_pending_records`, `openengage_processor_lag_seconds`) are
not here: they are facts of the store, read when `/metrics` is scraped (`backlog_families`).
"""

from __future__ import annotations

import bisect
import os
import weakref
from collections.abc import Iterable, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000)

HTTP_REQUESTS = Counter(
    "openengage_http_requests",
    "HTTP requests answered, by route template and status code.",
    ["route", "status"],
)
HTTP_DURATION = Histogram(
    "openengage_http_request_duration_seconds",
    "Time from the request's arrival at the app to the end of its response, by route template.",
    ["route"],
    buckets=_LATENCY_BUCKETS,
)
INGEST_RECORDS = Counter(
    "openengage_ingest_records",
    "Records durably appended to the ingest log (acknowledged with a 2xx), by API dialect.",
    ["dialect"],
)
INGEST_COMMIT = Histogram(
    "openengage_ingest_commit_seconds",
    "Duration of one group commit of the ingest log (one transaction, one fsync).",
    buckets=_LATENCY_BUCKETS,
)
INGEST_BATCH = Histogram(
    "openengage_ingest_commit_batch_records",
    "Records carried by one group commit of the ingest log.",
    buckets=_BATCH_BUCKETS,
)
PROCESSED = Counter(
    "openengage_processed_records",
    "Records the processor applied (profiles, events, merges) and acknowledged.",
)
REJECTIONS = Counter(
    "openengage_rejections",
    "Data the processor dropped or truncated (the data-quality log), by reason code.",
    ["reason"],
)
DEAD_LETTERS = Counter(
    "openengage_dead_letters",
    "Log entries the processor could not apply and moved to the dead-letter table.",
)
STORE_ERRORS = Counter(
    "openengage_store_errors",
    "Store operations that failed with a database error (unreachable, cannot commit, timed out).",
)

# messaging (issue #10)
TRANSACTIONS = Counter(
    "openengage_transactions",
    "Transactions the API committed to the outbox (duplicates within their dedupe window not counted).",
)
MESSAGE_ATTEMPTS = Counter(
    "openengage_message_attempts",
    "Delivery attempts of the sender, by channel and outcome (sent, retry, failed, expired, skipped).",
    ["channel", "outcome"],
)


def observe_many(child: Histogram, values: Sequence[float]) -> None:
    """`child.observe(v)` for every value, with one write per bucket touched instead of two per value (in
    multiprocess mode each write locks and updates a memory-mapped file). Uses the histogram's own
    fields, as its `observe` does (prometheus-client is pinned; tests/unit/test_metrics.py compares the
    two ways)."""
    bounds = child._upper_bounds
    counts = [0] * len(bounds)
    for value in values:
        counts[bisect.bisect_left(bounds, value)] += 1  # the first bound >= value, as `observe` finds it
    child._sum.inc(sum(values))
    for index, count in enumerate(counts):
        if count:
            child._buckets[index].inc(count)


class Buffered(Protocol):
    def flush(self) -> None: ...


_buffers: weakref.WeakSet[Buffered] = weakref.WeakSet()


def buffered(owner: Buffered) -> None:
    """Register what keeps counts in memory between flushes: `exposition` flushes it first."""
    _buffers.add(owner)


def flush() -> None:
    for owner in list(_buffers):
        owner.flush()


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def backlog_families(pending: int, oldest_ms: int | None, now_ms: int) -> list[Metric]:
    """The processor backlog as gauges, from a store reading taken at scrape time."""
    pending_gauge = GaugeMetricFamily(
        "openengage_processor_pending_records", "Records accepted and not yet applied by the processor."
    )
    pending_gauge.add_metric([], float(pending))
    lag = GaugeMetricFamily(
        "openengage_processor_lag_seconds", "Age of the oldest record not yet applied (0 when nothing is pending)."
    )
    lag.add_metric([], max(0.0, (now_ms - oldest_ms) / 1000.0) if oldest_ms is not None else 0.0)
    return [pending_gauge, lag]


class _Fixed(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def exposition(extra: Iterable[Metric] = ()) -> bytes:
    """The text format of every metric: this process's (or, under `serve`, every process's summed)
    values, followed by `extra` families read at scrape time. This process's buffered counts are
    written first; another worker's reach the files within a second (api/observe.py)."""
    flush()
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    more = CollectorRegistry()
    more.register(_Fixed(extra))
    return body + generate_latest(more)
