"""The Gateway client against the sandbox's real WebSocket server: identify, heartbeats, resume, reconnect."""

from __future__ import annotations

import asyncio
import time

import pytest

from channels_plugins.discord.gateway import GatewayClient
from channels_plugins.discord.parsing import DEFAULT_INTENTS
from channels_plugins.discord.sandbox import DiscordSandbox

TOKEN = "gateway-test-token"


async def until(predicate, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout_s}s")


@pytest.fixture
def sandbox():
    with DiscordSandbox(token=TOKEN, heartbeat_interval_ms=150) as server:
        yield server


class Client:
    """A GatewayClient running as a task, recording what it was dispatched."""

    def __init__(self, sandbox: DiscordSandbox, token: str = TOKEN) -> None:
        self.dispatches: list[tuple[str, object]] = []

        async def url() -> str:
            return sandbox.gateway_url

        self.gateway = GatewayClient(
            token, intents=DEFAULT_INTENTS, resolve_url=url, on_dispatch=lambda t, d: self.dispatches.append((t, d))
        )
        self.task = asyncio.get_running_loop().create_task(self.gateway.run())

    def contents(self) -> list[str]:
        return [d["content"] for t, d in self.dispatches if t == "MESSAGE_CREATE"]

    async def close(self) -> None:
        await self.gateway.close()
        await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def client(sandbox):
    c = Client(sandbox)
    await asyncio.wait_for(c.gateway.ready.wait(), 10)
    yield c
    if not c.task.done():
        await c.close()


async def test_identify_carries_the_token_and_message_intents_and_ready_names_our_bot(sandbox, client):
    assert len(sandbox.identifies) == 1 and not sandbox.identifies[0].get("refused")
    assert sandbox.identifies[0]["intents"] & DEFAULT_INTENTS == DEFAULT_INTENTS
    assert client.gateway.user_id == sandbox.bot_user_id
    assert client.gateway.session_id and client.gateway.resume_url == sandbox.gateway_url
    await until(lambda: sandbox.heartbeats >= 2)  # heartbeats flow, each one acknowledged
    assert client.gateway.missed_acks == 0
    await asyncio.to_thread(sandbox.emit, 2, "55", "hi {i}")
    await until(lambda: client.contents() == ["hi 0", "hi 1"])
    assert client.gateway.seq == 3  # READY, then the two messages


async def test_a_refused_token_stops_the_client_without_reconnecting(sandbox):
    c = Client(sandbox, token="wrong")
    await asyncio.wait_for(c.task, 10)  # 4004 is fatal: run() returns
    assert sandbox.identifies == [{"intents": DEFAULT_INTENTS, "properties": sandbox.identifies[0]["properties"],
                                   "refused": True}]  # fmt: skip
    assert sandbox.connections == 1


async def test_an_unacknowledged_heartbeat_closes_the_socket_and_resumes(sandbox, client):
    await asyncio.to_thread(sandbox.withhold_acks, 1)
    await until(lambda: sandbox.resumes)
    assert client.gateway.missed_acks == 1
    assert sandbox.resumes[0]["session_id"] == client.gateway.session_id
    await until(lambda: client.gateway.ready.is_set())
    await asyncio.to_thread(sandbox.emit, 1, "55", "after resume")
    await until(lambda: client.contents() == ["after resume"])
    assert len(sandbox.identifies) == 1  # resumed, not identified again


async def test_a_dropped_socket_resumes_and_replays_what_was_missed(sandbox, client):
    await asyncio.to_thread(sandbox.emit, 2, "55", "before {i}")
    await until(lambda: len(client.contents()) == 2)
    await asyncio.to_thread(sandbox.emit_while_dropped, 3, "55", "missed {i}")
    await until(lambda: len(client.contents()) == 5)
    assert client.contents() == ["before 0", "before 1", "missed 0", "missed 1", "missed 2"]
    assert sandbox.resumes[0]["seq"] == 3 and sandbox.replayed == 3
    assert len(sandbox.identifies) == 1
    assert [t for t, _d in client.dispatches][-1] == "RESUMED"


async def test_a_reconnect_request_resumes(sandbox, client):
    await asyncio.to_thread(sandbox.request_reconnect)
    await until(lambda: sandbox.resumes and client.gateway.ready.is_set())
    assert len(sandbox.identifies) == 1 and sandbox.connections == 2


async def test_an_invalid_session_starts_over_with_a_fresh_identify(sandbox, client, monkeypatch):
    monkeypatch.setattr(GatewayClient, "invalid_session_delay_s", (0.01, 0.02))
    first_session = client.gateway.session_id
    await asyncio.to_thread(sandbox.invalidate_sessions, False)
    await until(lambda: len(sandbox.identifies) == 2 and client.gateway.ready.is_set())
    assert client.gateway.session_id != first_session
    assert not sandbox.resumes


async def test_a_resume_the_gateway_no_longer_knows_falls_back_to_identify(sandbox, client, monkeypatch):
    monkeypatch.setattr(GatewayClient, "invalid_session_delay_s", (0.01, 0.02))
    await asyncio.to_thread(lambda: sandbox.drop_connections(expire_sessions=True))
    await until(lambda: len(sandbox.identifies) == 2 and client.gateway.ready.is_set())
    assert len(sandbox.resumes) == 1  # tried, answered Invalid Session, then identified
    await asyncio.to_thread(sandbox.emit, 1, "55", "new session")
    await until(lambda: client.contents() == ["new session"])


async def test_close_ends_the_session_and_stops_reconnecting(sandbox, client):
    await client.close()
    await until(lambda: sandbox.live_sessions == 0)
    connections = sandbox.connections
    await asyncio.sleep(0.3)
    assert sandbox.connections == connections
