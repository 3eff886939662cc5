"""The tracker's rules for one journey: latencies, checkpoints, lifecycle (CONTRACT §1, §3, §4, §7)."""

from __future__ import annotations

import pytest

from journeys.stages import JOURNEY_STAGES, STAGE_ORDER
from journeys.tracker import JourneyTracker
from tests.journeys.helpers import FULL, FULL_LATENCIES, START, record

INBOUND = ("T0", "T1", "T2", "T3", "T4")
AGENT = (*INBOUND, "T5")


def only(*stages: str) -> dict[str, float]:
    return {stage: FULL[stage] for stage in stages}


# --- latencies ------------------------------------------------------------------------------------


def test_full_journey_has_every_latency_key_worked_out_by_hand(tracker):
    record(tracker, "evt-1", FULL)

    journey = tracker.get_journey("evt-1")

    assert journey["latencies"] == FULL_LATENCIES
    assert journey["path"] == "replied"
    assert journey["status"] == "completed"


def test_latencies_keep_sub_millisecond_resolution(tracker):
    # Loopback NATS delivery is well under 1 ms: rounding to whole milliseconds would report 0.
    record(tracker, "evt-1", {"T2": START + 0.5, "T3": START + 0.537})

    journey = tracker.get_journey("evt-1")

    assert journey["latencies"]["natsDelivery"] == pytest.approx(0.037, abs=6e-4)
    assert journey["checkpoints"][0]["timestamp"] == START + 0.5  # stored as given, not rounded


def test_inbound_only_journey_has_only_the_keys_with_both_ends(tracker):
    record(tracker, "evt-1", only(*INBOUND))

    assert tracker.get_journey("evt-1")["latencies"] == {
        "channelProcessing": 52.0,
        "eventPublish": 0.125,
        "natsDelivery": 0.75,
        "dbWrite": 2.625,
    }


def test_journey_awaiting_the_agent_counts_omni_processing_as_inbound_only(tracker):
    record(tracker, "evt-1", only(*AGENT))

    latencies = tracker.get_journey("evt-1")["latencies"]

    assert latencies["totalInbound"] == 56.25
    assert latencies["omniProcessing"] == 56.25  # T5 - T0 without T7/T11
    assert latencies["internalProcessing"] == 4.25  # T5 - T1 without T7/T10
    assert "agentRoundTrip" not in latencies
    assert "totalRoundTrip" not in latencies


def test_out_of_order_recording_gives_the_same_journey(tracker):
    order = ["T1", "T3", "T0", "T2", "T5", "T4", "T8", "T7", "T10", "T9", "T11"]
    record(tracker, "evt-ordered", FULL)
    record(tracker, "evt-shuffled", FULL, order=order)

    ordered, shuffled = tracker.get_journey("evt-ordered"), tracker.get_journey("evt-shuffled")

    assert shuffled["latencies"] == FULL_LATENCIES
    assert shuffled["checkpoints"] == ordered["checkpoints"]
    assert [c["stage"] for c in shuffled["checkpoints"]] == [s for s in STAGE_ORDER if s in FULL]


def test_missing_middle_checkpoint_drops_only_the_keys_that_need_it(tracker):
    stamps = dict(FULL)
    del stamps["T3"]
    record(tracker, "evt-1", stamps)

    latencies = tracker.get_journey("evt-1")["latencies"]

    assert "natsDelivery" not in latencies  # T3 - T2
    assert "dbWrite" not in latencies  # T4 - T3
    assert latencies == {k: v for k, v in FULL_LATENCIES.items() if k not in {"natsDelivery", "dbWrite"}}


def test_delivery_receipt_is_measured_from_t11_to_t12(tracker):
    record(tracker, "evt-1", {**FULL, "T12": FULL["T11"] + 950.5})

    assert tracker.get_journey("evt-1")["latencies"]["deliveryReceipt"] == 950.5


def test_negative_delta_stays_visible_on_the_journey(tracker):
    # A second-precision platform stamp after our own T1: the T0 -> T1 leg is negative.
    record(tracker, "evt-1", {**FULL, "T0": FULL["T1"] + 1.5})

    latencies = tracker.get_journey("evt-1")["latencies"]

    assert latencies["channelProcessing"] == -1.5
    assert latencies["eventPublish"] == 0.125


# --- checkpoints ----------------------------------------------------------------------------------


