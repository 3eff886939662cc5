"""`system.journey.complete` from NATS into the channel layer's group of open dashboards.

One subscription per serving process, opened when its first dashboard connects and closed when its last one
leaves, so a process nobody watches costs nothing. The row is rendered once here, not once per viewer.

With the in-memory layer every process forwards to its own viewers. With a shared layer (Redis) the processes
subscribe as one NATS queue group: each journey is forwarded by exactly one of them, and the layer fans it
out to the viewers of all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nats
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from journeys.dashboard.presenters import render_journey_row
from messaging.events import JOURNEY_COMPLETE, Event

log = logging.getLogger(__name__)

GROUP = "journeys.live"
MESSAGE_TYPE = "journey.complete"  # -> JourneyFeedConsumer.journey_complete
RETRY_S = 2.0


class JourneyFeed:
    def __init__(self, nats_url: str) -> None:
        self.nats_url = nats_url
        self.viewers = 0
        self.forwarded = 0
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self.subscribed = asyncio.Event()  # set while the NATS subscription is open

    async def acquire(self) -> None:
        self.viewers += 1
        if self._task is None or self._task.done():
            self._stop = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="journey-dashboard-feed")

    async def release(self) -> None:
        self.viewers = max(0, self.viewers - 1)
        if self.viewers == 0 and self._task is not None:
            self._stop.set()
            task, self._task = self._task, None
            await asyncio.wait({task}, timeout=5)

    async def _run(self) -> None:
        layer = get_channel_layer()
        # A shared layer fans out to every process's viewers: one forwarder per journey is enough.
        queue = "" if isinstance(layer, InMemoryChannelLayer) else f"{settings.NATS['DURABLE_PREFIX']}-dashboard"

        async def forward(msg) -> None:
            try:
                event = Event.from_json(msg.data)
                journey = dict(event.payload)
                message = {"type": MESSAGE_TYPE, "journey": journey, "html": render_journey_row(journey)}
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("dashboard feed: skipped a malformed %s event: %r", JOURNEY_COMPLETE, exc)
                return
            await layer.group_send(GROUP, message)
            self.forwarded += 1

        while not self._stop.is_set():
            nc = None
            try:
                nc = await nats.connect(self.nats_url, name="omni-dashboard-feed", connect_timeout=2,
                                        max_reconnect_attempts=-1, reconnect_time_wait=RETRY_S)  # fmt: skip
                await nc.subscribe(JOURNEY_COMPLETE, queue=queue, cb=forward)
                self.subscribed.set()
                await self._stop.wait()
            except Exception as exc:  # NATS down at start: the pages still work; keep trying
                log.warning("dashboard feed: NATS %s unavailable (%r); retrying in %.0f s", self.nats_url, exc, RETRY_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), RETRY_S)
            finally:
                self.subscribed.clear()
                if nc is not None and not nc.is_closed:
                    await nc.close()


_feeds: dict[asyncio.AbstractEventLoop, JourneyFeed] = {}


def feed() -> JourneyFeed:
    """This event loop's feed (a serving process has one loop; tests may run several in turn)."""
    loop = asyncio.get_running_loop()
    for other in [other for other in _feeds if other.is_closed()]:
        del _feeds[other]
    if loop not in _feeds:
        _feeds[loop] = JourneyFeed(settings.NATS["URL"])
    return _feeds[loop]
