"""Summaries and lists over many journeys: statistics, percentiles against numpy, every filter."""

from __future__ import annotations

import numpy as np
import pytest

from journeys.stages import LATENCY_KEYS
from journeys.tracker import _linear_percentiles
from tests.journeys.helpers import FULL, KEY_SPANS, START, expected_latency, record, shifted

INBOUND = ("T0", "T1", "T2", "T3", "T4")
AGENT = (*INBOUND, "T5")
# The summary reports 3 decimals: a figure may differ from numpy's by half of the last one.
ROUNDING = 5e-4 + 1e-9


def only(stamps: dict[str, float], *stages: str) -> dict[str, float]:
    return {stage: stamps[stage] for stage in stages}


def assert_stats_match_numpy(stats: dict, values: list[float]) -> None:
    kept = np.array([v for v in values if v >= 0.0])
    assert stats["count"] == kept.size
    assert stats["negative"] == sum(1 for v in values if v < 0.0)
    if kept.size == 0:
        assert stats["avg"] is stats["min"] is stats["max"] is stats["p50"] is stats["p95"] is stats["p99"] is None
        return
    assert stats["avg"] == pytest.approx(float(kept.mean()), abs=ROUNDING)
    assert stats["min"] == pytest.approx(float(kept.min()), abs=ROUNDING)
    assert stats["max"] == pytest.approx(float(kept.max()), abs=ROUNDING)
    for q in (50, 95, 99):
        assert stats[f"p{q}"] == pytest.approx(float(np.percentile(kept, q)), abs=ROUNDING), f"p{q}"


# --- statistics -----------------------------------------------------------------------------------


def test_summary_of_an_empty_tracker_has_every_key_with_no_figures(tracker):
    summary = tracker.get_summary()

    assert summary["totalTracked"] == summary["completedJourneys"] == 0
    assert summary["activeJourneys"] == summary["abandonedJourneys"] == 0
    assert summary["since"] is None
    assert set(summary["stages"]) == set(LATENCY_KEYS)
    for stats in summary["stages"].values():
        assert stats == {"count": 0, "negative": 0, "avg": None, "min": None, "max": None,
                         "p50": None, "p95": None, "p99": None}  # fmt: skip


def test_summary_counts_journeys_by_status(tracker):
    record(tracker, "evt-replied", FULL)
    record(tracker, "evt-active", only(FULL, *AGENT))
    record(tracker, "evt-abandoned", only(FULL, *AGENT))
    tracker.abandon("evt-abandoned", "agent reply timeout", awaiting_reply_only=True)

    summary = tracker.get_summary()

    assert (summary["totalTracked"], summary["completedJourneys"]) == (3, 1)
    assert (summary["activeJourneys"], summary["abandonedJourneys"]) == (1, 1)


def test_negative_deltas_are_left_out_of_the_statistics_and_counted(tracker):
    record(tracker, "evt-a", FULL)  # channelProcessing 52.0
    record(tracker, "evt-b", {**FULL, "T0": FULL["T0"] + 30.0})  # 22.0
    record(tracker, "evt-late-t0", {**FULL, "T0": FULL["T1"] + 2.0})  # -2.0: T0 after T1

    stats = tracker.get_summary()["stages"]["channelProcessing"]

    assert (stats["count"], stats["negative"]) == (2, 1)
    assert (stats["min"], stats["max"], stats["avg"]) == (22.0, 52.0, 37.0)
    assert tracker.get_journey("evt-late-t0")["latencies"]["channelProcessing"] == -2.0
    assert tracker.get_summary()["stages"]["eventPublish"]["count"] == 3  # the journey's other keys still count


def test_zero_latency_counts_as_a_value_not_a_negative(tracker):
    record(tracker, "evt-1", {"T2": START, "T3": START})

    stats = tracker.get_summary()["stages"]["natsDelivery"]

    assert (stats["count"], stats["negative"], stats["min"], stats["p99"]) == (1, 0, 0.0, 0.0)


def test_keys_missing_on_a_journey_are_neither_counted_nor_negative(tracker):
    record(tracker, "evt-1", only(FULL, *INBOUND))

    stages = tracker.get_summary()["stages"]

    assert stages["dbWrite"]["count"] == 1
    assert stages["platformSend"] == {**stages["platformSend"], "count": 0, "negative": 0}


