"""What bounds the tracker: TTL expiry and cleanup, the LRU cap, sampling, and recording from many threads."""

from __future__ import annotations

import random
import threading
import time

import pytest

from journeys.stages import JOURNEY_STAGES
from journeys.tracker import JourneyTracker
from tests.journeys.helpers import FULL, START, TTL_MS, record

AGENT = ("T0", "T1", "T2", "T3", "T4", "T5")


def only(*stages: str) -> dict[str, float]:
    return {stage: FULL[stage] for stage in stages}


# --- TTL ------------------------------------------------------------------------------------------


def test_journey_is_live_up_to_its_ttl(tracker, clock):
    record(tracker, "evt-1", only("T0", "T1"))
    clock.advance(TTL_MS)

    assert tracker.is_tracking("evt-1")
    assert tracker.get_journey("evt-1")["expiresAt"] == START + TTL_MS


def test_expired_journey_is_invisible_to_reads_at_once(tracker, clock):
    record(tracker, "evt-1", only("T0", "T1"))
    clock.advance(TTL_MS + 0.001)

    assert tracker.get_journey("evt-1") is None
    assert tracker.is_tracking("evt-1") is False
    assert tracker.get_summary()["totalTracked"] == 0
    assert tracker.list_journeys() == []
    tracker.set_context("evt-1", channel_type="telegram")  # no effect on an expired journey
    assert tracker.complete("evt-1") is False


def test_ttl_counts_from_the_first_local_record_not_from_t0(tracker, clock):
    # The sender's clock says the message is older than the TTL; locally it has just arrived.
    tracker.record_checkpoint("evt-1", "T0", "platformReceivedAt", START - 10 * TTL_MS)
    clock.advance(TTL_MS - 1)

    assert tracker.is_tracking("evt-1")


def test_later_records_do_not_extend_the_ttl(tracker, clock):
    record(tracker, "evt-1", only("T0", "T1"))
    clock.advance(TTL_MS / 2)
    tracker.record_checkpoint("evt-1", "T2", "eventPublishedAt")
    clock.advance(TTL_MS / 2 + 1)

    assert tracker.get_journey("evt-1") is None


def test_cleanup_removes_expired_journeys_and_publishes_unfinished_ones_as_abandoned(tracker, clock, completed):
    record(tracker, "evt-replied", FULL)
    record(tracker, "evt-waiting", only(*AGENT))
    clock.advance(TTL_MS / 2)
    record(tracker, "evt-young", only("T0", "T1"))
    clock.advance(TTL_MS / 2 + 1)
    published_before = len(completed)  # evt-replied, at T11

    assert tracker.cleanup() == 2

    assert len(tracker) == 1
    assert tracker.is_tracking("evt-young")
    [abandoned] = completed[published_before:]
    assert abandoned["correlationId"] == "evt-waiting"
    assert abandoned["status"] == "abandoned"
    assert abandoned["abandonReason"] == "ttl expired"
    assert abandoned["path"] == "agent"
    assert abandoned["latencies"]["totalInbound"] == 56.25
    assert tracker.cleanup() == 0  # nothing left to remove, nothing published twice
    assert len(completed) == published_before + 1


def test_recording_under_an_expired_id_starts_a_new_journey_and_publishes_the_old_one(tracker, clock, completed):
    record(tracker, "evt-1", only(*AGENT))
    clock.advance(TTL_MS + 1)

    tracker.record_checkpoint("evt-1", "T11", "platformDeliveredAt", START + TTL_MS + 1)

    assert [(j["status"], j["path"]) for j in completed] == [("abandoned", "agent"), ("completed", "replied")]
    journey = tracker.get_journey("evt-1")
    assert journey["startedAt"] == START + TTL_MS + 1
    assert [c["stage"] for c in journey["checkpoints"]] == ["T11"]
    assert len(tracker) == 1


def test_periodic_cleanup_thread_removes_expired_journeys(make_tracker, clock, completed):
    tracker = make_tracker(cleanup_interval_ms=5)
    record(tracker, "evt-1", only(*AGENT))
    tracker.start_cleanup()
    clock.advance(TTL_MS + 1)

    deadline = time.monotonic() + 5
    while len(tracker) and time.monotonic() < deadline:
        time.sleep(0.005)

    assert len(tracker) == 0
    assert [j["status"] for j in completed] == ["abandoned"]
    tracker.close()
    tracker.close()  # idempotent


