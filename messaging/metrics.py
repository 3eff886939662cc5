"""Prometheus metrics for `/api/v2/metrics`: journey latency histograms and pipeline counters.

The latency histograms are fed in batches from the runtime's flush of finished journeys (the same
place that publishes `system.journey.complete`), so the hot path pays nothing for them: bucket counts
are added with numpy per batch, and exposed cumulatively as Prometheus histograms require.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

import numpy as np
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from journeys.stages import LATENCY_KEYS
from journeys.tracker import Journey, get_journey_tracker

REGISTRY = CollectorRegistry(auto_describe=True)

# Milliseconds: loopback NATS is well under 1 ms, an agent takes seconds.
LATENCY_BUCKETS_MS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)

MESSAGES_RECEIVED = Counter(
    "omni_messages_received", "Inbound messages stored (first delivery only).", ["channel"], registry=REGISTRY
)
MESSAGES_SENT = Counter(
    "omni_messages_sent", "Outbound messages handed to the platform, by outcome.", ["channel", "outcome"],
    registry=REGISTRY,
)  # fmt: skip
DUPLICATES = Counter("omni_duplicate_messages", "Inbound events whose message was already stored.", registry=REGISTRY)
REDELIVERIES = Counter(
    "omni_redeliveries", "JetStream redeliveries seen by a consumer.", ["consumer"], registry=REGISTRY
)
WEBHOOK_REJECTIONS = Counter(
    "omni_webhook_rejections", "Webhook requests answered with an error, by error code.", ["channel", "code"],
    registry=REGISTRY,
)  # fmt: skip
PLATFORM_SEND_FAILURES = Counter(
    "omni_platform_send_failures", "Failed platform send attempts (transient ones are retried).", ["channel", "kind"],
    registry=REGISTRY,
)  # fmt: skip
JOURNEYS_FINISHED = Counter(
    "omni_journeys_finished", "Journeys completed or abandoned.", ["status", "path"], registry=REGISTRY
)


class LatencyHistograms:
    """Cumulative per-latency-key histograms of finished journeys (negative values left out)."""

    def __init__(self, buckets: Iterable[float] = LATENCY_BUCKETS_MS) -> None:
        self.buckets = np.array(sorted(buckets), dtype=np.float64)
        self._lock = threading.Lock()
        self._counts = {key: np.zeros(self.buckets.size + 1, dtype=np.int64) for key in LATENCY_KEYS}
        self._sums = dict.fromkeys(LATENCY_KEYS, 0.0)

    def observe(self, journeys: Iterable[Journey]) -> None:
        values: dict[str, list[float]] = {key: [] for key in LATENCY_KEYS}
        for journey in journeys:
            for key, value in journey["latencies"].items():
                if value >= 0 and key in values:
                    values[key].append(value)
        with self._lock:
            for key, found in values.items():
                if found:
                    array = np.asarray(found)
                    # bucket i counts values <= buckets[i] (Prometheus "le"); the last is +Inf.
                    slots = np.searchsorted(self.buckets, array, side="left")
                    self._counts[key] += np.bincount(slots, minlength=self.buckets.size + 1)
                    self._sums[key] += float(array.sum())

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            "omni_journey_latency_ms", "Journey latencies by key (CONTRACT §3), milliseconds.", labels=["key"]
        )
        with self._lock:
            for key in LATENCY_KEYS:
                cumulative = np.cumsum(self._counts[key])
                bounds = [(f"{le:g}", int(n)) for le, n in zip(self.buckets, cumulative[:-1], strict=True)]
                family.add_metric([key], [*bounds, ("+Inf", int(cumulative[-1]))], sum_value=self._sums[key])
        yield family

    def reset(self) -> None:
        with self._lock:
            for counts in self._counts.values():
                counts[:] = 0
            self._sums = dict.fromkeys(LATENCY_KEYS, 0.0)


class _LiveState:
    """Values read at scrape time: tracked journeys, ignored webhook items."""

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily(
            "omni_journeys_tracked", "Journeys held by the tracker.", value=len(get_journey_tracker())
        )
        from channels_plugins.webhooks import ignored_counts

        ignored = CounterMetricFamily(
            "omni_webhook_ignored", "Webhook items acknowledged but not handled.", labels=["channel", "kind"]
        )
        for (channel, kind), count in sorted(ignored_counts().items()):
            ignored.add_metric([channel, kind], count)
        yield ignored


LATENCIES = LatencyHistograms()
REGISTRY.register(LATENCIES)
REGISTRY.register(_LiveState())


def record_finished(journeys: list[Journey]) -> None:
    """Count finished journeys and add their latencies to the histograms."""
    LATENCIES.observe(journeys)
    for journey in journeys:
        JOURNEYS_FINISHED.labels(journey["status"], journey["path"]).inc()