def test_repeated_stage_keeps_first_value(tracker):
    assert tracker.record_checkpoint("evt-1", "T3", "eventConsumedAt", START + 1.0) is True

    assert tracker.record_checkpoint("evt-1", "T3", "eventConsumedAt", START + 9.0) is False

    [checkpoint] = tracker.get_journey("evt-1")["checkpoints"]
    assert checkpoint["timestamp"] == START + 1.0


def test_checkpoints_carry_stage_name_and_timestamp_in_stage_order(tracker):
    record(tracker, "evt-1", FULL, order=reversed(list(FULL)))

    checkpoints = tracker.get_journey("evt-1")["checkpoints"]

    assert [(c["stage"], c["name"], c["timestamp"]) for c in checkpoints] == [
        (stage, JOURNEY_STAGES[stage], ts) for stage, ts in FULL.items()
    ]


def test_t0_checkpoint_states_its_precision(tracker):
    record(tracker, "evt-1", only("T0", "T1"))
    tracker.set_context("evt-1", t0_precision_ms=1000)

    t0, t1 = tracker.get_journey("evt-1")["checkpoints"]

    assert t0["precisionMs"] == 1000
    assert "precisionMs" not in t1


def test_checkpoint_without_timestamp_is_stamped_with_the_clock(tracker, clock):
    clock.now = START + 123.456
    tracker.record_checkpoint("evt-1", "T1", "pluginReceivedAt")

    assert tracker.get_journey("evt-1")["checkpoints"][0]["timestamp"] == START + 123.456


@pytest.mark.parametrize(
    ("stage", "name"),
    [("T6", "agentStartedAt"), ("T3", "dbStoredAt"), ("t3", "eventConsumedAt"), ("", ""), ("T13", "x")],
)
def test_unknown_or_mismatched_checkpoint_is_refused(tracker, stage, name):
    with pytest.raises(ValueError):
        tracker.record_checkpoint("evt-1", stage, name)

    assert not tracker.is_tracking("evt-1")


def test_journey_json_has_every_required_field(tracker, clock):
    record(tracker, "evt-1", only("T0", "T1"))
    tracker.set_context("evt-1", instance_id="inst-1", channel_type="telegram", chat_id=42)

    journey = tracker.get_journey("evt-1")

    assert journey["correlationId"] == "evt-1"
    assert journey["instanceId"] == "inst-1"
    assert journey["channelType"] == "telegram"
    assert journey["chatId"] == "42"
    assert journey["status"] == "active"
    assert journey["path"] == "no-agent"
    assert journey["startedAt"] == START  # the local time of the first record, not T0
    assert journey["completedAt"] is None
    assert journey["extraReplies"] == 0
    assert {"checkpoints", "latencies"} <= journey.keys()


def test_set_context_never_starts_a_journey(tracker):
    tracker.set_context("evt-unknown", instance_id="inst-1", channel_type="telegram")

    assert not tracker.is_tracking("evt-unknown")
    assert len(tracker) == 0


def test_unknown_journey_reads_as_none(tracker):
    assert tracker.get_journey("evt-nope") is None
    assert tracker.is_tracking("evt-nope") is False


# --- lifecycle ------------------------------------------------------------------------------------


def test_path_follows_the_agent_and_the_reply(tracker):
    record(tracker, "evt-1", only(*INBOUND))
    assert tracker.get_journey("evt-1")["path"] == "no-agent"

    tracker.set_context("evt-1", has_agent=True)
    assert tracker.get_journey("evt-1")["path"] == "agent"

    record(tracker, "evt-2", only(*AGENT))
    assert tracker.get_journey("evt-2")["path"] == "agent"  # T5 recorded: awaiting a reply

    record(tracker, "evt-2", {s: FULL[s] for s in ("T7", "T8", "T9", "T10", "T11")})
    assert tracker.get_journey("evt-2")["path"] == "replied"


def test_completion_at_t11_fires_on_complete_exactly_once(tracker, clock, completed):
    record(tracker, "evt-1", {s: FULL[s] for s in FULL if s != "T11"})
    assert completed == []

    clock.advance(1690.5)
    assert tracker.record_checkpoint("evt-1", "T11", "platformDeliveredAt", FULL["T11"]) is True
    tracker.record_checkpoint("evt-1", "T11", "platformDeliveredAt", FULL["T11"] + 5)  # repeated: ignored
    tracker.record_checkpoint("evt-1", "T12", "recipientDeliveredAt", FULL["T11"] + 900)

    assert len(completed) == 1
    [journey] = completed
    assert journey["correlationId"] == "evt-1"
    assert (journey["status"], journey["path"]) == ("completed", "replied")
    assert journey["completedAt"] == START + 1690.5
    assert journey["latencies"] == FULL_LATENCIES


