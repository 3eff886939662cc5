"""The agent down (connection refused), slow (beyond AGENT_TIMEOUT_MS) or answering 500: bounded retries, the
TriggerLog records the failure, the journey is abandoned with the reason, and the rest of the pipeline goes on."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from tests.http_peers import JsonServer
from tests.nats_server import free_port
from tests.reliability.harness import (
    ServeProcess,
    ServerDatabase,
    external_id,
    post_update,
    served,
    telegram_update,
    wait_until,
)

MAX_ATTEMPTS = 3
TIMEOUT_MS = 300
BACKOFF_MS = 500  # 0.5 s then 1 s between the attempts: room for other messages meanwhile
SLOW_S = 1.0
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[tuple[ServeProcess, ServerDatabase, str]]:
    """(server, its database, an instance without agent) shared by the tests of this module."""
    env = {
        "AGENT_TIMEOUT_MS": str(TIMEOUT_MS),
        "AGENT_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "AGENT_RETRY_BACKOFF_MS": str(BACKOFF_MS),
    }
    with served(tmp_path_factory.mktemp("agent-faults"), **env) as (server, db, _nats):
        yield server, db, server.create_instance("no-agent")


def slow(path, body, headers):
    time.sleep(SLOW_S)
    return 200, {}


@pytest.mark.parametrize(
    ("mode", "handler", "error"),
    [
        ("down", None, "agent unreachable: ConnectError"),
        ("slow", slow, "agent unreachable: ReadTimeout"),
        ("500", lambda path, body, headers: (500, {"error": "boom"}), "agent answered HTTP 500"),
    ],
    ids=["down", "slow", "500"],
)
def test_failing_agent_is_retried_a_bounded_number_of_times_then_recorded_and_abandoned(hub, mode, handler, error):
    server, db, plain_instance = hub
    peer = JsonServer(handler) if handler else None
    agent_url = peer.__enter__().url if peer else f"http://127.0.0.1:{free_port()}"  # nothing listens there
    try:
        instance_id = server.create_instance(f"agent-{mode}", agentUrl=agent_url)
        chat, number = 540000 + next(_numbers), next(_numbers)
        assert post_update(server.webhook_url(instance_id), telegram_update(chat, number)).status_code == 200
        # Meanwhile, a message for an instance without agent goes through the whole inbound path.
        plain_chat = chat + 100
        assert post_update(server.webhook_url(plain_instance), telegram_update(plain_chat, number)).status_code == 200

        cid = wait_until(lambda: db.message(external_id(chat, number)), 20, what="stored")["correlationId"]
        trigger = wait_until(
            lambda: (t := db.trigger(cid)) and t["status"] == "failed" and t, 30, what="trigger failed"
        )
        if peer is not None:
            time.sleep(0.2)  # a wrong extra attempt would show up here
            assert len(peer.requests) == MAX_ATTEMPTS
    finally:
        if peer is not None:
            peer.__exit__(None, None, None)
    assert trigger["attempts"] == MAX_ATTEMPTS and error in trigger["error"], trigger
    journey = server.journey_when(cid, lambda j: j["status"] != "active")
    assert journey["status"] == "abandoned" and journey["path"] == "agent"
    assert journey["abandonReason"].startswith("agent notification failed") and error in journey["abandonReason"]

    plain_cid = db.message(external_id(plain_chat, number))["correlationId"]
    plain = server.journey_when(plain_cid, lambda j: j["status"] != "active")
    assert plain["status"] == "completed" and plain["path"] == "no-agent"
    assert plain["completedAt"] < journey["completedAt"]  # it did not wait for the failing agent
    assert db.trigger(plain_cid) is None
    print(f"\nagent {mode}: {trigger['attempts']} attempts, TriggerLog failed ({trigger['error'][:60]}), journey "
          f"abandoned; the message without agent completed meanwhile")  # fmt: skip
