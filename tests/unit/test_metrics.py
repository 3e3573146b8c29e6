"""The per-call series of gateway/metrics.py, read back the way Prometheus reads them."""
from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import _LATENCY_BUCKETS, Metrics


def samples(metrics: Metrics) -> dict:
    text = metrics.exposition().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_counts_and_buckets_equal_prometheus_clients_own_histogram():
    rng = random.Random(7)
    values = [rng.choice([*_LATENCY_BUCKETS, 0.0, 45.0]) if i % 5 == 0 else rng.uniform(0, 40) for i in range(2000)]
    metrics = Metrics(lambda: 0, lambda: 0)
    reference = Histogram("rcgate_call_duration_seconds", "x", ["dialect"], buckets=_LATENCY_BUCKETS,
                          registry=(registry := CollectorRegistry()))
    for i, v in enumerate(values):
        dialect = ("kallithea", "rhodecode")[i % 2]
        metrics.observe_call(dialect, "get_user", "ok" if i % 3 else "error", v, ("old", "new")[i % 2])
        metrics.observe_backend(("old", "new")[i % 2], v)
        reference.labels(dialect).observe(v)
    ours = samples(metrics)
    theirs = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in text_string_to_metric_families(generate_latest(registry).decode())
              for s in family.samples if not s.name.endswith("_created")}
    for key, value in theirs.items():
        assert abs(ours[key] - value) < 1e-6, key
    assert ours[("rcgate_backend_duration_seconds_count", (("backend", "old"),))] == 1000
    assert ours[("rcgate_backend_duration_seconds_count", (("backend", "new"),))] == 1000
    assert ours[("rcgate_calls_total", (("backend", "old"), ("dialect", "kallithea"), ("method", "get_user"),
                                        ("outcome", "ok")))] == sum(1 for i in range(0, 2000, 2) if i % 3)


def test_an_empty_gateway_still_exports_every_family():
    names = {f.name for f in text_string_to_metric_families(Metrics(lambda: 3, lambda: 0).exposition().decode())}
    assert {"rcgate_calls", "rcgate_call_duration_seconds", "rcgate_backend_duration_seconds",
            "rcgate_backend_errors", "rcgate_audit_queue_depth", "rcgate_audit_dropped"} <= names
