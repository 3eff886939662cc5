"""Shared test data and helpers for the journey tests (imported; the fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterable

from journeys.stages import JOURNEY_STAGES
from journeys.tracker import JourneyTracker

START = 1_733_200_000_000.0  # an epoch ms with microsecond-resolution arithmetic ahead
TTL_MS = 60_000
# T0..T11 (no T6) of one replied journey. The gaps are exact in binary and have fractional parts, so any
# rounding to whole milliseconds would show.
FULL = {"T0": START - 48.0, "T1": START + 4.0, "T2": START + 4.125, "T3": START + 4.875, "T4": START + 7.5,
        "T5": START + 8.25, "T7": START + 1508.25, "T8": START + 1510.0, "T9": START + 1510.125,
        "T10": START + 1510.5, "T11": START + 1690.5}  # fmt: skip


class FakeClock:
    """Epoch ms that only moves when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, ms: float) -> None:
        self.now += ms


def record(tracker: JourneyTracker, correlation_id: str, stamps: dict[str, float], order: Iterable[str] | None = None):
    """Record `stamps` (stage -> epoch ms) for one journey, in stage order or in `order`."""
    for stage in order if order is not None else stamps:
        tracker.record_checkpoint(correlation_id, stage, JOURNEY_STAGES[stage], stamps[stage])


def shifted(stamps: dict[str, float], by: float) -> dict[str, float]:
    return {stage: ts + by for stage, ts in stamps.items()}


# FULL's latency keys, worked out by hand from CONTRACT §3 (not from the tracker's own tables).
FULL_LATENCIES = {
    "channelProcessing": 52.0,  # T1 - T0
    "eventPublish": 0.125,  # T2 - T1
    "natsDelivery": 0.75,  # T3 - T2
    "dbWrite": 2.625,  # T4 - T3
    "agentNotification": 0.75,  # T5 - T4
    "totalInbound": 56.25,  # T5 - T0
    "agentRoundTrip": 1500.0,  # T7 - T5
    "apiProcessing": 1.75,  # T8 - T7
    "outboundEventPublish": 0.125,  # T9 - T8
    "outboundNatsDelivery": 0.375,  # T10 - T9
    "platformSend": 180.0,  # T11 - T10
    "totalOutbound": 182.25,  # T11 - T7
    "totalRoundTrip": 1738.5,  # T11 - T0
    "omniProcessing": 238.5,  # (T5 - T0) + (T11 - T7)
    "internalProcessing": 6.5,  # (T5 - T1) + (T10 - T7)
}

# CONTRACT §3 as data for the randomised tests: key -> spans (end, start) summed; the second span of a
# composite key counts only when both its ends exist.
KEY_SPANS = {
    "channelProcessing": [("T1", "T0")], "eventPublish": [("T2", "T1")], "natsDelivery": [("T3", "T2")],
    "dbWrite": [("T4", "T3")], "agentNotification": [("T5", "T4")], "totalInbound": [("T5", "T0")],
    "agentRoundTrip": [("T7", "T5")], "apiProcessing": [("T8", "T7")], "outboundEventPublish": [("T9", "T8")],
    "outboundNatsDelivery": [("T10", "T9")], "platformSend": [("T11", "T10")], "totalOutbound": [("T11", "T7")],
    "totalRoundTrip": [("T11", "T0")], "deliveryReceipt": [("T12", "T11")],
    "omniProcessing": [("T5", "T0"), ("T11", "T7")], "internalProcessing": [("T5", "T1"), ("T10", "T7")],
}  # fmt: skip


def expected_latency(stamps: dict[str, float], key: str) -> float | None:
    """The latency `key` of a journey's stamps per CONTRACT §3, unrounded; None when absent."""
    (end, start), *rest = KEY_SPANS[key]
    if end not in stamps or start not in stamps:
        return None
    total = stamps[end] - stamps[start]
    for end, start in rest:
        if end in stamps and start in stamps:
            total += stamps[end] - stamps[start]
    return total