@pytest.mark.parametrize("size", [1, 2, 3, 10, 101, 1000])
def test_every_key_matches_numpy_on_random_journeys(tracker, size):
    rng = np.random.default_rng(size)
    journeys = []
    for i in range(size):
        t = START + i * 3.0
        stamps = {"T0": float(np.floor((t - rng.uniform(0, 1000)) / 1000) * 1000), "T1": t}  # T0: whole seconds
        gaps = rng.exponential(scale=[0.2, 0.8, 4, 1, 1500, 3, 0.2, 0.8, 250])
        for stage, gap in zip(("T2", "T3", "T4", "T5", "T7", "T8", "T9", "T10", "T11"), gaps, strict=True):
            stamps[stage] = list(stamps.values())[-1] + float(gap)
        if rng.random() < 0.2:
            stamps["T0"] = stamps["T1"] + float(rng.uniform(0, 900))  # a platform clock ahead of ours
        if rng.random() < 0.3:
            stamps = only(stamps, *AGENT)  # still awaiting the agent
        journeys.append(stamps)
        record(tracker, f"evt-{i}", stamps)

    stages = tracker.get_summary()["stages"]

    for key in KEY_SPANS:
        values = [v for v in (expected_latency(s, key) for s in journeys) if v is not None]
        assert_stats_match_numpy(stages[key], values)


@pytest.mark.parametrize("size", [*range(1, 40), 64, 99, 100, 101, 999, 1000, 1001, 20_000])
def test_percentiles_equal_numpy_linear_exactly(size):
    rng = np.random.default_rng(size)
    for values in (rng.exponential(5.0, size), rng.integers(0, 4, size).astype(float), np.full(size, 2.5)):
        got = _linear_percentiles(values.copy(), (99.0, 95.0, 50.0))

        assert got == np.percentile(values, [99, 95, 50]).tolist()


# --- summary filters ------------------------------------------------------------------------------


def test_summary_since_keeps_journeys_started_at_or_after_it(tracker, clock):
    for i in range(4):
        record(tracker, f"evt-{i}", FULL)
        clock.advance(1000)

    summary = tracker.get_summary(since=START + 2000)

    assert summary["totalTracked"] == 2  # started at START + 2000 and START + 3000
    assert summary["since"] == START + 2000
    assert summary["stages"]["dbWrite"]["count"] == 2


def test_summary_since_is_the_local_start_not_t0(tracker, clock):
    clock.advance(5000)
    record(tracker, "evt-1", FULL)  # T0 is 5 s before the first local record

    assert tracker.get_summary(since=START + 5000)["totalTracked"] == 1


def test_summary_channel_filter(tracker):
    for i, channel in enumerate(["telegram", "telegram", "whatsapp"]):
        record(tracker, f"evt-{i}", shifted(FULL, i))
        tracker.set_context(f"evt-{i}", channel_type=channel)

    assert tracker.get_summary(channel="telegram")["totalTracked"] == 2
    assert tracker.get_summary(channel="whatsapp")["totalTracked"] == 1
    assert tracker.get_summary(channel="discord")["totalTracked"] == 0


def test_summary_instance_filter(tracker):
    for i, instance in enumerate(["inst-a", "inst-b", "inst-b"]):
        record(tracker, f"evt-{i}", FULL)
        tracker.set_context(f"evt-{i}", instance_id=instance, channel_type="telegram")

    assert tracker.get_summary(instance_id="inst-b")["totalTracked"] == 2
    assert tracker.get_summary(instance_id="inst-a")["stages"]["platformSend"]["count"] == 1
    assert tracker.get_summary(instance_id="inst-unknown")["totalTracked"] == 0
    # An instance id is never mistaken for a channel that happens to share its code table.
    assert tracker.get_summary(channel="inst-a")["totalTracked"] == 0


