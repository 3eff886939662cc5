"""Fixtures the Telegram and WhatsApp webhook tests share.

Each of those modules provides `sandbox` (its platform's sandbox, posting to the live server) and
`instance_defaults` (the `Instance` fields its instances are created with); the fixtures here build on them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from messaging.models import Instance, Message
from tests.pipeline import wait_for
from tests.plugins import runtime_on_own_nats, wait_connected


@pytest.fixture
def own_nats(settings, transactional_db):
    """(server, runtime): a runtime on a nats-server this test may stop."""
    with runtime_on_own_nats(settings) as pair:
        yield pair


@pytest.fixture
def nats_outage(own_nats) -> Callable[[], contextlib.AbstractContextManager[None]]:
    """`with nats_outage():` NATS is down, and the runtime knows it, inside the block; after it, NATS is
    back and the runtime reconnected."""
    server, runtime = own_nats

    @contextlib.contextmanager
    def outage() -> Iterator[None]:
        server.stop()
        wait_connected(runtime, False)
        yield
        server.start()
        wait_connected(runtime, True)

    return outage


@pytest.fixture
def new_instance(sandbox, instance_defaults) -> Callable[..., Instance]:
    """`new_instance(agent_url="", **fields)`: an instance of the module's platform whose platform is the
    sandbox (`fields` over `instance_defaults`); the sandbox's webhooks go to it from then on."""

    def create(agent_url: str = "", **fields: Any) -> Instance:
        values = {**instance_defaults, "base_url": sandbox.url, **fields}
        instance = Instance.objects.create(agent_url=agent_url, **values)
        sandbox.instance_id = str(instance.pk)
        return instance

    return create


@pytest.fixture
def stored() -> Callable[..., Message]:
    """`stored(**filters)`: the first inbound message (that matches `filters`), once there is one."""
    return lambda **filters: wait_for(Message.objects.filter(direction=Message.INBOUND, **filters).first)


@pytest.fixture
def outcome() -> Callable[[str], Message]:
    """`outcome(message_id)`: the outbound message with that id, once sent, delivered or failed."""
    final = [Message.SENT, Message.DELIVERED, Message.FAILED]
    return lambda message_id: wait_for(Message.objects.filter(external_id=message_id, status__in=final).first)
