"""Prometheus metrics, one registry per application (so tests and workers never collide)."""
from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_depth: Callable[[], float], dropped: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[str, str, str], tuple] = {}
        self.calls = Counter(
            "rcgate_calls", "Calls answered, by inbound dialect, canonical method and outcome",
            ["dialect", "method", "outcome"], registry=self.registry,
        )
        self.latency = Histogram(
            "rcgate_call_duration_seconds", "Time from request to answer, by inbound dialect",
            ["dialect"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.backend_latency = Histogram(
            "rcgate_backend_duration_seconds", "Time waiting for the backend",
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.backend_errors = Counter(
            "rcgate_backend_errors", "Backend calls that failed at the transport level (unreachable, timeout, garbage)",
            registry=self.registry,
        )
        self.reloads = Counter("rcgate_reloads", "Configuration reloads, by result", ["result"], registry=self.registry)
        Gauge("rcgate_audit_queue_depth", "Audit records waiting to be written",
              registry=self.registry).set_function(queue_depth)
        Gauge("rcgate_audit_dropped", "Audit records dropped because the queue was full (policy allowing)",
              registry=self.registry).set_function(dropped)

    def observe_call(self, dialect: str, method: str, outcome: str, seconds: float) -> None:
        """One answered call. The labelled children are cached: `labels()` costs more than the update."""
        key = (dialect, method, outcome)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.calls.labels(*key), self.latency.labels(dialect))
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