def test_summary_path_filter(tracker):
    record(tracker, "evt-no-agent", only(FULL, *INBOUND))
    tracker.complete("evt-no-agent")
    record(tracker, "evt-agent", only(FULL, *AGENT))
    record(tracker, "evt-agent-declared", only(FULL, "T0", "T1"))
    tracker.set_context("evt-agent-declared", has_agent=True)
    record(tracker, "evt-replied", FULL)

    assert tracker.get_summary(path="no-agent")["totalTracked"] == 1
    assert tracker.get_summary(path="agent")["totalTracked"] == 2
    assert tracker.get_summary(path="replied")["totalTracked"] == 1
    assert tracker.get_summary(path="replied")["stages"]["totalRoundTrip"]["count"] == 1


def test_summary_filters_combine(tracker, clock):
    for i, (channel, instance) in enumerate([("telegram", "a"), ("telegram", "b"), ("whatsapp", "a")]):
        record(tracker, f"evt-{i}", FULL)
        tracker.set_context(f"evt-{i}", channel_type=channel, instance_id=instance)
        clock.advance(10)

    assert tracker.get_summary(channel="telegram", instance_id="a")["totalTracked"] == 1
    assert tracker.get_summary(since=START + 10, instance_id="a", path="replied")["totalTracked"] == 1
    assert tracker.get_summary(since=START + 10, channel="telegram", instance_id="a")["totalTracked"] == 0


def test_summary_refuses_an_unknown_path(tracker):
    with pytest.raises(ValueError):
        tracker.get_summary(path="sideways")


# --- lists ----------------------------------------------------------------------------------------


def test_list_is_newest_first(tracker, clock):
    for i in range(3):
        record(tracker, f"evt-{i}", FULL)
        clock.advance(1)

    assert [j["correlationId"] for j in tracker.list_journeys()] == ["evt-2", "evt-1", "evt-0"]


def test_list_limit_keeps_the_newest(tracker, clock):
    for i in range(5):
        record(tracker, f"evt-{i}", FULL)
        clock.advance(1)

    assert [j["correlationId"] for j in tracker.list_journeys(limit=2)] == ["evt-4", "evt-3"]


def test_list_slowest_orders_by_the_key_and_skips_journeys_without_it(tracker, clock):
    for i, db_write in enumerate([3.0, 9.5, 0.25]):
        record(tracker, f"evt-{i}", {**FULL, "T4": FULL["T3"] + db_write})
        clock.advance(1)
    record(tracker, "evt-no-t4", only(FULL, "T0", "T1", "T2", "T3"))

    listed = tracker.list_journeys(slowest="dbWrite")

    assert [j["correlationId"] for j in listed] == ["evt-1", "evt-0", "evt-2"]
    assert [j["latencies"]["dbWrite"] for j in listed] == [9.5, 3.0, 0.25]
    assert [j["correlationId"] for j in tracker.list_journeys(slowest="dbWrite", limit=1)] == ["evt-1"]


def test_list_status_filter(tracker):
    record(tracker, "evt-completed", FULL)
    record(tracker, "evt-active", only(FULL, *AGENT))
    record(tracker, "evt-abandoned", only(FULL, *AGENT))
    tracker.abandon("evt-abandoned", "timeout")

    for status in ("completed", "active", "abandoned"):
        assert [j["correlationId"] for j in tracker.list_journeys(status=status)] == [f"evt-{status}"]


def test_list_channel_instance_and_since_filters(tracker, clock):
    for i, (channel, instance) in enumerate([("telegram", "a"), ("discord", "a"), ("discord", "b")]):
        record(tracker, f"evt-{i}", FULL)
        tracker.set_context(f"evt-{i}", channel_type=channel, instance_id=instance)
        clock.advance(100)

    assert [j["correlationId"] for j in tracker.list_journeys(channel="discord")] == ["evt-2", "evt-1"]
    assert [j["correlationId"] for j in tracker.list_journeys(instance_id="a")] == ["evt-1", "evt-0"]
    assert [j["correlationId"] for j in tracker.list_journeys(since=START + 100)] == ["evt-2", "evt-1"]


@pytest.mark.parametrize("kwargs", [{"status": "done"}, {"slowest": "dbwrite"}, {"slowest": "T3"}])
def test_list_refuses_an_unknown_status_or_latency_key(tracker, kwargs):
    with pytest.raises(ValueError):
        tracker.list_journeys(**kwargs)
