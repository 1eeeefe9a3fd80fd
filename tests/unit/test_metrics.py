"""prometheus-client used the way api/observe.py uses it: buffered observations equal one-by-one ones."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from openengage import metrics


def test_observe_many_equals_observing_one_by_one() -> None:
    rng = random.Random(7)
    buckets = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
    # values on every bound, between bounds, past the last and at zero
    values = [*buckets, 0.0, 11.0, 1e9, *(rng.uniform(0, 12) for _ in range(500))]
    one, many = CollectorRegistry(), CollectorRegistry()
    h1 = Histogram("t_seconds", "t", ["route"], buckets=buckets, registry=one)
    h2 = Histogram("t_seconds", "t", ["route"], buckets=buckets, registry=many)
    for value in values:
        h1.labels("/r").observe(value)
    metrics.observe_many(h2.labels("/r"), values[:100])
    metrics.observe_many(h2.labels("/r"), values[100:])
    a, b = (samples(r) for r in (one, many))
    assert a.keys() == b.keys() and any(k.startswith("t_seconds_bucket") for k in a)
    for name, value in a.items():  # the sum in another order: equal to the last bits
        expected = pytest.approx(value, rel=1e-12) if name.startswith("t_seconds_sum") else value
        assert b[name] == expected, name


def samples(registry: CollectorRegistry) -> dict[str, float]:
    lines = generate_latest(registry).decode().splitlines()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in lines
        if not line.startswith("#") and "_created" not in line
    }
