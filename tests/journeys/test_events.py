"""The event envelope (CONTRACT §6): timings stamped on copies, unknown fields kept through a round trip."""

from __future__ import annotations

import json

import pytest

from journeys.tracker import now_ms
from messaging.events import Event, EventMetadata, with_timing


def test_with_timing_returns_a_new_metadata_and_leaves_the_given_one_unchanged():
    original = EventMetadata("evt-1", instance_id="inst-1", channel_type="telegram",
                             timings={"pluginReceivedAt": 1000.25})  # fmt: skip

    stamped = with_timing(original, "eventPublishedAt", 1001.5)

    assert stamped is not original
    assert isinstance(stamped, EventMetadata)
    assert stamped.timings == {"pluginReceivedAt": 1000.25, "eventPublishedAt": 1001.5}
    assert original.timings == {"pluginReceivedAt": 1000.25}
    assert (stamped.correlation_id, stamped.instance_id, stamped.channel_type) == ("evt-1", "inst-1", "telegram")


def test_with_timing_on_untimed_metadata_starts_the_timings():
    original = EventMetadata("evt-1")

    stamped = with_timing(original, "T2", 5.125)

    assert original.timings is None
    assert stamped.timings == {"eventPublishedAt": 5.125}  # a stage is stored under its checkpoint name
    assert stamped.timing("T2") == stamped.timing("eventPublishedAt") == 5.125


def test_with_timing_defaults_to_now_in_epoch_milliseconds():
    before = now_ms()
    stamped = with_timing(EventMetadata("evt-1"), "eventPublishedAt")
    after = now_ms()

    assert before <= stamped.timing("eventPublishedAt") <= after


def test_event_json_round_trip_keeps_unknown_metadata_and_envelope_fields():
    wire = {
        "id": "evt-abc",
        "type": "message.received",
        "timestamp": 1733200000000.125,
        "payload": {"text": "hi", "nested": {"a": [1, 2]}},
        "metadata": {
            "correlationId": "evt-abc",
            "instanceId": "inst-1",
            "channelType": "telegram",
            "sampled": True,
            "timings": {"pluginReceivedAt": 1733200000000.0, "futureCheckpointAt": 1733200000001.5},
            "tenant": "acme",
            "traceparent": "00-abc-def-01",
        },
        "schemaVersion": 3,
        "producer": {"name": "other-service"},
    }

    event = Event.from_json(json.dumps(wire))
    again = json.loads(Event.from_json(event.to_json()).to_json())

    assert again == wire
    assert event.metadata.extra == {"tenant": "acme", "traceparent": "00-abc-def-01"}


def test_unsampled_event_carries_no_timings():
    event = Event("message.received", {"text": "hi"}, EventMetadata("evt-1", sampled=False))

    metadata = json.loads(event.to_json())["metadata"]

    assert metadata["sampled"] is False
    assert "timings" not in metadata


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"payload": {}}',
        b'{"payload": [], "metadata": {"correlationId": "evt-1"}}',
        b'{"payload": {}, "metadata": {}}',
        b'{"payload": {}, "metadata": {"correlationId": "evt-1", "timings": [1, 2]}}',
        b'{"payload": {}, "metadata": {"correlationId": "evt-1"}, "timestamp": [1]}',
        b'{"payload": {}, "metadata": {"correlationId": "evt-1"}, "timestamp": "soon"}',
    ],
)
def test_anything_but_an_envelope_is_a_value_error(raw):
    with pytest.raises(ValueError):
        Event.from_json(raw)
