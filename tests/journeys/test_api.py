"""The journeys API (CONTRACT §5): 200 answers, 401 without the key, 404 and 400 in the one error shape."""

from __future__ import annotations

import pytest
from django.conf import settings

from journeys import tracker as tracker_module
from journeys.stages import LATENCY_KEYS
from journeys.tracker import JourneyTracker, get_journey_tracker, now_ms
from tests.journeys.helpers import FakeClock, record

# One journey's stamps as offsets (ms) from its first local record.
GAPS = {"T0": -40.0, "T1": 0.0, "T2": 0.25, "T3": 1.0, "T4": 3.5, "T5": 4.0, "T7": 904.0, "T8": 905.5,
        "T9": 905.75, "T10": 906.25, "T11": 1080.25}  # fmt: skip
INBOUND = ("T0", "T1", "T2", "T3", "T4")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now_ms() - 60_000)  # near real time: the views' `since` counts back from the real now


@pytest.fixture
def tracker(monkeypatch, clock) -> JourneyTracker:
    """The process's tracker, built from settings as usual but with an injected clock."""
    conf = settings.JOURNEYS
    tracker = JourneyTracker(conf["TTL_MS"], conf["SAMPLE_RATE"], conf["MAX_ENTRIES"], conf["CLEANUP_INTERVAL_MS"],
                             clock=clock)  # fmt: skip
    monkeypatch.setattr(tracker_module, "_tracker", tracker)
    assert get_journey_tracker() is tracker
    return tracker


def add(tracker, clock, cid: str, stages=tuple(GAPS), channel="telegram", instance="inst-1", **overrides) -> None:
    stamps = {stage: clock.now + GAPS[stage] for stage in stages} | overrides
    record(tracker, cid, stamps)
    tracker.set_context(cid, channel_type=channel, instance_id=instance, chat_id="chat-1", t0_precision_ms=1000)
    clock.advance(10)


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


# --- 200 ------------------------------------------------------------------------------------------


def test_get_journey_answers_200_with_the_contract_json(api_client, tracker, clock):
    started = clock.now
    add(tracker, clock, "evt-42")

    response = api_client.get("/api/v2/journeys/evt-42")

    assert response.status_code == 200
    journey = response.json()
    assert journey["correlationId"] == "evt-42"
    assert (journey["instanceId"], journey["channelType"], journey["chatId"]) == ("inst-1", "telegram", "chat-1")
    assert (journey["status"], journey["path"]) == ("completed", "replied")
    assert journey["startedAt"] == started
    assert journey["completedAt"] == started
    assert journey["checkpoints"][0] == {"stage": "T0", "name": "platformReceivedAt",
                                         "timestamp": started - 40.0, "precisionMs": 1000.0}  # fmt: skip
    assert [c["stage"] for c in journey["checkpoints"]] == list(GAPS)
    assert journey["latencies"]["dbWrite"] == 2.5
    assert journey["latencies"]["totalRoundTrip"] == 1120.25


def test_get_journey_with_uuid_correlation_id(api_client, tracker, clock):
    cid = "evt-6f1c1f8e-2b7a-4c1e-9a57-3f8d2f6f1a00"
    add(tracker, clock, cid, stages=INBOUND)

    assert api_client.get(f"/api/v2/journeys/{cid}").json()["path"] == "no-agent"


def test_list_answers_200_newest_first(api_client, tracker, clock):
    for cid in ("evt-old", "evt-mid", "evt-new"):
        add(tracker, clock, cid)

    response = api_client.get("/api/v2/journeys")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [j["correlationId"] for j in body["results"]] == ["evt-new", "evt-mid", "evt-old"]


def test_list_slowest_orders_by_the_latency_key(api_client, tracker, clock):
    add(tracker, clock, "evt-fast")
    add(tracker, clock, "evt-slow", T4=clock.now + 90.0)
    add(tracker, clock, "evt-mid", T4=clock.now + 9.0)
    add(tracker, clock, "evt-no-t4", stages=("T1", "T2", "T3"))

    body = api_client.get("/api/v2/journeys", {"slowest": "dbWrite"}).json()

    assert [j["correlationId"] for j in body["results"]] == ["evt-slow", "evt-mid", "evt-fast"]
    assert body["count"] == 3


def test_list_filters_and_limit(api_client, tracker, clock):
    add(tracker, clock, "evt-tg-1", channel="telegram", instance="a")
    add(tracker, clock, "evt-wa", channel="whatsapp", instance="b")
    add(tracker, clock, "evt-tg-active", stages=INBOUND, channel="telegram", instance="a")
    add(tracker, clock, "evt-tg-2", channel="telegram", instance="a")

    def ids(**params):
        return [j["correlationId"] for j in api_client.get("/api/v2/journeys", params).json()["results"]]

    assert ids(channel="whatsapp") == ["evt-wa"]
    assert ids(instanceId="a", status="completed") == ["evt-tg-2", "evt-tg-1"]
    assert ids(status="active") == ["evt-tg-active"]
    assert ids(limit="2") == ["evt-tg-2", "evt-tg-active"]
    assert ids(since="1h") == ["evt-tg-2", "evt-tg-active", "evt-wa", "evt-tg-1"]


