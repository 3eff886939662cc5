"""The channel plugin contract: one inbound path (T0-T2) and one outbound `send` (T10-T11).

A plugin subclasses `BaseChannelPlugin`, parses its platform's payloads into `InboundMessage`s and
implements `send()` against its platform's API. Everything that measures the journey lives here, so
each platform's own code stays small:

Inbound, per message (`publish_inbound`): T1 is the time the webhook or gateway handler started,
captured by its first statement and passed in; the sampling decision is made once, here; T0 is the
platform's timestamp, normalised with its precision; T2 is stamped into `metadata.timings` just before
the event is handed to NATS, and the call returns only once JetStream has acknowledged it.

Outbound (`deliver`): T10 just before the platform call, T11 when the platform answered success.
A `PluginError(permanent=False)` is retried by the dispatcher with backoff (honouring
`retry_after_s`); a permanent one marks the outbound message failed with the platform's reason.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from journeys.tracker import get_journey_tracker, now_ms
from messaging.events import MESSAGE_RECEIVED, Event, EventMetadata, subject_for, with_timing

if TYPE_CHECKING:
    from messaging.instances import InstanceConfig
    from messaging.runtime import Runtime


class PluginError(Exception):
    """A failed platform call. `permanent` errors are not retried; `retry_after_s` paces a retry."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after_s = retry_after_s


# --- payload values, as every parser reads them ------------------------------------------------------
# A payload is untrusted JSON: a field may hold any type. These read ids and text the way the rest of
# the pipeline needs them: strings that orjson encodes and every database stores (PostgreSQL text holds
# no NUL), never `str()` of whatever arrived (a list, an object nested a thousand levels deep).


