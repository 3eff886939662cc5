"""The envelope survives the real bus in both directions, unknown fields included."""

from __future__ import annotations

import asyncio

import nats
import pytest

from messaging.bus import Bus, BusUnavailable
from messaging.events import MESSAGE_RECEIVED, Event, EventMetadata, with_timing
from tests.nats_server import NatsServer


async def _round_trip(url: str, event: Event) -> Event:
    bus = Bus(url, "RT", "rt")
    await bus.connect(retry_forever=False)
    try:
        await bus.publish("message.received.telegram.i-1", event)
        received: list[Event] = []
        stopping = asyncio.Event()

        async def handler(msgs):
            for msg in msgs:
                received.append(Event.from_json(msg.data))
                await msg.ack()
            stopping.set()

        await asyncio.wait_for(bus.consume("rt", "message.>", handler, stopping=stopping), 10)
        return received[0]
    finally:
        await bus.delete_stream()
        await bus.close()


def test_publish_and_consume_keep_every_metadata_field(nats_server):
    metadata = EventMetadata("evt-rt", "i-1", "telegram", sampled=True, extra={"traceId": "abc", "personId": 7})
    metadata = with_timing(with_timing(metadata, "pluginReceivedAt", 1.5), "eventPublishedAt", 2.25)
    sent = Event(MESSAGE_RECEIVED, {"text": "hi", "chatId": "c"}, metadata, extra={"schemaVersion": 2})
    got = asyncio.run(_round_trip(nats_server.url, sent))
    assert got == sent
    assert got.metadata.timings == {"pluginReceivedAt": 1.5, "eventPublishedAt": 2.25}
    assert got.metadata.extra == {"traceId": "abc", "personId": 7}


def test_a_republished_event_keeps_fields_this_version_does_not_know():
    raw = (
        b'{"id":"evt-x","type":"message.received","timestamp":1.0,"payload":{},"future":true,'
        b'"metadata":{"correlationId":"evt-x","sampled":false,"newField":{"a":1}}}'
    )
    again = Event.from_json(Event.from_json(raw).to_json())
    assert again.extra == {"future": True}
    assert again.metadata.extra == {"newField": {"a": 1}}
    assert again.metadata.timings is None


def test_publish_without_nats_raises_bus_unavailable():
    server = NatsServer()
    server.start()

    async def scenario():
        bus = Bus(server.url, "DOWN", "down")
        await bus.connect(retry_forever=False)
        server.stop()
        await asyncio.sleep(0.2)
        with pytest.raises(BusUnavailable):
            await bus.publish("message.received.telegram.x", Event(MESSAGE_RECEIVED, {}, EventMetadata("evt-d")))
        await bus.nc.close()

    try:
        asyncio.run(scenario())
    finally:
        server.close()


def test_connect_to_an_unreachable_server_says_so():
    async def scenario():
        with pytest.raises(BusUnavailable, match="unreachable"):
            await Bus("nats://127.0.0.1:1", "X", "x").connect(retry_forever=False)

    asyncio.run(scenario())
    assert nats  # the real client, never a stub


def test_closing_the_bus_warns_of_no_disconnection_but_losing_the_server_does(caplog):
    server = NatsServer()
    server.start()

    async def scenario():
        bus = Bus(server.url, "CL", "cl")
        await bus.connect(retry_forever=False)
        await bus.close()
        lost = Bus(server.url, "CL", "cl")
        await lost.connect(retry_forever=False)
        server.stop()
        for _ in range(100):
            if "disconnected" in caplog.text:
                break
            await asyncio.sleep(0.05)
        await lost.close()

    try:
        with caplog.at_level("WARNING", logger="messaging.bus"):
            asyncio.run(scenario())
    finally:
        server.close()
    warnings = [r.getMessage() for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(warnings) == 1, warnings  # the lost server's, not the clean close's