def test_summary_answers_200_with_every_field(api_client, tracker, clock):
    add(tracker, clock, "evt-1")
    add(tracker, clock, "evt-2", stages=INBOUND)

    response = api_client.get("/api/v2/journeys/summary")

    assert response.status_code == 200
    summary = response.json()
    assert (summary["totalTracked"], summary["completedJourneys"], summary["activeJourneys"]) == (2, 1, 1)
    assert summary["abandonedJourneys"] == 0
    assert summary["since"] is None
    assert set(summary["stages"]) == set(LATENCY_KEYS)
    assert summary["stages"]["dbWrite"] == {"count": 2, "negative": 0, "avg": 2.5, "min": 2.5, "max": 2.5,
                                            "p50": 2.5, "p95": 2.5, "p99": 2.5}  # fmt: skip


def test_summary_filters(api_client, tracker, clock):
    add(tracker, clock, "evt-1", channel="telegram", instance="a")
    add(tracker, clock, "evt-2", channel="discord", instance="b")
    add(tracker, clock, "evt-3", stages=INBOUND, channel="discord", instance="b")

    def total(**params):
        response = api_client.get("/api/v2/journeys/summary", params)
        assert response.status_code == 200
        return response.json()["totalTracked"]

    assert total(channel="discord") == 2
    assert total(instanceId="a") == 1
    assert total(path="replied") == 2
    assert total(path="no-agent") == 1
    assert total(path="agent") == 0
    assert total(since="1h") == 3
    assert total(since="1s") == 0  # all three started about a minute ago (the injected clock)
    assert total(since="2099-01-01T00:00:00Z") == 0


def test_summary_echoes_since_as_epoch_ms(api_client, tracker):
    summary = api_client.get("/api/v2/journeys/summary", {"since": "2024-12-03T10:00:00+01:00"}).json()

    assert summary["since"] == 1733216400000.0


# --- 401 ------------------------------------------------------------------------------------------

ENDPOINTS = ["/api/v2/journeys", "/api/v2/journeys/summary", "/api/v2/journeys/evt-1"]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_missing_api_key_is_401_unauthorized(client, tracker, clock, url):
    add(tracker, clock, "evt-1")

    assert_error(client.get(url), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("url", ENDPOINTS)
def test_wrong_api_key_is_401(client, tracker, clock, url):
    add(tracker, clock, "evt-1")

    response = client.get(url, HTTP_X_API_KEY="not-the-key")

    # messaging/authentication.py names this case INVALID_API_KEY (missing key: UNAUTHORIZED).
    assert_error(response, 401, "INVALID_API_KEY")


def test_api_key_of_another_length_is_401(client, tracker):
    assert client.get("/api/v2/journeys/summary", HTTP_X_API_KEY="x").status_code == 401


# --- 404 ------------------------------------------------------------------------------------------


def test_unknown_journey_is_404_journey_not_found(api_client, tracker):
    assert_error(api_client.get("/api/v2/journeys/evt-nope"), 404, "JOURNEY_NOT_FOUND")


def test_expired_journey_is_404(api_client, tracker, clock):
    add(tracker, clock, "evt-1")
    clock.advance(settings.JOURNEYS["TTL_MS"] + 1)

    assert_error(api_client.get("/api/v2/journeys/evt-1"), 404, "JOURNEY_NOT_FOUND")


# --- 400 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("since", ["", "abc", "5x", "-1h", "25ms", "1 h", "2024-13-01"])
@pytest.mark.parametrize("url", ["/api/v2/journeys/summary", "/api/v2/journeys"])
def test_bad_since_is_400_invalid_since(api_client, tracker, url, since):
    assert_error(api_client.get(url, {"since": since}), 400, "INVALID_SINCE")


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "abc", "", "1.5", "²", "10 "])
def test_bad_limit_is_400_invalid_limit(api_client, tracker, limit):
    assert_error(api_client.get("/api/v2/journeys", {"limit": limit}), 400, "INVALID_LIMIT")


def test_limit_bounds_are_accepted(api_client, tracker):
    assert api_client.get("/api/v2/journeys", {"limit": "1"}).status_code == 200
    assert api_client.get("/api/v2/journeys", {"limit": "1000"}).status_code == 200


@pytest.mark.parametrize("status", ["done", "ACTIVE", "replied"])
def test_bad_status_is_400_invalid_status(api_client, tracker, status):
    assert_error(api_client.get("/api/v2/journeys", {"status": status}), 400, "INVALID_STATUS")


@pytest.mark.parametrize("key", ["dbwrite", "T3", "latency"])
def test_bad_latency_key_is_400_invalid_latency_key(api_client, tracker, key):
    assert_error(api_client.get("/api/v2/journeys", {"slowest": key}), 400, "INVALID_LATENCY_KEY")


@pytest.mark.parametrize("path", ["sideways", "noagent", "REPLIED"])
def test_bad_path_is_400_invalid_path(api_client, tracker, path):
    assert_error(api_client.get("/api/v2/journeys/summary", {"path": path}), 400, "INVALID_PATH")
