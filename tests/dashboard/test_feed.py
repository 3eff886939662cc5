"""`/ws/journeys/` over a real socket: who may open it, and a journey finished by the running pipeline pushed
through real NATS to the browser's side of the connection."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator

import pytest
import uvicorn
from django.contrib.auth import get_user_model
from django.test import Client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from journeys.dashboard.consumers import CLOSE_UNAUTHORIZED
from journeys.stages import JOURNEY_STAGES
from journeys.tracker import get_journey_tracker, now_ms
from omni_project.asgi import application
from tests.conftest import API_KEY
from tests.nats_server import free_port
from tests.pipeline import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def asgi_url(runtime) -> Iterator[str]:
    """The project's ASGI application under uvicorn on a free loopback port, beside the running runtime."""
    config = uvicorn.Config(application, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, 10)
    yield f"127.0.0.1:{config.port}"
    server.should_exit = True
    thread.join(timeout=15)


def finish_a_journey(cid: str) -> None:
    """A no-agent journey, T0..T4, completed: the tracker hands it to the runtime, which publishes it."""
    tracker = get_journey_tracker()
    t = now_ms() - 100
    for i, stage in enumerate(("T0", "T1", "T2", "T3", "T4")):
        tracker.record_checkpoint(cid, stage, JOURNEY_STAGES[stage], t + i * 5)
    tracker.set_context(cid, channel_type="telegram", instance_id="inst-live", has_agent=False, t0_precision_ms=1000)
    assert tracker.complete(cid)


def ws(host: str, *, origin: str | None = None, **headers: str):
    return connect(f"ws://{host}/ws/journeys/", origin=origin or f"http://{host}", additional_headers=headers)


async def receive(socket, timeout_s: float = 15.0) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout_s))


def current_feed():
    from journeys.dashboard.feed import _feeds

    return next(iter(_feeds.values()), None)


def test_a_journey_finished_in_the_pipeline_is_pushed_to_an_open_dashboard(asgi_url):
    cid = f"live-{uuid.uuid4()}"

    async def scenario():
        async with ws(asgi_url, **{"X-API-Key": API_KEY}) as socket:
            assert (await receive(socket))["type"] == "hello"
            await wait_subscribed()
            await asyncio.get_running_loop().run_in_executor(None, finish_a_journey, cid)
            message = await receive(socket)
            await socket.send(json.dumps({"type": "ping"}))
            return message, await receive(socket)

    message, pong = asyncio.run(scenario())
    assert message["type"] == "journey" and pong == {"type": "pong"}
    journey = message["journey"]
    assert journey["correlationId"] == cid and journey["status"] == "completed" and journey["path"] == "no-agent"
    assert [c["stage"] for c in journey["checkpoints"]] == ["T0", "T1", "T2", "T3", "T4"]
    assert f'data-correlation-id="{cid}"' in message["html"] and 'data-channel="telegram"' in message["html"]
    feed = current_feed()
    # The last viewer left: the feed closes its subscription.
    wait_for(lambda: feed.viewers == 0 and not feed.subscribed.is_set(), 5)
    assert feed.forwarded == 1


async def wait_subscribed() -> None:
    for _ in range(200):
        feed = current_feed()
        if feed is not None and feed.subscribed.is_set():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the dashboard feed did not subscribe to NATS")


def test_a_session_of_a_staff_user_opens_the_feed(asgi_url):
    get_user_model().objects.create_user("ops", password="pw-123456", is_staff=True)
    client = Client()
    assert client.login(username="ops", password="pw-123456")

    async def scenario():
        async with ws(asgi_url, Cookie=f"sessionid={client.cookies['sessionid'].value}") as socket:
            return await receive(socket)

    assert asyncio.run(scenario())["type"] == "hello"


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong-key"}], ids=["nothing", "wrong-key"])
def test_without_a_login_the_socket_closes_with_4401(asgi_url, headers):
    async def scenario():
        async with ws(asgi_url, **headers) as socket:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(socket)
            return closed.value.rcvd.code

    assert asyncio.run(scenario()) == CLOSE_UNAUTHORIZED


def test_a_page_of_another_site_cannot_open_the_feed(asgi_url):
    async def scenario():
        with pytest.raises(InvalidStatus) as refused:
            async with ws(asgi_url, origin="https://evil.example", **{"X-API-Key": API_KEY}):
                pass
        return refused.value.response.status_code

    assert asyncio.run(scenario()) == 403


def redis_answers() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def redis_layer(settings):
    """CHANNEL_LAYER_URL=redis://127.0.0.1:6379/0 for this test, under a prefix of its own."""
    if not redis_answers():
        pytest.skip("no Redis on 127.0.0.1:6379 (the in-memory layer is the default and is tested above)")
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"], "prefix": f"test-{uuid.uuid4().hex[:8]}"},
        }
    }
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def test_with_the_redis_layer_two_viewers_each_get_a_journey_once(redis_layer, asgi_url):
    cid = f"live-redis-{uuid.uuid4()}"

    async def scenario():
        async with ws(asgi_url, **{"X-API-Key": API_KEY}) as first, ws(asgi_url, **{"X-API-Key": API_KEY}) as second:
            for socket in (first, second):
                assert (await receive(socket))["type"] == "hello"
            await wait_subscribed()
            await asyncio.get_running_loop().run_in_executor(None, finish_a_journey, cid)
            got = [await receive(first), await receive(second)]
            for socket in (first, second):  # nothing else: forwarded once, through the queue group
                with pytest.raises(TimeoutError):
                    await receive(socket, timeout_s=0.5)
            return got

    got = asyncio.run(scenario())
    assert [m["journey"]["correlationId"] for m in got] == [cid, cid]
    assert current_feed().forwarded == 1