def id_text(value: Any) -> str | None:
    """A platform id (a string or an integer) as text; None for anything else or an empty id."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return plain_text(str(value)) or None


def plain_text(value: Any) -> str:
    """A string field as storable text (NUL removed, a lone surrogate replaced by "?"); "" for a non-string."""
    if not isinstance(value, str):
        return ""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate: json.loads lets "\\ud800" through, orjson refuses it
            value = value.encode(errors="replace").decode()
    return value


def as_list(value: Any) -> list[Any]:
    """A field that should hold an array: the list, or [] for anything else."""
    return value if isinstance(value, list) else []


def label(value: Any, default: str = "unknown") -> str:
    """A short string for a counter label (the kind of an ignored item): bounded, never arbitrary JSON."""
    return value if isinstance(value, str) and 0 < len(value) <= 64 and value.isprintable() else default


@dataclass(frozen=True)
class InboundMessage:
    """A platform message, normalised. `platform_timestamp_ms` is T0 (None when the platform gave none)."""

    external_id: str
    chat_id: str
    sender: str
    text: str
    platform_timestamp_ms: float | None
    precision_ms: float | None
    message_type: str = "text"
    extra: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {
            "externalId": self.external_id,
            "chatId": self.chat_id,
            "sender": self.sender,
            "text": self.text,
            "messageType": self.message_type,
            **({"extra": self.extra} if self.extra else {}),
        }


@dataclass(frozen=True)
class OutboundMessage:
    message_id: str
    chat_id: str
    text: str
    correlation_id: str


@dataclass(frozen=True)
class SendResult:
    platform_message_id: str | None = None


class BaseChannelPlugin:
    """One plugin object per channel instance. Subclasses set `channel_type`, `default_base_url`
    and implement `send`; a plugin with a long-lived connection (a gateway) overrides `start`/`stop`."""

    channel_type: ClassVar[str]
    default_base_url: ClassVar[str] = ""
    # T0's precision on this platform, for messages that do not say otherwise.
    timestamp_precision_ms: ClassVar[float] = 1000.0

    def __init__(self, instance: InstanceConfig, runtime: Runtime | None = None) -> None:
        self.instance = instance
        self.runtime = runtime

    @property
    def base_url(self) -> str:
        return (self.instance.base_url or self.default_base_url).rstrip("/")

    # --- inbound ---------------------------------------------------------------------------------

    async def publish_inbound(self, message: InboundMessage, received_at: float) -> Event:
        """Publish one inbound message as `message.received`; returns once it is durable in JetStream.

        `received_at` is T1, taken by the handler's first statement. Raises BusUnavailable when NATS
        is down (a webhook then answers 503 so the platform retries).
        """
        from messaging.runtime import require_runtime

        runtime = self.runtime or require_runtime()
        tracker = get_journey_tracker()
        sampled = tracker.should_sample()
        event_id = f"evt-{uuid.uuid4()}"
        metadata = EventMetadata(
            correlation_id=event_id,
            instance_id=self.instance.id,
            channel_type=self.channel_type,
            sampled=sampled,
            timings={"pluginReceivedAt": received_at} if sampled else None,
        )
        if sampled:
            tracker.record_checkpoint(event_id, "T1", "pluginReceivedAt", received_at)
            t0 = message.platform_timestamp_ms
            precision = message.precision_ms if message.precision_ms is not None else self.timestamp_precision_ms
            if t0 is not None:
                tracker.record_checkpoint(event_id, "T0", "platformReceivedAt", t0)
                metadata = with_timing(metadata, "platformReceivedAt", t0)
                metadata = replace(metadata, extra={"platformTimestampPrecisionMs": precision})
            tracker.set_context(
                event_id,
                instance_id=self.instance.id,
                channel_type=self.channel_type,
                chat_id=message.chat_id,
                has_agent=self.instance.has_agent,
                t0_precision_ms=precision if t0 is not None else None,
            )
        event = Event(MESSAGE_RECEIVED, message.payload(), metadata, id=event_id)
        if sampled:
            t2 = now_ms()
            event = replace(event, metadata=with_timing(metadata, "eventPublishedAt", t2))
            tracker.record_checkpoint(event_id, "T2", "eventPublishedAt", t2)
        await runtime.publish(subject_for(MESSAGE_RECEIVED, self.channel_type, self.instance.id), event)
        return event

    # --- outbound --------------------------------------------------------------------------------

    async def deliver(self, message: OutboundMessage, metadata: EventMetadata) -> SendResult:
        """Send one outbound message, recording T10 before the platform call and T11 on success."""
        tracker = get_journey_tracker() if metadata.sampled and metadata.timings is not None else None
        if tracker is not None:
            tracker.record_checkpoint(message.correlation_id, "T10", "pluginSentAt")
        result = await self.send(message)
        if tracker is not None:
            tracker.record_checkpoint(message.correlation_id, "T11", "platformDeliveredAt")
        return result

    async def send(self, message: OutboundMessage) -> SendResult:
        """Call the platform's send API. Raise PluginError on failure (permanent=True if retrying is futile)."""
        raise NotImplementedError

    # --- long-lived connections --------------------------------------------------------------------

    async def start(self) -> None:
        """Open a long-lived connection (e.g. a gateway) if the platform needs one."""

    async def stop(self) -> None:
        """Close it."""

    @property
    def http(self):
        """The runtime's shared httpx.AsyncClient (use it from the runtime loop)."""
        from messaging.runtime import require_runtime

        return (self.runtime or require_runtime()).http

    # --- delivery receipts (T12) -------------------------------------------------------------------

    # A receipt can overtake our own bookkeeping: the platform answered the send (T11) and already
    # reports delivery while the dispatcher has not stored the platform's message id yet.
    receipt_retry_delays_s: ClassVar[tuple[float, ...]] = (0.2, 0.5, 1.0, 2.0)

    async def record_delivery_receipt(self, platform_message_id: str, delivered_at_ms: float | None) -> bool:
        """Mark our outbound message with this platform id delivered and record T12 on its journey.

        Returns False when no outbound message of this instance carries that id yet; the receipt is
        then retried in the background for a few seconds (the webhook is answered at once).
        """
        if await self._apply_receipt(platform_message_id, delivered_at_ms):
            return True
        from messaging.runtime import get_runtime

        runtime = self.runtime or get_runtime()
        if runtime is not None and runtime.running:
            retry = self._retry_receipt(platform_message_id, delivered_at_ms)
            runtime.loop.call_soon_threadsafe(runtime.spawn, retry)
        return False

    async def _retry_receipt(self, platform_message_id: str, delivered_at_ms: float | None) -> None:
        for delay in self.receipt_retry_delays_s:
            await asyncio.sleep(delay)
            if await self._apply_receipt(platform_message_id, delivered_at_ms):
                return

    async def _apply_receipt(self, platform_message_id: str, delivered_at_ms: float | None) -> bool:
        from asgiref.sync import sync_to_async

        from messaging.delivery import mark_delivered

        correlation_id = await sync_to_async(mark_delivered, thread_sensitive=False)(
            self.instance.id, platform_message_id
        )
        if correlation_id is None:
            return False
        tracker = get_journey_tracker()
        if tracker.is_tracking(correlation_id):
            tracker.record_checkpoint(correlation_id, "T12", "recipientDeliveredAt", delivered_at_ms)
        return True
