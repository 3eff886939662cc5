"""A Discord Gateway client: one session over WebSocket, kept alive across drops.

Protocol (https://discord.com/developers/docs/events/gateway): the server says Hello (op 10) with a
heartbeat interval; we Identify (op 2) or, holding a session, Resume (op 6) with its id and the last
sequence number; we heartbeat (op 1) and expect an ACK (op 11) before the next one, else the connection
is a zombie and we close it and resume. Dispatches (op 0) carry a sequence number; READY gives the
session id, the session's resume URL and our own user. Reconnect (op 7) means resume now; Invalid
Session (op 9) means resume if `d` is true, else start over with a fresh Identify.

Between connection attempts the client backs off exponentially (with jitter); after a session that
was up, the first retry is almost immediate so a resume can replay what we missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from channels_plugins.discord import parsing
from channels_plugins.discord.parsing import GatewayPayload

log = logging.getLogger(__name__)

# Our own close code when we drop a connection to resume: 1000/1001 would end the session.
RESUMABLE_CLOSE = 4000
API_VERSION = "10"

DispatchHandler = Callable[[str, Any], None]


class GatewayFatal(Exception):
    """Reconnecting is futile (the token was refused, the intents are not allowed)."""


class GatewayProtocolError(Exception):
    """The server did not speak the Gateway protocol as expected."""


def gateway_endpoint(url: str) -> str:
    """The Gateway URL with the API version and encoding we speak (`?v=10&encoding=json`)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("v", API_VERSION)
    query.setdefault("encoding", "json")
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))


