"""The bus consumers: persistence of `message.received`, dispatch of `message.sent` to plugins."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.db import DatabaseError
from nats.aio.msg import Msg

from channels_plugins.base import OutboundMessage, PluginError
from channels_plugins.registry import UnknownChannel, get_plugin
from journeys.stages import NAME_TO_STAGE
from journeys.tracker import JourneyTracker, now_ms
from messaging.agents import notify_agent
from messaging.delivery import is_queued, mark_failed, mark_sent
from messaging.events import Event, EventMetadata
from messaging.instances import cached_instance_config, get_instance_config
from messaging.metrics import (
    DUPLICATES,
    MESSAGES_RECEIVED,
    MESSAGES_SENT,
    PLATFORM_SEND_FAILURES,
    REDELIVERIES,
)
from messaging.persistence import store_inbound_batch

if TYPE_CHECKING:
    from messaging.runtime import Runtime

log = logging.getLogger(__name__)


def merge_timings(tracker: JourneyTracker, metadata: EventMetadata) -> None:
    """Record the checkpoints an event carries (first value wins, so in one process this is a no-op;
    it rebuilds the journey when the event was published by another process or before a restart)."""
    for name, timestamp in (metadata.timings or {}).items():
        stage = NAME_TO_STAGE.get(name)
        if stage is not None:
            tracker.record_checkpoint(metadata.correlation_id, stage, name, timestamp)


@dataclass
class _Turn:
    """A message's place in its chat's queue of platform calls."""

    after: asyncio.Future | None  # the previous message's turn, if it is still in hand
    done: asyncio.Future

    async def wait(self) -> None:
        if self.after is not None:
            await asyncio.shield(self.after)  # a cancelled waiter must not cancel the turn it waits for

    def end(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


def _timed(metadata: EventMetadata) -> bool:
    return metadata.sampled and metadata.timings is not None


class PersistenceConsumer:
    """`message.received.>` -> Message rows (T3, T4) -> TriggerLogs (T5) -> agent notifications."""

    batch = 200

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.tracker = runtime.tracker

    async def run(self) -> None:
        await self.runtime.bus.consume(
            "persistence", "message.received.>", self.handle, stopping=self.runtime.stopping, batch=self.batch
        )

    async def handle(self, msgs: Sequence[Msg]) -> None:
        consumed_at = now_ms()  # T3: the handler's first statement
        events: list[Event] = []
        carriers: list[Msg] = []
        for msg in msgs:
            try:
                events.append(Event.from_json(msg.data))
                carriers.append(msg)
            except ValueError as exc:
                log.error("dropping a malformed message.received event: %s", exc)
                await msg.term()
        if not events:
            return
        try:
            result = await sync_to_async(store_inbound_batch, thread_sensitive=False)(events)
        except DatabaseError as exc:
            log.warning("database error storing %d message(s), will be redelivered: %s", len(events), exc)
            for msg in carriers:
                await msg.nak(delay=1)
            return
        for event, reason in result.rejected:
            log.error("rejecting event %s: %s", event.id, reason)
        tracker = self.tracker
        for msg in carriers:
            if msg.metadata.num_delivered > 1:
                REDELIVERIES.labels("persistence").inc()
        for item in result.stored:
            if item.created:
                MESSAGES_RECEIVED.labels(item.instance.channel_type).inc()
            else:
                DUPLICATES.inc()
            metadata = item.event.metadata
            cid = metadata.correlation_id
            timed = _timed(metadata)
            if item.created and timed:
                merge_timings(tracker, metadata)
                tracker.record_checkpoint(cid, "T3", "eventConsumedAt", consumed_at)
                tracker.record_checkpoint(cid, "T4", "dbStoredAt", result.stored_at)
                if not item.instance.has_agent:
                    tracker.complete(cid)
            if item.trigger_created and timed and (item.created or tracker.is_tracking(cid)):
                tracker.record_checkpoint(cid, "T5", "agentNotifiedAt", result.triggered_at)
        for msg in carriers:  # sequential: an ack is a buffered publish, a task each would cost more
            await msg.ack()
        for item in result.stored:
            if item.trigger_created:
                self.runtime.spawn(notify_agent(self.runtime, item))


class OutboundDispatcher:
    """`message.sent.<channel>.>` -> the instance's plugin (T10, T11), with retries for transient errors.

    Messages are dispatched as they arrive, not batch by batch: waiting for a batch's platform calls before
    fetching the next one made every reply wait for the previous replies' sends (T9->T10 took the platform's
    latency). Replies to one chat still reach the platform in order: each one's platform call (retries
    included) waits for the previous one's to end. Only that call is in turn; the lookups before it and the
    bookkeeping after it run alongside. At most `max_in_flight` messages are in hand; beyond that the
    consumer stops fetching.
    """

    batch = 50
    max_in_flight = 200
    max_attempts = 5
    backoff_s = 0.2
    max_delay_s = 30.0

    def __init__(self, runtime: Runtime, channel: str) -> None:
        self.runtime = runtime
        self.channel = channel
        self._slots: asyncio.Semaphore | None = None
        # Per chat, the turn of the last message handed out: the next one's platform call waits for it.
        self._last_turn: dict[tuple[str, str], asyncio.Future] = {}

    async def run(self) -> None:
        self._slots = asyncio.Semaphore(self.max_in_flight)
        await self.runtime.bus.consume(
            f"outbound-{self.channel}",
            f"message.sent.{self.channel}.>",
            self.handle,
            stopping=self.runtime.stopping,
            batch=self.batch,
            ack_wait_s=120,
        )

    async def handle(self, msgs: Sequence[Msg]) -> None:
        """Hand each message to a task of its own (the runtime's stop waits for them) and return."""
        assert self._slots is not None
        for msg in msgs:
            try:
                event = Event.from_json(msg.data)
                payload = event.payload
                outbound = OutboundMessage(
                    message_id=str(payload["messageId"]),
                    chat_id=str(payload["chatId"]),
                    text=str(payload.get("text", "")),
                    correlation_id=event.metadata.correlation_id,
                )
            except (ValueError, KeyError) as exc:
                log.error("dropping a malformed message.sent event: %r", exc)
                await msg.term()
                continue
            await self._slots.acquire()
            chat = (str(event.metadata.instance_id), outbound.chat_id)
            turn = _Turn(after=self._last_turn.get(chat), done=asyncio.get_running_loop().create_future())
            self._last_turn[chat] = turn.done
            task = self.runtime.spawn(self.dispatch(msg, event, outbound, turn))
            task.add_done_callback(lambda _task, chat=chat, turn=turn: self._finished(chat, turn))

    def _finished(self, chat: tuple[str, str], turn: _Turn) -> None:
        assert self._slots is not None
        self._slots.release()
        turn.end()  # a dispatch that never reached its platform call must not hold the chat
        if self._last_turn.get(chat) is turn.done:
            del self._last_turn[chat]

    async def dispatch(self, msg: Msg, event: Event, outbound: OutboundMessage, turn: _Turn) -> None:
        metadata = event.metadata
        # The cache first: a thread hop per reply for a lookup that is almost always cached showed in T9->T10.
        instance = cached_instance_config(metadata.instance_id or "") or await sync_to_async(
            get_instance_config, thread_sensitive=False
        )(metadata.instance_id or "")
        if instance is None:
            log.error("message.sent %s names unknown instance %r", event.id, metadata.instance_id)
            await msg.term()
            return
        if not await sync_to_async(is_queued, thread_sensitive=False)(instance.id, outbound.message_id):
            # A redelivery of a message already sent, or one whose send request was answered 503 although
            # its publish reached JetStream late: either way, sending it would reach the recipient twice.
            log.warning("outbound %s is no longer queued; not sending it", outbound.message_id)
            await msg.ack()
            return
        try:
            plugin = get_plugin(instance, self.runtime)
        except (UnknownChannel, ImportError) as exc:
            await self._fail(msg, instance.id, outbound, str(exc), 0)
            return
        if _timed(metadata):
            merge_timings(self.runtime.tracker, metadata)
        await turn.wait()
        try:
            outcome, detail, attempts = await self._send(plugin, instance.channel_type, outbound, metadata, msg)
        finally:
            turn.end()
        if outcome == "sent":
            MESSAGES_SENT.labels(self.channel, "sent").inc()
            await sync_to_async(mark_sent, thread_sensitive=False)(instance.id, outbound.message_id, detail, attempts)
            await msg.ack()
        elif outcome == "failed":
            await self._fail(msg, instance.id, outbound, detail, attempts)
        else:
            await msg.nak()  # stopping: redelivered to the next process

    async def _send(self, plugin, channel_type: str, outbound: OutboundMessage, metadata: EventMetadata, msg: Msg):
        """The platform call with its retries: ("sent", platform message id | "failed", reason | "stopping",
        None) and the attempts made."""
        attempts = 0
        while True:
            attempts += 1
            try:
                result = await plugin.deliver(outbound, metadata)
            except PluginError as exc:
                PLATFORM_SEND_FAILURES.labels(self.channel, "permanent" if exc.permanent else "transient").inc()
                if exc.permanent or attempts >= self.max_attempts:
                    kind = "permanent" if exc.permanent else f"gave up after {attempts} attempts"
                    return "failed", f"{kind}: {exc}", attempts
                delay = exc.retry_after_s if exc.retry_after_s is not None else self.backoff_s * 2 ** (attempts - 1)
            except Exception as exc:  # an unexpected plugin error is treated as transient
                PLATFORM_SEND_FAILURES.labels(self.channel, "transient").inc()
                log.exception("plugin %s failed sending %s", channel_type, outbound.message_id)
                if attempts >= self.max_attempts:
                    return "failed", f"gave up after {attempts} attempts: {exc!r}", attempts
                delay = self.backoff_s * 2 ** (attempts - 1)
            else:
                return "sent", result.platform_message_id, attempts
            if self.runtime.stopping.is_set():
                return "stopping", None, attempts
            await msg.in_progress()
            await asyncio.sleep(min(delay, self.max_delay_s))

    async def _fail(self, msg: Msg, instance_id: str, outbound: OutboundMessage, reason: str, attempts: int) -> None:
        log.warning("outbound %s failed: %s", outbound.message_id, reason)
        MESSAGES_SENT.labels(self.channel, "failed").inc()
        await sync_to_async(mark_failed, thread_sensitive=False)(instance_id, outbound.message_id, reason, attempts)
        self.runtime.tracker.abandon(outbound.correlation_id, f"platform send failed: {reason}")
        await msg.ack()
