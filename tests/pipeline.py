"""Fixtures and helpers for tests that drive the running pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import nats
import pytest

from messaging.runtime import start_runtime, stop_runtime


async def _delete_stream(url: str, stream: str) -> None:
    nc = await nats.connect(url)
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_stream(stream)
    await nc.close()


@pytest.fixture
def runtime(nats_server, settings, transactional_db):
    """The process's runtime against the test run's nats-server, with a fresh stream per test."""
    settings.NATS = {**settings.NATS, "URL": nats_server.url, "DURABLE_PREFIX": f"t{uuid.uuid4().hex[:8]}"}
    from channels_plugins.registry import forget_plugins
    from messaging.instances import forget_instances

    forget_instances()
    forget_plugins()
    rt = start_runtime()
    assert rt.call(rt.bus.wait_ready(10)), "runtime did not connect to NATS"
    yield rt
    stop_runtime()
    asyncio.run(_delete_stream(nats_server.url, settings.NATS["STREAM"]))
    forget_plugins()


def wait_for(predicate, timeout_s: float = 15.0, interval_s: float = 0.05):
    """Poll until `predicate()` returns something truthy; return it, or fail after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s")
