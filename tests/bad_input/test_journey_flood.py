"""A flood of 200,000 distinct correlation ids at JOURNEY_MAX_ENTRIES=50000 (issue 6, "Bad input").

The tracker never holds more than its cap, and once the cap is reached the process's memory stays flat:
evicted journeys give their slots, ids and chat strings back. Memory is sampled as RSS (VmRSS) after a
full collection; the assertion bounds growth in bytes, it does not time anything.
"""

from __future__ import annotations

import gc
import uuid
from pathlib import Path

import pytest

from journeys.tracker import JourneyTracker

MAX_ENTRIES = 50_000
FLOOD = 200_000
SAMPLES_AT = (60_000, 120_000, 200_000)
CHECK_EVERY = 5_000
FLAT_BYTES = 5 * 1024 * 1024
INSTANCES = [str(uuid.uuid4()) for _ in range(3)]

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc for VmRSS")


def rss_bytes() -> int:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def inbound(tracker: JourneyTracker, n: int) -> str:
    """One message's inbound journey as the plugin and the consumer record it, all ids distinct."""
    correlation_id = f"evt-{uuid.uuid4()}"
    t1 = 1_733_200_000_000.0 + n
    tracker.record_checkpoint(correlation_id, "T1", "pluginReceivedAt", t1)
    tracker.record_checkpoint(correlation_id, "T0", "platformReceivedAt", t1 - 1000.0)
    tracker.set_context(
        correlation_id,
        instance_id=INSTANCES[n % len(INSTANCES)],
        channel_type="telegram",
        chat_id=f"chat-{n}",  # a distinct chat per message: the strings must go when the journey goes
        has_agent=False,
        t0_precision_ms=1000.0,
    )
    for stage, name, offset in (("T2", "eventPublishedAt", 0.2), ("T3", "eventConsumedAt", 0.5)):
        tracker.record_checkpoint(correlation_id, stage, name, t1 + offset)
    tracker.record_checkpoint(correlation_id, "T4", "dbStoredAt", t1 + 1.5)
    tracker.complete(correlation_id)  # no agent: the consumer completes the journey at T4
    return correlation_id


def test_a_flood_of_distinct_ids_stays_within_the_cap_and_flat_memory():
    # A long TTL and cleanup interval: only the cap bounds the tracker here.
    tracker = JourneyTracker(ttl_ms=3_600_000, sample_rate=1.0, max_entries=MAX_ENTRIES, cleanup_interval_ms=3_600_000)
    rss: dict[int, int] = {}
    sizes: list[int] = []
    first = last = ""
    try:
        for n in range(1, FLOOD + 1):
            last = inbound(tracker, n)
            first = first or last
            if n % CHECK_EVERY == 0:
                sizes.append(len(tracker))
                assert len(tracker) <= MAX_ENTRIES, f"{len(tracker)} journeys tracked after {n} ids"
            if n in SAMPLES_AT:
                rss[n] = rss_bytes()
        summary = tracker.get_summary()
    finally:
        tracker.close()

    assert max(sizes) == MAX_ENTRIES and sizes[-1] == MAX_ENTRIES
    assert tracker.evicted == FLOOD - MAX_ENTRIES
    assert not tracker.is_tracking(first) and tracker.get_journey(last)["status"] == "completed"
    assert summary["totalTracked"] == MAX_ENTRIES and summary["stages"]["dbWrite"]["count"] == MAX_ENTRIES
    early, middle, late = (rss[n] for n in SAMPLES_AT)
    mib = {n: round(v / 2**20, 1) for n, v in rss.items()}
    assert late - middle < FLAT_BYTES, f"RSS grew {(late - middle) / 2**20:.1f} MiB from 120k to 200k ids: {mib}"
    # Just after the cap the index's hash table still settles once (evictions leave dummy entries until a
    # resize compacts them: ~4 MiB here); after that nothing grows.
    assert late - early < 2 * FLAT_BYTES, f"RSS grew {(late - early) / 2**20:.1f} MiB from 60k to 200k ids: {mib}"
