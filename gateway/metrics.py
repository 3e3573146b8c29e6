"""Prometheus metrics, one registry per application (so tests and workers never collide).

The three series updated on every call (calls, call duration, backend duration) are
plain counters in this module, exported by `Metrics.collect()` (a prometheus_client
collector) at scrape time: prometheus_client's own Counter and Histogram take a lock per update
and loop over the buckets in Python, ~15 us per call here. Only the event loop's
thread updates them, so no lock is needed. The rest are prometheus_client's own.
"""
from __future__ import annotations

from bisect import bisect_left
from typing import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.utils import floatToGoString

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _Histogram:
    """Counts per bucket (`le`: the first bound >= the value) and the sum, like a Prometheus histogram."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(_LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        self.sum += seconds

    def buckets(self) -> list[tuple[str, int]]:
        total, out = 0, []
        for bound, count in zip((*_LATENCY_BUCKETS, float("inf")), self.counts):
            total += count
            out.append((floatToGoString(bound), total))
        return out


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_depth: Callable[[], float], dropped: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        # (dialect, method, outcome, backend) -> [count, latency histogram of the dialect]
        self._calls: dict[tuple[str, str, str, str], list] = {}
        self._latency: dict[str, _Histogram] = {}  # by dialect
        self._backend_latency: dict[str, _Histogram] = {}  # by backend
        self.registry.register(self)  # collect() below exports the per-call series
        self.backend_errors = Counter(
            "rcgate_backend_errors", "Backend calls that failed at the transport level (unreachable, timeout, garbage)",
            ["backend"], registry=self.registry,
        )
        self.reloads = Counter("rcgate_reloads", "Configuration reloads, by result", ["result"], registry=self.registry)
        self.shadow = Counter(
            "rcgate_shadow", "Shadowed reads by canonical method, primary and shadow backend, and result: compared "
            "(equal + different), equal, different, noise (fields that differ between the primary's own two "
            "answers), skipped (over shadow_max_in_flight, or not comparable), failed (shadow down or too slow)",
            ["method", "primary", "shadow", "result"], registry=self.registry,
        )
        Gauge("rcgate_audit_queue_depth", "Audit records waiting to be written",
              registry=self.registry).set_function(queue_depth)
        Gauge("rcgate_audit_dropped", "Audit records dropped because the queue was full (policy allowing)",
              registry=self.registry).set_function(dropped)

    def observe_call(self, dialect: str, method: str, outcome: str, seconds: float, backend: str = "-") -> None:
        """One answered call (`backend`: the one it was routed to, or "-" when refused before routing)."""
        key = (dialect, method, outcome, backend)
        entry = self._calls.get(key)
        if entry is None:
            entry = self._calls[key] = [0, self._latency.setdefault(dialect, _Histogram())]
        entry[0] += 1
        entry[1].observe(seconds)

    def observe_backend(self, backend: str, seconds: float) -> None:
        histogram = self._backend_latency.get(backend)
        if histogram is None:
            histogram = self._backend_latency[backend] = _Histogram()
        histogram.observe(seconds)

    def shadow_result(self, method: str, primary: str, shadow: str, result: str) -> None:
        self.shadow.labels(method, primary, shadow, result).inc()

    def shadow_in_flight(self, running: Callable[[], float]) -> None:
        Gauge("rcgate_shadow_in_flight", "Shadow comparisons running now", registry=self.registry).set_function(running)

    def backend_error(self, backend: str) -> None:
        self.backend_errors.labels(backend).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        """The per-call series, at scrape time (the registry calls this)."""
        calls = CounterMetricFamily("rcgate_calls", "Calls answered, by inbound dialect, canonical method, outcome "
                                    "and backend", labels=["dialect", "method", "outcome", "backend"])
        for labels, (count, _) in sorted(self._calls.items()):
            calls.add_metric(list(labels), count)
        yield calls
        latency = HistogramMetricFamily("rcgate_call_duration_seconds", "Time from request to answer, by inbound dialect",
                                        labels=["dialect"])
        for dialect, histogram in sorted(self._latency.items()):
            latency.add_metric([dialect], histogram.buckets(), histogram.sum)
        yield latency
        backend = HistogramMetricFamily("rcgate_backend_duration_seconds", "Time waiting for a backend, by backend",
                                        labels=["backend"])
        for name, histogram in sorted(self._backend_latency.items()):
            backend.add_metric([name], histogram.buckets(), histogram.sum)
        yield backend
