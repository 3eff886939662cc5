"""The offered load for bench.pipeline, in its own process: `message.received` events exactly as a
plugin publishes them (T0, T1 and T2 in `metadata.timings` when sampled, T2 stamped just before the
hand-off), each awaited for JetStream's ack.

    python -m bench.publisher URL INSTANCE_ID COUNT RATE_PER_S SAMPLE_RATE   (RATE 0: as fast as possible)
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid

import nats

from journeys.tracker import now_ms
from messaging.events import MESSAGE_RECEIVED, Event, EventMetadata, subject_for


def event(instance_id: str, n: int, sampled: bool) -> Event:
    t1 = now_ms()
    event_id = f"evt-{uuid.uuid4()}"
    timings = {"pluginReceivedAt": t1, "platformReceivedAt": float(int(time.time()) * 1000)} if sampled else None
    metadata = EventMetadata(event_id, instance_id, "telegram", sampled=sampled, timings=timings)
    if sampled:
        metadata.timings["eventPublishedAt"] = now_ms()  # type: ignore[index]
    payload = {"externalId": f"bench-{uuid.uuid4().hex}", "chatId": f"chat-{n % 50}", "sender": "bench",
               "text": f"message {n}", "messageType": "text"}  # fmt: skip
    return Event(MESSAGE_RECEIVED, payload, metadata, id=event_id)


async def main(url: str, instance_id: str, count: int, rate: float, sample_rate: float) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=10)
    subject = subject_for(MESSAGE_RECEIVED, "telegram", instance_id)
    gate = asyncio.Semaphore(500)

    async def one(n: int) -> None:
        async with gate:
            e = event(instance_id, n, random.random() < sample_rate)
            await js.publish(subject, e.to_json(), headers={"Nats-Msg-Id": e.id})

    pending = []
    start = time.monotonic()
    for n in range(count):
        if rate > 0:
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        pending.append(asyncio.ensure_future(one(n)))
    await asyncio.gather(*pending)
    await nc.close()


if __name__ == "__main__":
    url, instance_id, count, rate, sample = sys.argv[1:6]
    asyncio.run(main(url, instance_id, int(count), float(rate), float(sample)))
