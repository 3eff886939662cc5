"""Failures inside the running pipeline: nothing lost, nothing duplicated, the journey says why."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from messaging.models import Message, TriggerLog
from tests.http_peers import JsonServer
from tests.pipeline import wait_for
from tests.pipeline_e2e.test_round_trip import api_journey, inbound, make_instance

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def loopback_plugins(settings):
    settings.CHANNEL_PLUGINS = {**settings.CHANNEL_PLUGINS, "telegram": "tests.loopback_plugin.LoopbackPlugin"}


def test_database_error_is_not_acked_and_the_redelivery_stores_once(runtime, live_server):
    instance = make_instance("http://127.0.0.1:9")
    table = Message._meta.db_table
    with connection.cursor() as cursor:  # the messages table disappears: every insert fails
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        event = inbound(runtime, instance, external_id="db-down-1")
        time.sleep(1.0)  # the consumer tries, fails, naks
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
    wait_for(lambda: Message.objects.filter(external_id="db-down-1").exists())
    time.sleep(1.5)  # room for a wrong second delivery to show up
    assert Message.objects.filter(external_id="db-down-1").count() == 1
    journey = api_journey(live_server, event.metadata.correlation_id)
    assert journey["status"] == "completed"
    assert [c["stage"] for c in journey["checkpoints"]].count("T4") == 1


def test_agent_answering_500_is_retried_then_recorded_and_the_journey_abandoned(runtime, live_server, settings):
    settings.AGENT = {**settings.AGENT, "MAX_ATTEMPTS": 3, "RETRY_BACKOFF_MS": 10}
    with JsonServer(lambda path, body, headers: (500, {"error": "boom"})) as agent:
        instance = make_instance("http://127.0.0.1:9", agent.url)
        event = inbound(runtime, instance)
        trigger = wait_for(lambda: TriggerLog.objects.filter(status=TriggerLog.FAILED).first())
    assert trigger.attempts == 3 and "HTTP 500" in trigger.error
    assert len(agent.requests) == 3
    journey = wait_for(lambda: api_journey(live_server, event.metadata.correlation_id))
    assert journey["status"] == "abandoned"
    assert "agent notification failed" in journey["abandonReason"]


def test_agent_that_never_replies_abandons_the_journey_after_its_timeout(runtime, live_server):
    with JsonServer(lambda path, body, headers: (200, {})) as agent:
        instance = make_instance("http://127.0.0.1:9", agent.url)
        instance.agent_reply_timeout_ms = 300
        instance.save()
        event = inbound(runtime, instance)

        def abandoned():
            journey = api_journey(live_server, event.metadata.correlation_id)
            return journey if journey and journey["status"] == "abandoned" else None

        journey = wait_for(abandoned)
    assert journey["path"] == "agent" and "reply timeout" in journey["abandonReason"]
    assert TriggerLog.objects.get().status == TriggerLog.SENT


def test_platform_refusing_the_send_marks_the_outbound_message_failed(runtime, live_server):
    import httpx

    from tests.conftest import API_KEY

    with JsonServer(lambda path, body, headers: (403, {"error": "blocked"})) as platform:
        instance = make_instance(platform.url)
        response = httpx.post(
            f"{live_server.url}/api/v2/messages/send",
            json={"instanceId": str(instance.pk), "to": "chat-1", "text": "hi"},
            headers={"X-API-Key": API_KEY},
        )
        assert response.status_code == 202
        failed = wait_for(lambda: Message.objects.filter(direction=Message.OUTBOUND, status=Message.FAILED).first())
    assert "permanent" in failed.error and "403" in failed.error
    assert len(platform.requests) == 1