def test_cleanup_of_many_expired_journeys_lets_recording_continue(make_tracker, clock):
    tracker = make_tracker(max_entries=5000)
    for i in range(3000):
        tracker.record_checkpoint(f"evt-old-{i}", "T1", "pluginReceivedAt")
    clock.advance(TTL_MS + 1)
    tracker.record_checkpoint("evt-new", "T1", "pluginReceivedAt")

    assert tracker.cleanup() == 3000

    assert len(tracker) == 1
    assert tracker.is_tracking("evt-new")


# --- LRU ------------------------------------------------------------------------------------------


def fill_three(tracker, clock) -> None:
    for cid in ("evt-a", "evt-b", "evt-c"):
        tracker.record_checkpoint(cid, "T1", "pluginReceivedAt")
        clock.advance(1)


def test_cap_evicts_the_least_recently_used_journey(make_tracker, clock):
    tracker = make_tracker(max_entries=3)
    fill_three(tracker, clock)

    tracker.record_checkpoint("evt-d", "T1", "pluginReceivedAt")

    assert len(tracker) == 3
    assert tracker.get_journey("evt-a") is None
    assert all(tracker.is_tracking(cid) for cid in ("evt-b", "evt-c", "evt-d"))
    assert tracker.evicted == 1


def test_an_active_journey_pushed_out_by_the_cap_is_reported_abandoned(make_tracker, clock, completed):
    tracker = make_tracker(max_entries=3)
    fill_three(tracker, clock)
    tracker.record_checkpoint("evt-b", "T11", "platformDeliveredAt")  # evt-b completes, reported once
    tracker.record_checkpoint("evt-d", "T1", "pluginReceivedAt")  # evicts evt-a, still active
    tracker.record_checkpoint("evt-e", "T1", "pluginReceivedAt")  # evicts evt-c
    tracker.record_checkpoint("evt-f", "T1", "pluginReceivedAt")  # evicts evt-b, already reported

    assert [(j["correlationId"], j["status"]) for j in completed] == [
        ("evt-b", "completed"),
        ("evt-a", "abandoned"),
        ("evt-c", "abandoned"),
    ]
    assert completed[1]["abandonReason"] == "evicted: JOURNEY_MAX_ENTRIES reached"
    assert [c["stage"] for c in completed[1]["checkpoints"]] == ["T1"]
    assert tracker.evicted == 3


def test_recording_refreshes_recency(make_tracker, clock):
    tracker = make_tracker(max_entries=3)
    fill_three(tracker, clock)
    tracker.record_checkpoint("evt-a", "T2", "eventPublishedAt")

    tracker.record_checkpoint("evt-d", "T1", "pluginReceivedAt")

    assert tracker.is_tracking("evt-a")
    assert not tracker.is_tracking("evt-b")


def test_repeated_stage_still_refreshes_recency(make_tracker, clock):
    tracker = make_tracker(max_entries=3)
    fill_three(tracker, clock)
    assert tracker.record_checkpoint("evt-a", "T1", "pluginReceivedAt") is False

    tracker.record_checkpoint("evt-d", "T1", "pluginReceivedAt")

    assert tracker.is_tracking("evt-a")
    assert not tracker.is_tracking("evt-b")


def test_get_journey_refreshes_recency(make_tracker, clock):
    tracker = make_tracker(max_entries=3)
    fill_three(tracker, clock)
    tracker.get_journey("evt-a")

    tracker.record_checkpoint("evt-d", "T1", "pluginReceivedAt")

    assert tracker.is_tracking("evt-a")
    assert not tracker.is_tracking("evt-b")


def test_is_tracking_summary_and_list_do_not_refresh_recency(make_tracker, clock):
    tracker = make_tracker(max_entries=3)
    fill_three(tracker, clock)
    tracker.is_tracking("evt-a")
    tracker.get_summary()
    tracker.get_summary(instance_id="x")
    tracker.list_journeys()

    tracker.record_checkpoint("evt-d", "T1", "pluginReceivedAt")

    assert not tracker.is_tracking("evt-a")
    assert tracker.is_tracking("evt-b")


