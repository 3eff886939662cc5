"""Real processes for the fault tests and the load benchmark (bench/load.py).

- `ServerDatabase`: the served process's own database, apart from the test suite's: a SQLite file, or a
  fresh PostgreSQL database `omni_fault_<hex>` on the server DATABASE_URL names (dropped by `close()`).
  The tests read it directly (`count_inbound`, `query`) instead of trusting the server's own answers.
- `ServeProcess`: `manage.py serve` as a subprocess with its own env (DATABASE_URL, NATS_URL, OMNI_API_KEY,
  SECRET_KEY, DEBUG=false, NATS_DURABLE_PREFIX), which a test may SIGKILL, SIGTERM and start again.
- `WebhookStream`: Telegram Updates POSTed to a webhook from a background thread, N at a time, optionally
  paced, every answer recorded, so the calling thread can break things meanwhile.

Everything is on 127.0.0.1, and every wait is bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import httpx

from tests.nats_server import NatsServer, free_port

ROOT = Path(__file__).resolve().parent.parent.parent
API_KEY = "fault-api-key-0123456789"
SECRET_KEY = "fault-secret-key-" + "x" * 40
TG_SECRET = "tg-fault-secret"
TG_TOKEN = "123456:fault-token"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def wait_until(predicate: Callable[[], Any], timeout_s: float, interval_s: float = 0.1, what: str = "condition"):
    """Poll `predicate()` until it returns something truthy; return it, or raise after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s}s")
        time.sleep(interval_s)


# --- the served process's database ------------------------------------------------------------------