def test_completed_journey_is_not_published_again_when_it_expires(tracker, clock, completed):
    record(tracker, "evt-1", FULL)
    clock.advance(tracker.ttl_ms + 1)

    assert tracker.cleanup() == 1
    assert len(completed) == 1


def test_complete_ends_a_no_agent_journey_at_t4(tracker, clock, completed):
    record(tracker, "evt-1", only(*INBOUND))
    tracker.set_context("evt-1", has_agent=False)
    clock.advance(7.5)

    assert tracker.complete("evt-1") is True
    assert tracker.complete("evt-1") is False  # already completed

    journey = tracker.get_journey("evt-1")
    assert (journey["status"], journey["path"]) == ("completed", "no-agent")
    assert journey["completedAt"] == START + 7.5
    assert [j["correlationId"] for j in completed] == ["evt-1"]


def test_complete_of_an_unknown_journey_is_false(tracker, completed):
    assert tracker.complete("evt-nope") is False
    assert completed == []


def test_abandon_awaiting_reply_only_abandons_a_journey_with_t5_and_no_t7(tracker, completed):
    record(tracker, "evt-waiting", only(*AGENT))

    assert tracker.abandon("evt-waiting", "agent reply timeout", awaiting_reply_only=True) is True

    journey = tracker.get_journey("evt-waiting")
    assert journey["status"] == "abandoned"
    assert journey["abandonReason"] == "agent reply timeout"
    assert [j["status"] for j in completed] == ["abandoned"]


@pytest.mark.parametrize(
    "stages",
    [INBOUND, (*AGENT, "T7"), (*AGENT, "T7", "T8", "T9", "T10", "T11")],
    ids=["no T5", "T7 recorded", "replied"],
)
def test_abandon_awaiting_reply_only_leaves_other_journeys_alone(tracker, stages):
    record(tracker, "evt-1", only(*stages))
    status = tracker.get_journey("evt-1")["status"]

    assert tracker.abandon("evt-1", "agent reply timeout", awaiting_reply_only=True) is False
    assert tracker.get_journey("evt-1")["status"] == status


def test_abandon_without_the_flag_abandons_any_active_journey(tracker):
    record(tracker, "evt-1", only("T0", "T1"))

    assert tracker.abandon("evt-1", "plugin gave up") is True
    assert tracker.abandon("evt-1", "again") is False

    assert tracker.get_journey("evt-1")["abandonReason"] == "plugin gave up"


def test_count_extra_reply_counts_replies_after_the_first(tracker):
    record(tracker, "evt-1", FULL)

    tracker.count_extra_reply("evt-1")
    tracker.count_extra_reply("evt-1")
    tracker.count_extra_reply("evt-unknown")  # no journey: nothing happens

    assert tracker.get_journey("evt-1")["extraReplies"] == 2
    assert not tracker.is_tracking("evt-unknown")


# --- size -----------------------------------------------------------------------------------------


def test_len_counts_journeys_not_checkpoints(tracker):
    record(tracker, "evt-1", FULL)
    record(tracker, "evt-2", only("T0", "T1"))

    assert len(tracker) == 2


def test_clear_forgets_every_journey_and_the_tracker_stays_usable(tracker):
    for i in range(5):
        record(tracker, f"evt-{i}", FULL)

    tracker.clear()

    assert len(tracker) == 0
    assert tracker.get_journey("evt-0") is None
    assert tracker.get_summary()["totalTracked"] == 0
    record(tracker, "evt-0", only("T0", "T1"))
    assert [c["stage"] for c in tracker.get_journey("evt-0")["checkpoints"]] == ["T0", "T1"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ttl_ms": 0},
        {"max_entries": 0},
        {"cleanup_interval_ms": -1},
        {"sample_rate": 1.5},
        {"sample_rate": -0.1},
    ],
)
def test_tracker_refuses_bad_limits(kwargs):
    args = {"ttl_ms": 1000, "sample_rate": 1.0, "max_entries": 10, "cleanup_interval_ms": 1000, **kwargs}

    with pytest.raises(ValueError):
        JourneyTracker(**args)
