"""Helpers of the plugin tests: a replying agent, journey polling, a runtime on its own nats-server.

The test modules import what they use (`from tests.plugins import ...`).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from messaging.runtime import Runtime, start_runtime, stop_runtime
from tests.conftest import API_KEY
from tests.http_peers import JsonServer
from tests.nats_server import NatsServer
from tests.pipeline import wait_for

INBOUND = ["T1", "T2", "T3", "T4", "T5"]
OUTBOUND = ["T7", "T8", "T9", "T10", "T11"]


class Agent:
    """A local agent: acknowledges the notification, then replies through the send API (chat context)."""

    def __init__(self, api_url: str, text: str = "pong") -> None:
        self.api_url = api_url
        self.text = text
        self.notifications: list[dict[str, Any]] = []
        self.answers: list[httpx.Response] = []
        self.server = JsonServer(self.on_notification)

    @property
    def url(self) -> str:
        return self.server.url

    def on_notification(self, path: str, body: dict[str, Any], headers: dict[str, str]):
        self.notifications.append(body)
        threading.Thread(target=self.reply, args=(body,), daemon=True).start()
        return 200, {"accepted": True}

    def reply(self, notification: dict[str, Any]) -> None:
        request = {"instanceId": notification["instanceId"], "to": notification["chatId"], "text": self.text}
        self.answers.append(
            httpx.post(f"{self.api_url}/api/v2/messages/send", json=request, headers={"X-API-Key": API_KEY})
        )

    def __enter__(self) -> Agent:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)


def api_journey(live_server, correlation_id: str) -> dict | None:
    response = httpx.get(f"{live_server.url}/api/v2/journeys/{correlation_id}", headers={"X-API-Key": API_KEY})
    return response.json() if response.status_code == 200 else None


def journey_when(live_server, correlation_id: str, condition) -> dict:
    """Poll the journeys API until the journey satisfies `condition(journey)`; return it."""

    def check():
        journey = api_journey(live_server, correlation_id)
        return journey if journey and condition(journey) else None

    return wait_for(check)


def stages(journey: dict) -> dict[str, float]:
    return {c["stage"]: c["timestamp"] for c in journey["checkpoints"]}


def assert_ordered(journey: dict, order: list[str]) -> None:
    times = stages(journey)
    assert set(order) <= set(times), f"missing stages: {set(order) - set(times)}"
    for earlier, later in itertools.pairwise(order):
        assert times[later] >= times[earlier], f"{later} before {earlier}: {journey}"


def send_via_api(live_server, instance_id: str, to: str, text: str = "hi") -> str:
    """The agent's send endpoint; returns the outbound message id."""
    response = httpx.post(
        f"{live_server.url}/api/v2/messages/send",
        json={"instanceId": instance_id, "to": to, "text": text},
        headers={"X-API-Key": API_KEY},
    )
    assert response.status_code == 202, response.text
    return response.json()["messageId"]


def stream_messages(runtime, subject: str = "message.received.>") -> int:
    """How many messages on `subject` JetStream holds (the stream is fresh for every test)."""
    from django.conf import settings

    async def count() -> int:
        info = await runtime.bus.js.stream_info(settings.NATS["STREAM"], subjects_filter=subject)
        return sum((info.state.subjects or {}).values())

    return runtime.call(count(), timeout=10)


def subscribe(runtime, subject: str) -> list[bytes]:
    """Collect the raw data of every message published on `subject` from now on."""
    seen: list[bytes] = []

    async def start():
        async def on_message(msg):
            seen.append(msg.data)

        await runtime.bus.nc.subscribe(subject, cb=on_message)
        await runtime.bus.nc.flush()

    runtime.call(start(), timeout=10)
    return seen


@contextlib.contextmanager
def runtime_on_own_nats(settings) -> Iterator[tuple[NatsServer, Runtime]]:
    """The process's runtime on a nats-server of the caller's own, which it may stop and restart (the
    session's server is shared by other tests). Use inside a fixture that has `transactional_db`."""
    from channels_plugins.registry import forget_plugins
    from messaging.instances import forget_instances

    server = NatsServer()
    server.start()
    settings.NATS = {**settings.NATS, "URL": server.url, "DURABLE_PREFIX": f"t{uuid.uuid4().hex[:8]}"}
    forget_instances()
    forget_plugins()
    try:
        runtime = start_runtime()
        assert runtime.call(runtime.bus.wait_ready(10)), "runtime did not connect to NATS"
        yield server, runtime
    finally:
        if server.proc is None:
            server.start()
        stop_runtime()
        forget_plugins()
        server.close()


def wait_connected(runtime, connected: bool, timeout_s: float = 15.0) -> None:
    wait_for(lambda: runtime.bus.connected is connected, timeout_s=timeout_s)
    time.sleep(0.05)