def postgres_base_url() -> str | None:
    """The PostgreSQL server DATABASE_URL points to, or None (SQLite)."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://", "pgsql://")) else None


class ServerDatabase:
    """The served process's own database. `url` is its DATABASE_URL; `connect()` a DB-API connection
    in autocommit mode; SQL passed to `query`/`execute` uses `%s` placeholders on both engines."""

    def __init__(self, directory: Path, postgres_url: str | None = None, prefix: str = "omni_fault") -> None:
        self.postgres_url = postgres_url
        if postgres_url:
            parsed = urlparse(postgres_url)
            self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
            self._params = {
                "host": parsed.hostname or "127.0.0.1",
                "port": parsed.port or 5432,
                "user": unquote(parsed.username or "postgres"),
                **({"password": unquote(parsed.password)} if parsed.password else {}),
            }
            with self.admin() as admin:
                admin.execute(f'CREATE DATABASE "{self.name}"')
            netloc = parsed.netloc
            self.url = f"postgres://{netloc}/{self.name}"
            self.vendor = "postgresql"
        else:
            self.path = Path(directory) / "serve.sqlite3"
            self.name = str(self.path)
            self.url = f"sqlite:///{self.path}"
            self.vendor = "sqlite"

    def admin(self):
        """A connection to the PostgreSQL maintenance database (autocommit), for CREATE/ALTER DATABASE."""
        import psycopg

        return psycopg.connect(dbname="postgres", autocommit=True, **self._params)

    def connect(self):
        if self.vendor == "postgresql":
            import psycopg

            return psycopg.connect(dbname=self.name, autocommit=True, **self._params)
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with contextlib.closing(self.connect()) as conn:
            if self.vendor == "sqlite":
                sql = sql.replace("%s", "?")
            return list(conn.execute(sql, params).fetchall())

    def uuid_value(self, value: str) -> str:
        """A UUID as the engine stores it (SQLite: 32 hex digits, PostgreSQL: the uuid type)."""
        return uuid.UUID(value).hex if self.vendor == "sqlite" else str(uuid.UUID(value))

    def count_inbound(self, instance_id: str) -> dict[str, int]:
        """Stored inbound rows of an instance, by external id (a value above 1 is a duplicate)."""
        rows = self.query(
            "SELECT external_id, COUNT(*) FROM messaging_message WHERE direction = 'inbound' AND instance_id = %s "
            "GROUP BY external_id",
            [self.uuid_value(instance_id)],
        )
        return {external_id: count for external_id, count in rows}

    def correlation_ids(self, instance_id: str) -> dict[str, str]:
        """Inbound messages of an instance: external id -> correlation id."""
        rows = self.query(
            "SELECT external_id, correlation_id FROM messaging_message WHERE direction = 'inbound' "
            "AND instance_id = %s",
            [self.uuid_value(instance_id)],
        )
        return dict(rows)

    def message(self, external_id: str, direction: str = "inbound") -> dict[str, Any] | None:
        rows = self.query(
            "SELECT correlation_id, status, error, attempts, platform_message_id FROM messaging_message "
            "WHERE external_id = %s AND direction = %s",
            [external_id, direction],
        )
        if not rows:
            return None
        cid, status, error, attempts, platform_id = rows[0]
        return {"correlationId": cid, "status": status, "error": error, "attempts": attempts, "platformId": platform_id}

    def trigger(self, correlation_id: str) -> dict[str, Any] | None:
        rows = self.query(
            "SELECT status, attempts, error FROM messaging_triggerlog WHERE correlation_id = %s", [correlation_id]
        )
        if not rows:
            return None
        status, attempts, error = rows[0]
        return {"status": status, "attempts": attempts, "error": error}

    def close(self) -> None:
        if self.vendor == "postgresql":
            with self.admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# --- manage.py serve ------------------------------------------------------------------------------------


class ServeProcess:
    """`manage.py serve` on a free loopback port. `start()` waits until health answers 200 (database and
    NATS up); `kill()` is SIGKILL, `terminate()` SIGTERM (drain) returning the exit status. Restartable:
    the same port, database, NATS and durable prefix."""

    def __init__(
        self,
        db: ServerDatabase,
        nats_url: str,
        log_path: Path,
        *,
        durable_prefix: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.db = db
        self.port = free_port()
        self.log_path = Path(log_path)
        self.env = dict(os.environ)
        self.env.update(
            DATABASE_URL=db.url,
            NATS_URL=nats_url,
            OMNI_API_KEY=API_KEY,
            SECRET_KEY=SECRET_KEY,
            DEBUG="false",
            NATS_DURABLE_PREFIX=durable_prefix or f"fault-{uuid.uuid4().hex[:8]}",
            LOG_LEVEL="WARNING",
            **(extra_env or {}),
        )
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._migrated = False
        # One client for every call: building an httpx client (its TLS context) costs tens of milliseconds.
        self.http = httpx.Client(base_url=self.url, headers={"X-API-Key": API_KEY}, timeout=15)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=self.env, check=True, timeout=120
        )
        self._migrated = True

    def start(self, timeout_s: float = 30.0) -> ServeProcess:
        if not self._migrated:
            self.migrate()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed when the process ends)
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.wait_healthy(timeout_s)
        return self

    def health(self) -> dict[str, Any] | None:
        try:
            response = self.http.get("/api/v2/health", timeout=2)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code in (200, 503) else None

    def wait_healthy(self, timeout_s: float = 30.0) -> None:
        def healthy() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            health = self.health()
            return bool(health and health["status"] == "ok")

        wait_until(healthy, timeout_s, what="serve healthy")

    def wait_nats(self, connected: bool, timeout_s: float = 20.0) -> None:
        def state() -> bool:
            health = self.health()
            return health is not None and health["nats"]["ok"] is connected

        wait_until(state, timeout_s, interval_s=0.05, what=f"NATS connected={connected}")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self._ended()

    def terminate(self, timeout_s: float = 40.0) -> int:
        """SIGTERM and wait for the exit; returns its status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout_s)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self._ended()
        return code

    def _ended(self) -> None:
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """End the process if it still runs (fixture teardown): SIGTERM, then SIGKILL."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.terminate(timeout_s=20)
        if self.proc is not None:
            self.kill()
        self.http.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def rss_kb(self) -> int:
        """The server's resident memory (VmRSS), in kB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    # --- the API --------------------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, f"/api/v2/{path}", **kwargs)

    def create_instance(self, name: str, **fields: Any) -> str:
        """A Telegram instance (TG_TOKEN, TG_SECRET unless given), through POST /api/v2/instances; its id."""
        body = {"name": name, "channelType": "telegram", "token": TG_TOKEN, "webhookSecret": TG_SECRET, **fields}
        response = self.api("POST", "instances", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def journey(self, correlation_id: str) -> dict[str, Any] | None:
        response = self.api("GET", f"journeys/{correlation_id}")
        return response.json() if response.status_code == 200 else None

    def journeys(self, instance_id: str) -> dict[str, dict[str, Any]]:
        """The newest 1,000 journeys of an instance (GET /api/v2/journeys), by correlation id."""
        response = self.api("GET", "journeys", params={"instanceId": instance_id, "limit": 1000})
        assert response.status_code == 200, response.text
        return {journey["correlationId"]: journey for journey in response.json()["results"]}

    def journey_when(self, correlation_id: str, condition: Callable[[dict], bool], timeout_s: float = 20.0) -> dict:
        def check():
            journey = self.journey(correlation_id)
            return journey if journey and condition(journey) else None

        return wait_until(check, timeout_s, what=f"journey {correlation_id}")

    def send(self, instance_id: str, to: str, text: str = "hi", **extra: Any) -> str:
        """POST /api/v2/messages/send; returns the outbound message id."""
        response = self.api("POST", "messages/send", json={"instanceId": instance_id, "to": to, "text": text, **extra})
        assert response.status_code == 202, response.text
        return response.json()["messageId"]

    def metric(self, name: str, labels: str = "") -> float:
        """A sample of GET /api/v2/metrics (`name{labels}`), 0 when absent."""
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in self.api("GET", "metrics").text.splitlines():
            if line.startswith(wanted + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def webhook_url(self, instance_id: str) -> str:
        return f"{self.url}/api/v2/webhooks/telegram/{instance_id}"


# --- webhooks ------------------------------------------------------------------------------------------


def telegram_update(chat_id: int, number: int, text: str | None = None) -> dict[str, Any]:
    """A Telegram text message Update; its external id in the hub is f"{chat_id}:{number}"."""
    return {
        "update_id": number,
        "message": {
            "message_id": number,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Fault"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Fault"},
            "text": text if text is not None else f"message {number}",
        },
    }


def post_update(url: str, update: dict[str, Any], secret: str = TG_SECRET) -> httpx.Response:
    return httpx.post(url, json=update, headers={SECRET_HEADER: secret}, timeout=15)


@dataclass(frozen=True)
class Answer:
    number: int
    status: int | None  # None: no HTTP answer (refused, reset, timed out)
    code: str  # error.code of an error answer, or the exception's name
    started: float  # time.monotonic()
    finished: float

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookStream:
    """POST one Telegram Update per number to `url` from a background thread, `concurrency` at a time;
    with `rate_per_s`, update i is sent no earlier than `i / rate_per_s` after the start (open loop while
    the server keeps up). `answers` grows as they come; `join()` waits for the end (bounded)."""

    def __init__(
        self,
        url: str,
        chat_id: int,
        numbers: Iterable[int],
        *,
        concurrency: int = 20,
        rate_per_s: float | None = None,
        timeout_s: float = 15.0,
        secret: str = TG_SECRET,
    ) -> None:
        self.url = url
        self.chat_id = chat_id
        self.numbers = list(numbers)
        self.concurrency = concurrency
        self.rate_per_s = rate_per_s
        self.timeout_s = timeout_s
        self.secret = secret
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="webhook-stream", daemon=True)
        self.started_at = 0.0

    def start(self) -> WebhookStream:
        self.started_at = time.monotonic()
        self._thread.start()
        return self

    def join(self, timeout_s: float = 120.0) -> list[Answer]:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"webhook stream still running after {timeout_s}s")
        return self.answers

    def run(self, timeout_s: float = 120.0) -> list[Answer]:
        return self.start().join(timeout_s)

    @property
    def answered(self) -> int:
        return len(self.answers)

    @property
    def accepted(self) -> int:
        with self._lock:
            return sum(1 for a in self.answers if a.accepted)

    async def _run(self) -> None:
        queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        for index, number in enumerate(self.numbers):
            queue.put_nowait((index, number))
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=self.timeout_s) as client:
            await asyncio.gather(*(self._worker(client, queue) for _ in range(self.concurrency)))

    async def _worker(self, client: httpx.AsyncClient, queue: asyncio.Queue[tuple[int, int]]) -> None:
        while not queue.empty():
            index, number = queue.get_nowait()
            if self.rate_per_s:
                delay = self.started_at + index / self.rate_per_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            started = time.monotonic()
            try:
                response = await client.post(
                    self.url, json=telegram_update(self.chat_id, number), headers={SECRET_HEADER: self.secret}
                )
                status: int | None = response.status_code
                code = _error_code(response) if response.status_code >= 400 else ""
            except httpx.HTTPError as exc:
                status, code = None, type(exc).__name__
            with self._lock:
                self.answers.append(Answer(number, status, code, started, time.monotonic()))


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def external_id(chat_id: int, number: int) -> str:
    return f"{chat_id}:{number}"


@contextlib.contextmanager
def served(directory: Path, **extra_env: str) -> Iterator[tuple[ServeProcess, ServerDatabase, NatsServer]]:
    """A started `manage.py serve` on a nats-server and a database of its own; all three gone on exit."""
    nats = NatsServer()
    nats.start()
    db = ServerDatabase(directory, postgres_base_url())
    server = ServeProcess(db, nats.url, Path(directory) / "serve.log", extra_env=extra_env)
    try:
        server.start()
        yield server, db, nats
    finally:
        server.stop()
        db.close()
        nats.close()
