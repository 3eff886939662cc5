"""The Telegram plugin in a running server: the sandbox POSTs real Updates to the live webhook, the
pipeline (real NATS, real database) stores them, an agent replies, the sandbox receives sendMessage."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from channels_plugins.telegram.sandbox import TelegramSandbox
from channels_plugins.webhooks import ignored_counts
from journeys.tracker import get_journey_tracker
from messaging.models import Instance, Message
from tests.pipeline import wait_for
from tests.plugins import (
    INBOUND,
    OUTBOUND,
    Agent,
    assert_ordered,
    journey_when,
    send_via_api,
    stages,
    stream_messages,
    subscribe,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "tg-webhook-secret-1"
TOKEN = "123456:ABC-sandbox"
CHAT = 424242


@pytest.fixture
def sandbox(live_server):
    with TelegramSandbox(token=TOKEN, hub_url=live_server.url, secret=SECRET) as server:
        yield server


@pytest.fixture
def instance_defaults():
    return {"name": "tg", "channel_type": "telegram", "token": TOKEN, "webhook_secret": SECRET}


def test_update_is_stored_and_the_agents_reply_reaches_telegram(runtime, live_server, sandbox, new_instance, stored):
    with Agent(live_server.url, text="pong") as agent:
        instance = new_instance(agent.url)
        update = sandbox.update("ping", chat_id=CHAT)
        response = sandbox.post(update)
        assert response.status_code == 200 and response.json()["published"] == 1
        message = stored()
        journey = journey_when(live_server, message.correlation_id, lambda j: j["status"] == "completed")

    assert (message.chat_id, message.text, message.sender) == (str(CHAT), "ping", str(CHAT))
    assert message.external_id == f"{CHAT}:{update['message']['message_id']}"
    assert journey["path"] == "replied" and journey["channelType"] == "telegram"
    assert journey["instanceId"] == str(instance.pk) and journey["chatId"] == str(CHAT)
    t0 = journey["checkpoints"][0]
    assert t0["stage"] == "T0" and t0["precisionMs"] == 1000
    assert t0["timestamp"] == update["message"]["date"] * 1000.0
    assert_ordered(journey, INBOUND)
    assert_ordered(journey, ["T5", *OUTBOUND])
    assert journey["latencies"]["platformSend"] >= 0
    # The sandbox got a Bot API sendMessage for the same chat; the outbound row carries its message id.
    [sent] = sandbox.sends
    assert sent == {"chat_id": str(CHAT), "text": "pong"}
    assert sandbox.attempts[0].path == f"/bot{TOKEN}/sendMessage"
    outbound = wait_for(lambda: Message.objects.filter(direction=Message.OUTBOUND, status=Message.SENT).first())
    assert outbound.platform_message_id.isdigit() and outbound.correlation_id == message.correlation_id
    assert agent.notifications[0]["channelType"] == "telegram"


def test_without_agent_the_journey_has_t0_to_t4_in_order(runtime, live_server, sandbox, new_instance, stored):
    new_instance()
    [response] = sandbox.emit(1)
    assert response.status_code == 200
    message = stored()
    journey = journey_when(live_server, message.correlation_id, lambda j: j["status"] == "completed")
    assert journey["path"] == "no-agent"
    assert [c["stage"] for c in journey["checkpoints"]] == ["T0", "T1", "T2", "T3", "T4"]
    assert journey["checkpoints"][0]["precisionMs"] == 1000
    assert_ordered(journey, ["T1", "T2", "T3", "T4"])


def test_published_event_carries_t0_t1_t2_in_its_timings(runtime, live_server, sandbox, new_instance):
    instance = new_instance()
    events = subscribe(runtime, f"message.received.telegram.{instance.pk}")
    update = sandbox.update("timed")
    assert sandbox.post(update).status_code == 200
    [raw] = wait_for(lambda: events)
    event = json.loads(raw)
    timings = event["metadata"]["timings"]
    assert set(timings) == {"platformReceivedAt", "pluginReceivedAt", "eventPublishedAt"}
    assert timings["platformReceivedAt"] == update["message"]["date"] * 1000.0
    assert timings["pluginReceivedAt"] <= timings["eventPublishedAt"]
    assert event["metadata"]["platformTimestampPrecisionMs"] == 1000
    assert event["payload"]["text"] == "timed" and event["payload"]["chatId"] == str(CHAT)


@pytest.mark.parametrize("update_type", ["edited_message", "channel_post"])
def test_edited_messages_and_channel_posts_are_stored(runtime, live_server, sandbox, new_instance, stored, update_type):
    new_instance()
    update = sandbox.update("changed", chat_id=-100123, update_type=update_type)
    assert sandbox.post(update).status_code == 200
    message = stored()
    assert message.text == "changed" and message.chat_id == "-100123"
    journey = journey_when(live_server, message.correlation_id, lambda j: j["status"] == "completed")
    assert stages(journey)["T0"] == update[update_type].get("edit_date", update[update_type]["date"]) * 1000.0


def test_garbage_date_gives_no_t0_but_the_rest_is_tracked(runtime, live_server, sandbox, new_instance, stored):
    new_instance()
    assert sandbox.post(sandbox.update("undated", date="yesterday")).status_code == 200
    message = stored()
    journey = journey_when(live_server, message.correlation_id, lambda j: j["status"] == "completed")
    assert [c["stage"] for c in journey["checkpoints"]] == ["T1", "T2", "T3", "T4"]
    assert "channelProcessing" not in journey["latencies"]


@pytest.mark.parametrize("secret", ["wrong-secret", ""], ids=["wrong", "missing"])
def test_wrong_or_missing_secret_token_is_refused_and_nothing_is_published(
    runtime, live_server, sandbox, new_instance, secret
):
    new_instance()
    response = sandbox.post(sandbox.update("intruder"), secret=secret)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_SECRET_TOKEN"
    assert stream_messages(runtime) == 0
    assert not Message.objects.exists() and len(get_journey_tracker()) == 0


def test_instance_without_a_webhook_secret_refuses_every_update(runtime, live_server, sandbox, new_instance):
    new_instance(webhook_secret="")
    response = sandbox.post(sandbox.update("open door?"), secret="anything")
    assert response.status_code == 403 and response.json()["error"]["code"] == "WEBHOOK_NOT_CONFIGURED"
    assert stream_messages(runtime) == 0


def test_secret_of_one_instance_is_refused_by_another(runtime, live_server, sandbox, new_instance):
    new_instance(webhook_secret="secret-of-b")
    response = sandbox.post(sandbox.update("hi"), secret=SECRET)
    assert response.status_code == 401
    assert stream_messages(runtime) == 0


def test_malformed_json_is_refused_with_invalid_json(runtime, live_server, sandbox, new_instance):
    new_instance()
    response = sandbox.post(None, raw=b'{"update_id": 1, "message": ')
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_JSON"
    assert stream_messages(runtime) == 0


@pytest.mark.parametrize(
    ("payload", "code"),
    [({"update_id": 5}, "NO_MESSAGE"), ([1, 2], "NO_MESSAGE"), ({"update_id": 5, "message": {}}, "INVALID_PAYLOAD")],
)
def test_payload_without_a_usable_message_is_refused(runtime, live_server, sandbox, new_instance, payload, code):
    new_instance()
    response = sandbox.post(payload)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert stream_messages(runtime) == 0 and not Message.objects.exists()


def test_update_type_we_do_not_handle_is_acknowledged_and_counted(runtime, live_server, sandbox, new_instance):
    new_instance()
    before = ignored_counts().get(("telegram", "callback_query"), 0)
    response = sandbox.post({"update_id": 77, "callback_query": {"id": "cb-1", "data": "yes"}})
    assert response.status_code == 200 and response.json()["ignored"] == 1
    assert ignored_counts()[("telegram", "callback_query")] == before + 1
    assert stream_messages(runtime) == 0


def test_non_json_content_type_is_refused_with_415(runtime, live_server, sandbox, new_instance):
    new_instance()
    response = httpx.post(
        sandbox.webhook_url,
        content=b"update_id=1",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert response.status_code == 415 and response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_body_above_the_upload_limit_is_refused_with_413(runtime, live_server, sandbox, new_instance, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 512
    new_instance()
    response = sandbox.post(sandbox.update("x" * 1000))
    assert response.status_code == 413 and response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert stream_messages(runtime) == 0


def test_unknown_instance_and_other_channel_type_are_not_found(runtime, live_server, sandbox):
    whatsapp = Instance.objects.create(name="wa", channel_type="whatsapp", webhook_secret=SECRET)
    for instance_id in ["3f0e9a52-0000-4000-8000-000000000000", "not-a-uuid", str(whatsapp.pk)]:
        sandbox.instance_id = instance_id
        response = sandbox.post(sandbox.update("hello?"))
        assert response.status_code == 404 and response.json()["error"]["code"] == "INSTANCE_NOT_FOUND"


def test_get_is_not_allowed(runtime, live_server, sandbox, new_instance):
    new_instance()
    response = httpx.get(sandbox.webhook_url)
    assert response.status_code == 405 and response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_nats_down_answers_503_and_the_retried_update_is_stored_once(
    nats_outage, live_server, sandbox, new_instance, stored
):
    new_instance()
    update = sandbox.update("while down")
    with nats_outage():
        response = sandbox.post(update)
        assert response.status_code == 503 and response.json()["error"]["code"] == "NATS_UNAVAILABLE"
        assert not Message.objects.exists()
    assert sandbox.post(update).status_code == 200  # Telegram retries the same update
    assert sandbox.post(update).status_code == 200  # ... and once more: still one message
    message = stored()
    time.sleep(0.3)
    assert Message.objects.filter(direction=Message.INBOUND).count() == 1
    assert message.text == "while down"


# --- outbound: sendMessage errors per the Bot API ------------------------------------------------------


def test_429_with_retry_after_is_retried_after_that_delay_then_sent(
    runtime, live_server, sandbox, new_instance, outcome
):
    instance = new_instance()
    sandbox.retry_after_s = 1
    sandbox.fail_next(429)
    message = outcome(send_via_api(live_server, str(instance.pk), str(CHAT), "eventually"))
    assert message.status == Message.SENT and message.attempts == 2
    first, second = sandbox.attempts
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.9  # the dispatcher honoured parameters.retry_after
    assert sandbox.sends == [{"chat_id": str(CHAT), "text": "eventually"}]


def test_5xx_is_transient_and_retried(runtime, live_server, sandbox, new_instance, outcome):
    instance = new_instance()
    sandbox.fail_next(500, count=2)
    message = outcome(send_via_api(live_server, str(instance.pk), str(CHAT)))
    assert message.status == Message.SENT and message.attempts == 3
    assert [a.status for a in sandbox.attempts] == [500, 500, 200]


def test_blocked_bot_fails_the_message_permanently_with_the_reason(
    runtime, live_server, sandbox, new_instance, outcome
):
    instance = new_instance()
    sandbox.blocked_chats.add(str(CHAT))
    message = outcome(send_via_api(live_server, str(instance.pk), str(CHAT)))
    assert message.status == Message.FAILED and message.attempts == 1
    assert "403" in message.error and "bot was blocked by the user" in message.error
    assert sandbox.sends == [] and [a.status for a in sandbox.attempts] == [403]


def test_wrong_bot_token_fails_permanently_without_leaking_it(runtime, live_server, sandbox, new_instance, outcome):
    instance = new_instance(token="999:not-the-token")
    message = outcome(send_via_api(live_server, str(instance.pk), str(CHAT)))
    assert message.status == Message.FAILED and "401" in message.error
    assert "not-the-token" not in message.error


def test_unreachable_telegram_is_retried_then_given_up(
    runtime, live_server, sandbox, new_instance, outcome, monkeypatch
):
    from messaging.consumers import OutboundDispatcher

    monkeypatch.setattr(OutboundDispatcher, "max_attempts", 2)
    monkeypatch.setattr(OutboundDispatcher, "backoff_s", 0.01)
    instance = new_instance(token=TOKEN, base_url="http://127.0.0.1:9")  # nothing listens there
    message = outcome(send_via_api(live_server, str(instance.pk), str(CHAT)))
    assert message.status == Message.FAILED and message.attempts == 2
    assert "gave up after 2 attempts" in message.error and "unreachable" in message.error
    assert TOKEN not in message.error
