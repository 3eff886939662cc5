"""A local Discord for tests and demos: the Gateway over WebSocket and the REST send API over HTTP.

The Gateway side says Hello, checks Identify's token (4004 otherwise), answers READY with a session,
a resume URL and the bot user, ACKs heartbeats, honours Resume by replaying what the session missed,
and emits MESSAGE_CREATE dispatches on demand (`emit`) with real ISO timestamps and snowflake ids. It
can drop connections, withhold heartbeat ACKs, ask for a reconnect or invalidate sessions, so that
resuming can be tested. The REST side answers `GET /api/v10/gateway/bot` and
`POST /api/v10/channels/{id}/messages` like Discord (401, 400, 403, 429 with `retry_after`, 5xx), with
configurable latency and failure rates, and echoes each accepted send back over the Gateway as our
bot's own MESSAGE_CREATE, as Discord does.

    python -m channels_plugins.discord.sandbox --port 8083 --gateway-port 8084 --token sandbox-token

From Python: `with DiscordSandbox(token=...) as sandbox:` then `sandbox.rest_url`, `sandbox.gateway_url`,
`sandbox.emit(3, channel_id="123")`, `sandbox.sent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import random
import re
import signal
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from channels_plugins.discord import parsing
from channels_plugins.sandbox_http import JsonHandler, ServerThread, cli_parser
from channels_plugins.timestamps import DISCORD_EPOCH_MS

T = TypeVar("T")
MAX_CONTENT = 2000
MAX_SESSIONS = 32
BACKLOG = 1000


def iso_timestamp(ms: int) -> str:
    """Discord's timestamp format: `2024-05-01T12:00:00.123000+00:00`."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="microseconds")


@dataclass
class _Session:
    id: str
    intents: int
    seq: int = 0
    backlog: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=BACKLOG))
    conn: ServerConnection | None = None


@dataclass(frozen=True)
class RestCall:
    method: str
    path: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    at: float  # time.monotonic() of the answer


