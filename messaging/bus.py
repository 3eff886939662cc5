"""The NATS JetStream bus: connect with reconnect, one stream, acknowledged publishes, durable pull consumers.

Everything here runs on the runtime's event loop. Consumers are durable pull consumers, so a restarted
process resumes where the last one stopped; a handler acks what it has finished and naks what it could
not do, and JetStream redelivers anything neither acked nor naked after `ack_wait_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlparse

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError, NoServersError, OutboundBufferLimitError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from messaging.events import Event

log = logging.getLogger(__name__)

STREAM_SUBJECTS = ["message.>", "system.>"]
BatchHandler = Callable[[Sequence[Msg]], Awaitable[None]]


class BusUnavailable(Exception):
    """NATS is not reachable (or did not acknowledge in time): nothing was made durable."""


class Bus:
    def __init__(self, url: str, stream: str, durable_prefix: str, publish_timeout_s: float = 5.0) -> None:
        self.url = url
        self.stream = stream
        self.durable_prefix = durable_prefix
        self.publish_timeout_s = publish_timeout_s
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self._ready = asyncio.Event()
        self._closing = False

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected and self._ready.is_set()

    async def connect(self, *, retry_forever: bool = True) -> None:
        """Connect and ensure the stream. Without a server, log and retry with backoff (capped at 5 s)."""
        delay = 0.2
        while True:
            try:
                # nats-py retries an initial connect forever when reconnects are unlimited; probing the
                # socket first lets us say "unreachable" (and back off) instead of hanging silently.
                await self._probe()
                self.nc = await nats.connect(
                    self.url,
                    name="omni-hub",
                    connect_timeout=2,
                    reconnect_time_wait=0.5,
                    max_reconnect_attempts=-1,
                    ping_interval=5,
                    max_outstanding_pings=2,
                    disconnected_cb=self._on_disconnect,
                    reconnected_cb=self._on_reconnect,
                    error_cb=self._on_error,
                )
                break
            except (TimeoutError, NoServersError, OSError, NatsTimeoutError) as exc:
                if not retry_forever:
                    raise BusUnavailable(f"NATS at {self.url} is unreachable: {exc}") from exc
                log.warning("NATS at %s is unreachable (%s); retrying in %.1fs", self.url, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.js = self.nc.jetstream(timeout=self.publish_timeout_s)
        await self._ensure_stream()
        self._ready.set()
        log.info("connected to NATS at %s, stream %s", self.url, self.stream)

    async def _probe(self) -> None:
        parsed = urlparse(self.url)
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=2
        )
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    async def wait_ready(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout_s)
            return True
        except TimeoutError:
            return False

    async def _ensure_stream(self) -> None:
        assert self.js is not None
        config = StreamConfig(
            name=self.stream, subjects=STREAM_SUBJECTS, storage=StorageType.FILE, duplicate_window=120.0
        )
        try:
            await self.js.stream_info(self.stream)
            await self.js.update_stream(config)
        except NotFoundError:
            await self.js.add_stream(config)

    async def publish(self, subject: str, event: Event) -> int:
        """Publish and wait for JetStream's ack; returns the stream sequence.

        Raises BusUnavailable when NATS is down or does not acknowledge in time. The event id is the
        JetStream message id, so a retried publish of the same event is stored once.
        """
        if self.js is None or self.nc is None or not self.nc.is_connected:
            raise BusUnavailable(f"NATS at {self.url} is not connected")
        try:
            ack = await self.js.publish(
                subject, event.to_json(), timeout=self.publish_timeout_s, headers={"Nats-Msg-Id": event.id}
            )
        except (TimeoutError, NatsTimeoutError, ConnectionClosedError, OutboundBufferLimitError) as exc:
            raise BusUnavailable(f"NATS did not acknowledge {subject}: {exc!r}") from exc
        except nats.errors.Error as exc:
            raise BusUnavailable(f"NATS refused {subject}: {exc!r}") from exc
        return ack.seq

    async def publish_nowait(self, subject: str, event: Event) -> None:
        """Publish without waiting for JetStream's ack (telemetry). Logs instead of raising when down."""
        if self.nc is None or not self.nc.is_connected:
            log.warning("%s for %s not published: NATS is not connected", subject, event.metadata.correlation_id)
            return
        try:
            await self.nc.publish(subject, event.to_json(), headers={"Nats-Msg-Id": event.id})
        except nats.errors.Error as exc:
            log.warning("%s for %s not published: %r", subject, event.metadata.correlation_id, exc)

    async def consume(
        self,
        name: str,
        subject: str,
        handler: BatchHandler,
        *,
        stopping: asyncio.Event,
        batch: int = 100,
        ack_wait_s: float = 30.0,
        max_ack_pending: int = 10_000,
    ) -> None:
        """Fetch batches from the durable consumer `<prefix>-<name>` and hand them to `handler` until
        `stopping` is set. The handler acks or naks each message; a batch in hand is finished first."""
        durable = f"{self.durable_prefix}-{name}"
        psub = None
        while not stopping.is_set():
            try:
                if psub is None:
                    await self._ready.wait()
                    assert self.js is not None
                    psub = await self.js.pull_subscribe(
                        subject,
                        durable=durable,
                        stream=self.stream,
                        config=ConsumerConfig(
                            durable_name=durable,
                            ack_policy=AckPolicy.EXPLICIT,
                            deliver_policy=DeliverPolicy.ALL,
                            ack_wait=ack_wait_s,
                            max_ack_pending=max_ack_pending,
                            max_deliver=-1,
                        ),
                    )
                msgs = await psub.fetch(batch=batch, timeout=0.5)
            except (TimeoutError, NatsTimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection loss, consumer gone: back off and resubscribe
                log.warning("consumer %s: %r; resubscribing", durable, exc)
                psub = None
                await asyncio.sleep(0.5)
                continue
            if msgs:
                await handler(msgs)

    async def delete_stream(self) -> None:
        if self.js is not None:
            with contextlib.suppress(NotFoundError):
                await self.js.delete_stream(self.stream)

    async def close(self) -> None:
        """Flush what is in flight (acks included) and close. The consumers have stopped by now, so
        there is nothing for a subscription drain to wait for."""
        self._closing = True
        self._ready.clear()
        if self.nc is not None and not self.nc.is_closed:
            try:
                await self.nc.flush(timeout=2)
            except Exception as exc:  # already disconnected: nothing left to flush
                log.debug("flush on close: %r", exc)
            await self.nc.close()

    async def _on_disconnect(self) -> None:
        if self._closing:
            return  # our own close: nothing to reconnect, nothing to warn about
        log.warning("disconnected from NATS at %s; reconnecting", self.url)

    async def _on_reconnect(self) -> None:
        log.info("reconnected to NATS at %s", self.url)

    async def _on_error(self, exc: Exception) -> None:
        log.debug("NATS: %r", exc)