def test_evicted_slots_are_reused_without_leaking_old_checkpoints(make_tracker, clock):
    tracker = make_tracker(max_entries=2)
    record(tracker, "evt-a", FULL)
    tracker.set_context("evt-a", channel_type="telegram", instance_id="i", chat_id="c")
    tracker.count_extra_reply("evt-a")
    tracker.record_checkpoint("evt-b", "T1", "pluginReceivedAt")

    tracker.record_checkpoint("evt-c", "T2", "eventPublishedAt", START)  # evicts evt-a, takes its slot

    journey = tracker.get_journey("evt-c")
    assert [c["stage"] for c in journey["checkpoints"]] == ["T2"]
    assert (journey["channelType"], journey["instanceId"], journey["chatId"]) == (None, None, None)
    assert (journey["status"], journey["extraReplies"], journey["completedAt"]) == ("active", 0, None)


# --- sampling -------------------------------------------------------------------------------------


@pytest.fixture
def seeded_random():
    state = random.getstate()
    random.seed(20261203)
    yield
    random.setstate(state)


@pytest.mark.parametrize(("rate", "expected"), [(0.0, 0), (1.0, 10_000)])
def test_sampling_at_zero_and_one_is_all_or_nothing(make_tracker, rate, expected):
    tracker = make_tracker(sample_rate=rate)

    assert sum(tracker.should_sample() for _ in range(10_000)) == expected


@pytest.mark.parametrize("rate", [0.5, 0.1])
def test_sampling_at_a_rate_samples_that_share(make_tracker, seeded_random, rate):
    draws = 10_000
    tracker = make_tracker(sample_rate=rate)

    sampled = sum(tracker.should_sample() for _ in range(draws))

    # Binomial(n, p): mean n*p, standard deviation sqrt(n*p*(1-p)); 5 sigma is 50 * 5 = 250 at p = 0.5.
    sigma = (draws * rate * (1 - rate)) ** 0.5
    assert abs(sampled - draws * rate) <= 5 * sigma


# --- threads --------------------------------------------------------------------------------------

THREADS, PER_THREAD = 8, 2000
STAGES = [(stage, name) for stage, name in JOURNEY_STAGES.items() if stage != "T12"]  # 11 checkpoints


def test_eight_threads_recording_concurrently_lose_no_checkpoint():
    completions: list[str] = []
    tracker = JourneyTracker(ttl_ms=3_600_000, sample_rate=1.0, max_entries=THREADS * PER_THREAD,
                             cleanup_interval_ms=60_000,
                             on_complete=lambda journey: completions.append(journey["correlationId"]))  # fmt: skip
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            start.wait()
            # Stage by stage over all of this thread's journeys, so threads interleave on every stage.
            for k, (stage, name) in enumerate(STAGES):
                for j in range(PER_THREAD):
                    tracker.record_checkpoint(f"evt-{worker}-{j}", stage, name, START + j + k * 0.125)
        except BaseException as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(tracker) == THREADS * PER_THREAD
    assert len(completions) == len(set(completions)) == THREADS * PER_THREAD  # each completed once, at T11
    summary = tracker.get_summary()
    assert summary["completedJourneys"] == THREADS * PER_THREAD
    assert all(summary["stages"][key]["count"] == THREADS * PER_THREAD for key in ("eventPublish", "platformSend"))
    for worker in range(THREADS):
        for j in (0, PER_THREAD // 2, PER_THREAD - 1):
            checkpoints = tracker.get_journey(f"evt-{worker}-{j}")["checkpoints"]
            assert [c["timestamp"] for c in checkpoints] == [START + j + k * 0.125 for k in range(len(STAGES))]


def test_threads_racing_on_the_same_stage_store_it_once():
    tracker = JourneyTracker(ttl_ms=3_600_000, sample_rate=1.0, max_entries=1000, cleanup_interval_ms=60_000)
    start = threading.Barrier(THREADS)
    stored = [0] * THREADS

    def work(worker: int) -> None:
        start.wait()
        for stage, name in STAGES:
            for j in range(200):
                stored[worker] += tracker.record_checkpoint(f"evt-{j}", stage, name, START + worker)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(stored) == 200 * len(STAGES)  # every stage of every journey stored exactly once
    journey = tracker.get_journey("evt-0")
    assert len(journey["checkpoints"]) == len(STAGES)