class GatewayClient:
    """Keeps one Gateway session alive and hands every dispatch to `on_dispatch(event_name, data)`.

    `on_dispatch` is called synchronously from the read loop (so it must not block); `resolve_url()`
    gives the Gateway URL for a fresh session. Run `run()` as a task; `close()` ends it.
    """

    backoff_s = 0.5
    max_backoff_s = 30.0
    hello_timeout_s = 10.0
    open_timeout_s = 10.0
    close_timeout_s = 2.0
    # Discord asks for a random 1-5 s wait after an Invalid Session before identifying again.
    invalid_session_delay_s = (1.0, 5.0)

    def __init__(
        self,
        token: str,
        *,
        intents: int,
        resolve_url: Callable[[], Awaitable[str]],
        on_dispatch: DispatchHandler,
        name: str = "discord",
    ) -> None:
        self.token = token
        self.intents = intents
        self.resolve_url = resolve_url
        self.on_dispatch = on_dispatch
        self.name = name
        self.session_id: str | None = None
        self.resume_url: str | None = None
        self.seq: int | None = None
        self.user_id: str | None = None
        self.ready = asyncio.Event()  # set while a session is up (READY or RESUMED seen on this socket)
        self.identifies = 0
        self.resumes = 0
        self.missed_acks = 0
        self.heartbeat_latency_ms: float | None = None
        self._gateway_url: str | None = None
        self._ws: ClientConnection | None = None
        self._closing = False
        self._acked = True
        self._beat_sent_at = 0.0
        self._established = False

    # --- lifecycle ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, and reconnect (resuming when possible) until `close()` or a fatal close code."""
        delay = self.backoff_s
        while not self._closing:
            self._established = False
            try:
                await self._connect_once()
            except GatewayFatal as exc:
                log.error("%s: gateway gave up: %s", self.name, exc)
                return
            except Exception as exc:  # any failure of one connection: back off and try again
                log.warning("%s: gateway connection failed: %r", self.name, exc)
                if not self._established:
                    self._gateway_url = None  # ask for the URL again next time
            if self._closing:
                return
            if self._established:
                delay = self.backoff_s
                wait_s = random.uniform(0, self.backoff_s)
            else:
                wait_s = delay * random.uniform(1.0, 1.25)
                delay = min(delay * 2, self.max_backoff_s)
            log.info("%s: reconnecting in %.2fs (%s)", self.name, wait_s, "resume" if self.can_resume else "identify")
            await asyncio.sleep(wait_s)

    async def close(self) -> None:
        """Close the socket with 1000 (which ends the session at Discord) and stop reconnecting."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "shutting down")

    @property
    def can_resume(self) -> bool:
        return self.session_id is not None and self.resume_url is not None

    def forget_session(self) -> None:
        self.session_id = self.resume_url = None
        self.seq = None

    # --- one connection ----------------------------------------------------------------------------

    async def _connect_once(self) -> None:
        resuming = self.can_resume
        url = self.resume_url if resuming else await self._fresh_url()
        assert url is not None
        async with connect(
            gateway_endpoint(url),
            open_timeout=self.open_timeout_s,
            close_timeout=self.close_timeout_s,
            ping_interval=None,  # the Gateway's own heartbeats keep the connection alive
            max_size=2**24,
        ) as ws:
            self._ws = ws
            beat: asyncio.Task | None = None
            try:
                hello = json.loads(await asyncio.wait_for(ws.recv(), self.hello_timeout_s))
                if not isinstance(hello, dict) or hello.get("op") != parsing.HELLO:
                    raise GatewayProtocolError(f"expected Hello, got {str(hello)[:200]}")
                interval_s = float(hello["d"]["heartbeat_interval"]) / 1000
                if resuming:
                    self.resumes += 1
                    await self._send(ws, parsing.resume(self.token, self.session_id or "", self.seq))
                else:
                    self.identifies += 1
                    await self._send(ws, parsing.identify(self.token, self.intents))
                self._acked = True
                beat = asyncio.get_running_loop().create_task(self._heartbeat(ws, interval_s))
                with contextlib.suppress(ConnectionClosed):
                    async for raw in ws:
                        await self._handle(ws, json.loads(raw))
            finally:
                self._ws = None
                self.ready.clear()
                if beat is not None:
                    beat.cancel()
        self._closed_with(ws.close_code, ws.close_reason)

    async def _fresh_url(self) -> str:
        if self._gateway_url is None:
            self._gateway_url = await self.resolve_url()
        return self._gateway_url

    def _closed_with(self, code: int | None, reason: str | None) -> None:
        if self._closing:
            return
        log.info("%s: gateway closed (%s %s)", self.name, code, reason or "")
        if code in parsing.FATAL_CLOSE_CODES:
            raise GatewayFatal(f"closed with {code} {reason or ''}".strip())
        if code in parsing.SESSION_ENDING_CLOSE_CODES:
            self.forget_session()

    async def _handle(self, ws: ClientConnection, payload: GatewayPayload) -> None:
        op = payload.get("op")
        if op == parsing.DISPATCH:
            if payload.get("s") is not None:
                self.seq = payload["s"]
            event, data = payload.get("t") or "", payload.get("d")
            if event == "READY":
                self.session_id = data["session_id"]
                self.resume_url = data.get("resume_gateway_url") or self._gateway_url
                self.user_id = str(data["user"]["id"])
                self._up()
            elif event == "RESUMED":
                self._up()
            try:
                self.on_dispatch(event, data)
            except Exception:
                log.exception("%s: handling %s failed", self.name, event)
        elif op == parsing.HEARTBEAT:  # the server asks for a heartbeat now
            await self._send(ws, parsing.heartbeat(self.seq))
        elif op == parsing.HEARTBEAT_ACK:
            self._acked = True
            self.heartbeat_latency_ms = (asyncio.get_running_loop().time() - self._beat_sent_at) * 1000
        elif op == parsing.RECONNECT:
            log.info("%s: the gateway asked us to reconnect", self.name)
            await ws.close(RESUMABLE_CLOSE, "reconnect requested")
        elif op == parsing.INVALID_SESSION:
            if not payload.get("d"):
                self.forget_session()
            log.info("%s: invalid session (resumable: %s)", self.name, bool(payload.get("d")))
            await asyncio.sleep(random.uniform(*self.invalid_session_delay_s))
            await ws.close(RESUMABLE_CLOSE, "invalid session")

    def _up(self) -> None:
        self._established = True
        self.ready.set()

    async def _heartbeat(self, ws: ClientConnection, interval_s: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(interval_s * random.random())  # jitter, as Discord asks
            while True:
                if not self._acked:
                    self.missed_acks += 1
                    log.warning("%s: heartbeat not acknowledged; reconnecting to resume", self.name)
                    await ws.close(RESUMABLE_CLOSE, "heartbeat not acknowledged")
                    return
                self._acked = False
                self._beat_sent_at = loop.time()
                await self._send(ws, parsing.heartbeat(self.seq))
                await asyncio.sleep(interval_s)
        except ConnectionClosed:
            return

    @staticmethod
    async def _send(ws: ClientConnection, payload: GatewayPayload) -> None:
        await ws.send(json.dumps(payload))
