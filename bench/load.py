"""Load: Telegram webhooks offered at a steady rate to a real `manage.py serve`, an agent replying to each.

The whole path runs for real, every process on loopback: a nats-server (started here), the server's own
database (PostgreSQL when DATABASE_URL points to one, else a SQLite file), the Telegram sandbox as the
platform (its own process), and a simulated agent in this process that answers each notification at once
and replies through `POST /api/v2/messages/send` with the notification's correlation id.

The sender is open-loop: update i leaves at `i / LOAD_RATE` seconds after the start whatever the answers,
with at most MAX_IN_FLIGHT outstanding (as a platform with that many connections): an update that had to
wait for a free slot is `late`, one still waiting when the run ends is `not sent`. After the run the
pipeline is drained (JetStream holds nothing for the consumers, no reply pending; bounded). Reported:
offered, accepted (2xx), stored (inbound rows), replied (outbound rows the platform accepted), failed
(with their reasons) and lost: accepted but not stored, plus replies answered 202 whose outbound message
neither reached the platform nor failed with a reason; p50/p95/p99 of internalProcessing and the internal
stages from GET /api/v2/journeys/summary; the server's VmRSS at the start and at the end.

    LOAD_SECONDS=120 LOAD_RATE=200 python -m bench load        (defaults; LOAD_SECONDS=10 for a quick check)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m bench load
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import nats
import numpy as np
import uvicorn

from journeys.stages import INTERNAL_STAGES
from tests.nats_server import NatsServer, free_port
from tests.reliability.harness import (
    API_KEY,
    SECRET_HEADER,
    TG_SECRET,
    TG_TOKEN,
    ServeProcess,
    ServerDatabase,
    postgres_base_url,
    telegram_update,
)

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("LOAD_SECONDS", "120"))
RATE_PER_S = float(os.environ.get("LOAD_RATE", "200"))
CHATS = 500  # distinct chats the updates come from
MAX_IN_FLIGHT = 100  # outstanding webhooks at most: Telegram's own ceiling (setWebhook max_connections)
AGENT_CONNECTIONS = 20
REQUEST_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 600.0  # an overloaded server may take minutes to work off what it accepted


class SimulatedAgent:
    """An ASGI agent: 200 to every notification at once, then the reply through the hub's send API, sent
    by AGENT_CONNECTIONS workers from a queue (thousands of requests waiting inside one httpx pool cost
    time quadratic in their number: the bench, not the hub, would set the pace)."""

    def __init__(self, hub_url: str) -> None:
        self.hub_url = hub_url
        self.notifications = 0
        self.replies: dict[int | str, int] = {}  # reply status (or exception name) -> count
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.busy = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"accepted": true}'})
        self.notifications += 1
        self.queue.put_nowait(json.loads(body))

    async def work(self, client: httpx.AsyncClient) -> None:
        while True:
            note = await self.queue.get()
            self.busy += 1
            request = {"instanceId": note["instanceId"], "to": note["chatId"], "text": f"re: {note.get('text', '')}"}
            request["correlationId"] = note["correlationId"]
            try:
                response = await client.post(
                    f"{self.hub_url}/api/v2/messages/send", json=request, headers={"X-API-Key": API_KEY}
                )
                outcome: int | str = response.status_code
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            finally:
                self.busy -= 1
            self.replies[outcome] = self.replies.get(outcome, 0) + 1

    @property
    def replying(self) -> int:
        return self.queue.qsize() + self.busy


class Sender:
    """Open-loop webhooks at `rate_per_s` for `seconds`; answers counted by status."""

    def __init__(self, url: str, rate_per_s: float, seconds: float) -> None:
        self.url = url
        self.rate_per_s = rate_per_s
        self.total = int(rate_per_s * seconds)
        self.answers: dict[int | str, int] = {}
        self.accepted_ids: set[str] = set()
        self.latencies_ms: list[float] = []
        self.late = 0
        self.started = 0.0
        self.sending_s = 0.0
        self.unsent = 0  # not sent by the end of the run: MAX_IN_FLIGHT answers were outstanding
        self.in_flight = 0
        self.rss_peak_kb = 0

    async def run(self, client: httpx.AsyncClient, progress: Any) -> None:
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        started = self.started = time.monotonic()
        end = started + self.total / self.rate_per_s
        tasks: set[asyncio.Task] = set()
        next_progress = started + 10
        for n in range(1, self.total + 1):
            due = started + (n - 1) / self.rate_per_s
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:  # a free slot, but not beyond the end of the run
                await asyncio.wait_for(slots.acquire(), timeout=max(0.001, end - time.monotonic()))
            except TimeoutError:
                self.unsent = self.total - n + 1
                break
            if time.monotonic() - due > 0.1:
                self.late += 1
            task = asyncio.get_running_loop().create_task(self.post(client, n, slots))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if time.monotonic() >= next_progress:
                progress(n)
                next_progress += 10
        if tasks:
            await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT_S + 5)

    async def post(self, client: httpx.AsyncClient, n: int, slots: asyncio.Semaphore) -> None:
        chat = 700000 + n % CHATS
        self.in_flight += 1
        began = time.perf_counter()
        try:
            response = await client.post(self.url, json=telegram_update(chat, n), headers={SECRET_HEADER: TG_SECRET})
            outcome: int | str = response.status_code
            if response.is_success:
                self.accepted_ids.add(f"{chat}:{n}")
                self.latencies_ms.append((time.perf_counter() - began) * 1000)
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        finally:
            self.in_flight -= 1
            slots.release()
        self.answers[outcome] = self.answers.get(outcome, 0) + 1

    @property
    def accepted(self) -> int:
        return len(self.accepted_ids)


def _wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def _counts(db: ServerDatabase, instance_id: str) -> dict[str, int]:
    rows = db.query(
        "SELECT direction, status, COUNT(*) FROM messaging_message WHERE instance_id = %s GROUP BY direction, status",
        [db.uuid_value(instance_id)],
    )
    return {f"{direction}:{status}": count for direction, status, count in rows}


def _failures(db: ServerDatabase, instance_id: str) -> dict[str, int]:
    """Failed outbound messages by reason (ids and numbers cut off, so alike reasons group)."""
    rows = db.query(
        "SELECT error FROM messaging_message WHERE instance_id = %s AND direction = 'outbound' AND status = 'failed'",
        [db.uuid_value(instance_id)],
    )
    reasons: dict[str, int] = {}
    for (error,) in rows:
        reason = error.split(":", 2)[0] + (": " + error.split(":", 2)[1].strip() if ":" in error else "")
        reasons[reason[:80]] = reasons.get(reason[:80], 0) + 1
    return reasons


def _stored_ids(db: ServerDatabase, instance_id: str) -> set[str]:
    return set(db.count_inbound(instance_id))


async def _backlog(js: Any, prefix: str) -> int:
    """Messages JetStream still holds for the persistence and outbound consumers (pending + unacked)."""
    total = 0
    for name in ("persistence", "outbound-telegram"):
        info = await js.consumer_info("OMNI", f"{prefix}-{name}")
        total += info.num_pending + info.num_ack_pending
    return total


async def _load(
    server: ServeProcess, db: ServerDatabase, instance_id: str, agent: SimulatedAgent, agent_port: int
) -> tuple[Sender, int]:
    """Send for SECONDS, then keep the agent answering until the pipeline is idle (bounded); returns the
    sender and the backlog JetStream still held at the end (0 unless the drain timed out)."""
    config = uvicorn.Config(agent, host="127.0.0.1", port=agent_port, log_level="warning", lifespan="off")
    agent_server = uvicorn.Server(config)
    agent_task = asyncio.get_running_loop().create_task(agent_server.serve())
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them under our feet.
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=200, keepalive_expiry=2.0)
    # The agent replies over at most AGENT_CONNECTIONS connections, as a service with a client pool would: each
    # concurrent send request holds a database connection in the server (one thread per request under ASGI).
    reply_limits = httpx.Limits(max_connections=AGENT_CONNECTIONS, keepalive_expiry=2.0)
    async with (
        httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_S) as client,
        httpx.AsyncClient(limits=reply_limits, timeout=REQUEST_TIMEOUT_S) as replies,
    ):
        workers = [asyncio.get_running_loop().create_task(agent.work(replies)) for _ in range(AGENT_CONNECTIONS)]
        while not agent_server.started:
            await asyncio.sleep(0.02)
        sender = Sender(server.webhook_url(instance_id), RATE_PER_S, SECONDS)

        def progress(n: int) -> None:
            elapsed = time.monotonic() - sender.started
            rss = server.rss_kb()
            sender.rss_peak_kb = max(sender.rss_peak_kb, rss)
            print(
                f"  {elapsed:5.0f} s: offered {n}, accepted {sender.accepted}, in flight {sender.in_flight}, "
                f"late {sender.late}, agent notified {agent.notifications}, replies {sum(agent.replies.values())}, "
                f"server RSS {rss / 1024:.0f} MB",
                flush=True,
            )

        began = time.monotonic()
        await sender.run(client, progress)
        sender.sending_s = time.monotonic() - began
        print("  sending done; draining", flush=True)
        prefix = server.env["NATS_DURABLE_PREFIX"]
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        backlog = -1
        nc = await nats.connect(server.env["NATS_URL"], connect_timeout=10)
        try:
            while time.monotonic() < deadline:
                backlog = await _backlog(nc.jetstream(), prefix)
                queued = (await asyncio.to_thread(_counts, db, instance_id)).get("outbound:queued", 0)
                if backlog == 0 and queued == 0 and not agent.replying:
                    break
                await asyncio.sleep(1.0)
        finally:
            await nc.close()
        for worker in workers:
            worker.cancel()
        agent_server.should_exit = True
        await asyncio.wait_for(agent_task, 10)
    return sender, backlog


def run() -> bool:
    workdir = Path(tempfile.mkdtemp(prefix="omni-load-"))
    nats = NatsServer()
    nats.start()
    db = ServerDatabase(workdir, postgres_base_url(), prefix="omni_load")
    platform_port, agent_port = free_port(), free_port()
    platform = subprocess.Popen(
        [sys.executable, "-m", "channels_plugins.telegram.sandbox", "--port", str(platform_port), "--token", TG_TOKEN],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    server = ServeProcess(db, nats.url, workdir / "serve.log")
    try:
        _wait_port(platform_port)
        server.start(timeout_s=60)
        instance_id = server.create_instance(
            "load", baseUrl=f"http://127.0.0.1:{platform_port}", agentUrl=f"http://127.0.0.1:{agent_port}"
        )
        print(
            f"database: {db.vendor}; {RATE_PER_S:.0f} webhooks/s offered for {SECONDS:.0f} s "
            f"({int(RATE_PER_S * SECONDS)} updates from {CHATS} chats), agent replying to each",
            flush=True,
        )
        rss_start = server.rss_kb()
        agent = SimulatedAgent(server.url)
        began = time.monotonic()
        sender, backlog = asyncio.run(_load(server, db, instance_id, agent, agent_port))
        elapsed = time.monotonic() - began
        replies_accepted = agent.replies.get(202, 0)
        counts = _counts(db, instance_id)
        failures = _failures(db, instance_id)
        stored_ids = _stored_ids(db, instance_id)
        rss_end = server.rss_kb()
        summary = server.api("GET", "journeys/summary", params={"instanceId": instance_id}).json()
        log = server.log()
        log_errors = sum(1 for line in log.splitlines() if " ERROR " in line)
        (ROOT / "var").mkdir(exist_ok=True)
        (ROOT / "var" / "load-serve.log").write_text(log)
    finally:
        server.stop()
        platform.terminate()
        platform.wait(timeout=10)
        db.close()
        nats.close()
        shutil.rmtree(workdir, ignore_errors=True)

    offered = sender.total
    stored = sum(v for k, v in counts.items() if k.startswith("inbound:"))
    lost_inbound = len(sender.accepted_ids - stored_ids)
    replied = counts.get("outbound:sent", 0) + counts.get("outbound:delivered", 0)
    queued = counts.get("outbound:queued", 0)
    refused = sum(n for reason, n in failures.items() if reason.startswith("not queued"))  # the 503 answers
    failed = counts.get("outbound:failed", 0) - refused  # after 202: the platform refused or stayed down
    # Every 202 made an outbound row that ends sent or failed (with its reason); one still queued after the
    # drain, or missing, is lost. A row beyond the 202s is a reply whose answer the agent never saw.
    lost_replies = queued + max(0, replies_accepted - (replied + failed + queued))
    unanswered_but_sent = max(0, replied + failed + queued - replies_accepted)
    lost = lost_inbound + lost_replies
    webhook = np.array(sender.latencies_ms) if sender.latencies_ms else np.array([np.nan])
    print(f"wall time: {elapsed:.1f} s (sending and draining)")
    print(
        f"offered: {offered} webhooks ({offered / SECONDS:.0f}/s); sent {offered - sender.unsent}, of which late by "
        f"> 100 ms: {sender.late}; not sent by the end (all {MAX_IN_FLIGHT} slots waiting): {sender.unsent}"
    )
    sent = offered - sender.unsent
    print(f"sending took {sender.sending_s:.1f} s: {sent / sender.sending_s:.0f} webhooks/s sent on average")
    print(f"answers: {dict(sorted(sender.answers.items(), key=str))}")
    print(f"accepted: {sender.accepted}  stored: {stored}  (accepted but not stored: {lost_inbound})")
    print(
        f"agent: notified {agent.notifications}, replies {dict(sorted(agent.replies.items(), key=str))}; "
        f"replied (the platform accepted): {replied}; failed after a 202: {failed}; still queued: {queued}; "
        f"outbound rows the agent got no 202 for: {unanswered_but_sent}"
    )
    if failures:
        print(f"failed outbound messages by reason: {failures}")
    if backlog:
        print(f"the drain timed out: JetStream still holds {backlog} message(s) for the consumers (counted above)")
    print(f"lost: {lost} (inbound {lost_inbound}, replies {lost_replies})  target 0  {'PASS' if not lost else 'FAIL'}")
    print(
        f"webhook answer (client side, accepted): p50 {np.percentile(webhook, 50):.1f} ms, "
        f"p95 {np.percentile(webhook, 95):.1f} ms, p99 {np.percentile(webhook, 99):.1f} ms"
    )
    print(
        f"journeys: {summary['totalTracked']} tracked, {summary['completedJourneys']} completed, "
        f"{summary['activeJourneys']} active, {summary['abandonedJourneys']} abandoned"
    )
    stages = summary["stages"]
    for key in ("internalProcessing", *INTERNAL_STAGES, "totalRoundTrip"):
        s = stages.get(key)
        if s and s.get("count"):
            print(
                f"  {key:22s} n={s['count']:6d}  p50 {s['p50']:9.3f} ms  p95 {s['p95']:9.3f} ms  "
                f"p99 {s['p99']:9.3f} ms  max {s['max']:9.3f} ms"
            )
    peak = max(sender.rss_peak_kb, rss_end)
    print(
        f"server RSS: {rss_start / 1024:.1f} MB at start, {rss_end / 1024:.1f} MB at the end "
        f"(peak sampled {peak / 1024:.1f} MB)"
    )
    print(f"ERROR lines in the server log: {log_errors} (the log: var/load-serve.log)")
    return lost == 0 and backlog == 0