class DiscordSandbox:
    """A Discord Gateway and REST API on loopback, on a background thread with its own asyncio loop."""

    def __init__(
        self,
        *,
        token: str = "sandbox-token",  # noqa: S107  (the sandbox's own made-up bot token)
        host: str = "127.0.0.1",
        port: int = 0,
        gateway_port: int = 0,
        latency_ms: float = 0.0,
        gateway_latency_ms: float = 0.0,
        failure_rate: float = 0.0,
        rate_limit_rate: float = 0.0,
        retry_after_s: float = 0.05,
        heartbeat_interval_ms: int = 41_250,
        bot_user_id: str | None = None,
        echo_sends: bool = True,
        seed: int | None = None,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.gateway_port = gateway_port
        self.latency_ms = latency_ms
        self.gateway_latency_ms = gateway_latency_ms
        self.failure_rate = failure_rate
        self.rate_limit_rate = rate_limit_rate
        self.retry_after_s = retry_after_s
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.echo_sends = echo_sends
        self._increment = itertools.count()
        self.bot_user_id = bot_user_id or self.snowflake()
        self.forbidden_channels: set[str] = set()
        # What happened, for tests (appended from the loop and the HTTP threads).
        self.sent: list[dict[str, Any]] = []  # messages accepted by POST /channels/{id}/messages
        self.calls: list[RestCall] = []  # every REST request, refused ones included
        self.emitted: list[dict[str, Any]] = []  # MESSAGE_CREATE payloads dispatched (echoes included)
        self.identifies: list[dict[str, Any]] = []  # Identify `d`s, token left out
        self.resumes: list[dict[str, Any]] = []  # Resume `d`s, token left out
        self.received_ops: list[int] = []
        self.heartbeats = 0
        self.connections = 0
        self.replayed = 0  # dispatches sent again on Resume
        self._random = random.Random(seed)
        self._failures: deque[tuple[int, float | None]] = deque()
        self._withheld_acks = 0
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._nonces: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ws_server: Server | None = None
        self._http: ServerThread | None = None

    # --- lifecycle ----------------------------------------------------------------------------------

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.gateway_port}"

    def start(self) -> DiscordSandbox:
        """Bind both servers (port 0: a free one) and serve them on background threads."""
        self._http = ServerThread(self.host, self.port, _rest_handler(self), name="discord-sandbox-rest")
        self.port = self._http.port
        self._http.start()
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run_loop, args=(started,), name="discord-sandbox-gateway", daemon=True
        )
        self._thread.start()
        started.wait(10)
        self._call(self._start_gateway())
        return self

    def _run_loop(self, started: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(started.set)
        self._loop.run_forever()

    async def _start_gateway(self) -> None:
        self._ws_server = await serve(self._serve_gateway, self.host, self.gateway_port, ping_interval=None)
        self.gateway_port = next(iter(self._ws_server.sockets)).getsockname()[1]

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            with contextlib.suppress(Exception):
                self._call(self._stop_gateway())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
            self._loop = self._thread = None
        if self._http is not None:
            self._http.stop()
            self._http = None

    async def _stop_gateway(self) -> None:
        if self._ws_server is not None:
            self._ws_server.close()  # 1001 going away
            await asyncio.wait_for(self._ws_server.wait_closed(), 5)

    def __enter__(self) -> DiscordSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 10.0) -> T:
        assert self._loop is not None, "the sandbox is not started"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    # --- what tests and demos drive --------------------------------------------------------------------

    def snowflake(self, ms: int | None = None) -> str:
        """A Discord id created at `ms` (default now): timestamp, worker 1, process 0, an increment."""
        ms = int(time.time() * 1000) if ms is None else ms
        return str(((ms - DISCORD_EPOCH_MS) << 22) | (1 << 17) | (next(self._increment) % 4096))

    def message(
        self,
        channel_id: str,
        content: str,
        *,
        author_id: str = "80351110224678912",
        username: str = "sandbox-user",
        bot: bool = False,
        guild_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE `d` created now, its timestamp and snowflake id from the same instant."""
        ms = int(time.time() * 1000)
        author: dict[str, Any] = {"id": author_id, "username": username, "discriminator": "0", "global_name": None}
        if bot:
            author["bot"] = True
        data: dict[str, Any] = {
            "id": self.snowflake(ms),
            "channel_id": channel_id,
            "author": author,
            "content": content,
            "timestamp": iso_timestamp(ms),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
        }
        if guild_id is not None:
            data["guild_id"] = guild_id
        data.update(fields)
        return data

    def emit(
        self, n: int = 1, channel_id: str = "1100000000000000001", content: str = "hello {i}", **fields: Any
    ) -> list[dict[str, Any]]:
        """Dispatch `n` MESSAGE_CREATEs (`content` may use `{i}`) to every session; returns them.

        A session whose socket is down gets them on Resume, as on Discord.
        """
        messages = [self.message(channel_id, content.format(i=i), **fields) for i in range(n)]
        self._call(self._broadcast(messages))
        return messages

    def emit_raw(self, data: dict[str, Any]) -> None:
        """Dispatch one MESSAGE_CREATE `d` as given."""
        self._call(self._broadcast([data]))

    def fail_next(self, status: int, times: int = 1, retry_after_s: float | None = None) -> None:
        """Answer the next `times` sends with `status` (429: with `retry_after`)."""
        with self._lock:
            self._failures.extend([(status, retry_after_s)] * times)

    def withhold_acks(self, n: int = 1) -> None:
        """Leave the next `n` heartbeats unacknowledged (a zombie connection, to the client)."""
        self._call(self._set_withheld(n))

    def drop_connections(self, *, expire_sessions: bool = False) -> int:
        """Cut every live socket without a close frame; returns how many.

        The sessions stay resumable unless `expire_sessions` (a Resume then gets Invalid Session).
        """
        return self._call(self._drop(expire_sessions))

    def emit_while_dropped(self, n: int = 1, channel_id: str = "1100000000000000001", content: str = "hello {i}",
                           **fields: Any) -> list[dict[str, Any]]:  # fmt: skip
        """Cut every live socket and, before any client can be back, emit `n` messages: only a
        Resume (which replays the session's backlog) delivers them."""
        messages = [self.message(channel_id, content.format(i=i), **fields) for i in range(n)]
        self._call(self._drop_and_broadcast(messages))
        return messages

    def request_reconnect(self) -> None:
        """Send Reconnect (op 7) on every live socket."""
        self._call(self._to_live({"op": parsing.RECONNECT, "d": None, "s": None, "t": None}))

    def invalidate_sessions(self, resumable: bool = False) -> None:
        """Send Invalid Session (op 9); unless `resumable`, the sessions are gone."""
        self._call(self._invalidate(resumable))

    @property
    def live_sessions(self) -> int:
        """Sessions with a socket up (identified or resumed)."""
        return sum(1 for s in list(self._sessions.values()) if s.conn is not None)

    # --- the Gateway ----------------------------------------------------------------------------------

    async def _serve_gateway(self, ws: ServerConnection) -> None:
        self.connections += 1
        session: _Session | None = None
        try:
            await self._send(ws, {"op": parsing.HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for raw in ws:
                try:
                    payload = json.loads(raw)
                    op, data = payload["op"], payload.get("d")
                except (ValueError, TypeError, KeyError):
                    await ws.close(4002, "Error while decoding payload.")
                    return
                self.received_ops.append(op)
                if op == parsing.HEARTBEAT:
                    self.heartbeats += 1
                    if self._withheld_acks > 0:
                        self._withheld_acks -= 1
                    else:
                        await self._send(ws, {"op": parsing.HEARTBEAT_ACK})
                elif op == parsing.IDENTIFY:
                    session = await self._identify(ws, session, data)
                elif op == parsing.RESUME:
                    session = await self._resume(ws, session, data)
                elif session is None:
                    await ws.close(4003, "Not authenticated.")
                elif op not in (3, 4, 8, 31):
                    await ws.close(4001, "Unknown opcode.")
        except ConnectionClosed:
            pass
        finally:
            if session is not None and session.conn is ws:
                session.conn = None
                # A client closing with 1000/1001 ends its session, as on Discord.
                rcvd = ws.protocol.close_rcvd
                if rcvd is not None and rcvd.code in (1000, 1001):
                    self._sessions.pop(session.id, None)

    async def _identify(self, ws: ServerConnection, session: _Session | None, data: Any) -> _Session | None:
        if session is not None:
            await ws.close(4005, "Already authenticated.")
            return session
        if not isinstance(data, dict) or data.get("token") != self.token:
            self.identifies.append({k: v for k, v in (data or {}).items() if k != "token"} | {"refused": True})
            await ws.close(4004, "Authentication failed.")
            return None
        self.identifies.append({k: v for k, v in data.items() if k != "token"})
        session = _Session(id=uuid.uuid4().hex, intents=int(data.get("intents") or 0))
        self._sessions[session.id] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        session.conn = ws
        ready = {
            "v": 10,
            "user": {"id": self.bot_user_id, "username": "omni-sandbox-bot", "discriminator": "0", "bot": True},
            "guilds": [],
            "session_id": session.id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.bot_user_id, "flags": 0},
        }
        await self._dispatch(session, "READY", ready)
        return session

    async def _resume(self, ws: ServerConnection, session: _Session | None, data: Any) -> _Session | None:
        if not isinstance(data, dict) or data.get("token") != self.token:
            await ws.close(4004, "Authentication failed.")
            return None
        self.resumes.append({k: v for k, v in data.items() if k != "token"})
        found = self._sessions.get(str(data.get("session_id")))
        if session is not None or found is None:
            await self._send(ws, {"op": parsing.INVALID_SESSION, "d": False})
            return session
        seq = data.get("seq") or 0
        if not isinstance(seq, int) or seq > found.seq:
            await ws.close(4007, "Invalid seq.")
            return None
        old, found.conn = found.conn, None
        if old is not None and old is not ws:
            old.transport.abort()
        # Replay until caught up; new dispatches meanwhile only land in the backlog, so attach after.
        while missed := [raw for s, raw in list(found.backlog) if s > seq]:
            for raw in missed:
                await ws.send(raw)
                self.replayed += 1
            seq = max(s for s, _raw in found.backlog)
        found.conn = ws
        await self._dispatch(found, "RESUMED", {})
        return found

    async def _dispatch(self, session: _Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        raw = json.dumps({"op": parsing.DISPATCH, "t": event, "s": session.seq, "d": data})
        session.backlog.append((session.seq, raw))
        if session.conn is not None:
            with contextlib.suppress(ConnectionClosed):
                await session.conn.send(raw)

    async def _broadcast(self, messages: list[dict[str, Any]]) -> None:
        if self.gateway_latency_ms:
            await asyncio.sleep(self.gateway_latency_ms / 1000)
        for data in messages:
            self.emitted.append(data)
            for session in list(self._sessions.values()):
                visible = _as_seen_by(session.intents, data)
                if visible is not None:
                    await self._dispatch(session, "MESSAGE_CREATE", visible)

    async def _send(self, ws: ServerConnection, payload: dict[str, Any]) -> None:
        await ws.send(json.dumps({"s": None, "t": None, **payload}))

    async def _set_withheld(self, n: int) -> None:
        self._withheld_acks = n

    async def _drop(self, expire_sessions: bool = False) -> int:
        live = [s for s in self._sessions.values() if s.conn is not None]
        for session in live:
            assert session.conn is not None
            session.conn.transport.abort()
            session.conn = None
        if expire_sessions:
            self._sessions.clear()
        return len(live)

    async def _drop_and_broadcast(self, messages: list[dict[str, Any]]) -> None:
        # No await between the drop and the dispatches: no client can reconnect in between.
        await self._drop()
        await self._broadcast(messages)

    async def _to_live(self, payload: dict[str, Any]) -> None:
        for session in list(self._sessions.values()):
            if session.conn is not None:
                with contextlib.suppress(ConnectionClosed):
                    await self._send(session.conn, payload)

    async def _invalidate(self, resumable: bool) -> None:
        await self._to_live({"op": parsing.INVALID_SESSION, "d": resumable})
        if not resumable:
            self._sessions.clear()

    # --- REST -------------------------------------------------------------------------------------------

    def rest(self, method: str, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any, dict]:
        """Answer one REST request like Discord: (status, JSON body, extra headers)."""
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        status, answer, extra = self._route(method, path, headers, body)
        self.calls.append(RestCall(method, path, status, body, headers, time.monotonic()))
        return status, answer, extra

    def _route(self, method: str, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any, dict]:
        match = re.fullmatch(r"/api/v\d+(/.*)", urlsplit(path).path)
        route = match.group(1).rstrip("/") if match else ""
        if method == "GET" and route == "/gateway":
            return 200, {"url": self.gateway_url}, {}
        if headers.get("authorization") != f"Bot {self.token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        if method == "GET" and route == "/gateway/bot":
            limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
            return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}, {}
        send = re.fullmatch(r"/channels/([^/]+)/messages", route)
        if method == "POST" and send:
            return self._create_message(send.group(1), body)
        return 404, {"message": "404: Not Found", "code": 0}, {}

    def _create_message(self, channel_id: str, body: dict[str, Any]) -> tuple[int, Any, dict]:
        with self._lock:
            forced = self._failures.popleft() if self._failures else None
        roll = self._random.random()
        if forced is not None:
            status, retry_after_s = forced
        elif roll < self.rate_limit_rate:
            status, retry_after_s = 429, None
        elif roll < self.rate_limit_rate + self.failure_rate:
            status, retry_after_s = 500, None
        else:
            status, retry_after_s = 200, None
        if status == 429:
            wait_s = self.retry_after_s if retry_after_s is None else retry_after_s
            headers = {"Retry-After": str(math.ceil(wait_s)), "X-RateLimit-Scope": "user"}
            return 429, {"message": "You are being rate limited.", "retry_after": wait_s, "global": False}, headers
        if status == 403 or channel_id in self.forbidden_channels:
            return 403, {"message": "Missing Access", "code": 50001}, {}
        if status == 404:
            return 404, {"message": "Unknown Channel", "code": 10003}, {}
        if status >= 500:
            return status, {"message": f"{status}: Internal Server Error", "code": 0}, {}
        if status >= 400:
            return status, {"message": "Invalid Form Body", "code": 50035}, {}
        content = body.get("content")
        if not isinstance(content, str) or not content:
            return 400, {"message": "Cannot send an empty message", "code": 50006}, {}
        if len(content) > MAX_CONTENT:
            errors = {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer"}]}}
            return 400, {"message": "Invalid Form Body", "code": 50035, "errors": errors}, {}
        nonce = body.get("nonce")
        with self._lock:
            if body.get("enforce_nonce") and nonce in self._nonces:
                return 200, self._nonces[nonce], {}
            message = self.message(
                channel_id, content, author_id=self.bot_user_id, username="omni-sandbox-bot", bot=True
            )
            if nonce is not None:
                message["nonce"] = nonce
                self._nonces[nonce] = message
            self.sent.append(message)
        if self.echo_sends and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._broadcast([message]), self._loop)
        return 200, message, {}


def _as_seen_by(intents: int, data: dict[str, Any]) -> dict[str, Any] | None:
    """What a session with these intents receives of a message: nothing, or without content."""
    in_guild = bool(data.get("guild_id"))
    if not intents & (parsing.GUILD_MESSAGES if in_guild else parsing.DIRECT_MESSAGES):
        return None
    if in_guild and not intents & parsing.MESSAGE_CONTENT:
        return {**data, "content": ""}
    return data


def _rest_handler(sandbox: DiscordSandbox) -> type[JsonHandler]:
    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects of an API

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            raw = self.read_body()
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = None
            if not isinstance(body, dict):
                status, answer, extra = 400, {"message": "400: Bad Request", "code": 50109}, {}
            else:
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer, extra = sandbox.rest(method, self.path, headers, body)
            self.send_json(status, answer, extra)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = cli_parser(__doc__, port=8083, port_help="REST port (0: a free one)")
    parser.add_argument("--gateway-port", type=int, default=None, help="Gateway port (default: --port + 1)")
    parser.add_argument("--token", default="sandbox-token", help="the bot token Identify must carry")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every REST answer")
    parser.add_argument("--gateway-latency-ms", type=float, default=0.0, help="between a message and its dispatch")
    parser.add_argument("--failure-rate", type=float, default=0.0, help="share of sends answered 500")
    parser.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of sends answered 429")
    parser.add_argument("--retry-after-s", type=float, default=0.05, help="retry_after of a 429")
    parser.add_argument("--heartbeat-interval-ms", type=int, default=41_250)
    parser.add_argument("--emit-every-ms", type=float, default=0.0, help="emit a message this often (0: never)")
    parser.add_argument("--channel-id", default="1100000000000000001", help="channel of emitted messages")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    gateway_port = args.gateway_port if args.gateway_port is not None else (args.port + 1 if args.port else 0)
    sandbox = DiscordSandbox(
        token=args.token,
        host=args.host,
        port=args.port,
        gateway_port=gateway_port,
        latency_ms=args.latency_ms,
        gateway_latency_ms=args.gateway_latency_ms,
        failure_rate=args.failure_rate,
        rate_limit_rate=args.rate_limit_rate,
        retry_after_s=args.retry_after_s,
        heartbeat_interval_ms=args.heartbeat_interval_ms,
        seed=args.seed,
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with sandbox:
        print(f"Discord sandbox: REST {sandbox.rest_url}  Gateway {sandbox.gateway_url}", flush=True)
        print(f"instance: baseUrl={sandbox.rest_url} token={sandbox.token} config.gatewayUrl={sandbox.gateway_url}"
              f" (bot user {sandbox.bot_user_id})", flush=True)  # fmt: skip
        n = 0
        while not done.wait(args.emit_every_ms / 1000 if args.emit_every_ms else 3600):
            if args.emit_every_ms and sandbox.live_sessions:
                sandbox.emit(1, channel_id=args.channel_id, content=f"sandbox message {n}")
                n += 1
        print(f"sent {len(sandbox.sent)}, emitted {len(sandbox.emitted)}", flush=True)


if __name__ == "__main__":
    main()
