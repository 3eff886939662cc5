"""The WhatsApp Cloud API plugin in a running server: the sandbox POSTs signed webhooks to the live
endpoint, the pipeline (real NATS, real database) stores them, an agent replies, the sandbox accepts
the send and later POSTs a signed `delivered` status (T12)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from channels_plugins.webhooks import ignored_counts
from channels_plugins.whatsapp.sandbox import WhatsAppSandbox
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

APP_SECRET = "wa-app-secret-1"
ACCESS_TOKEN = "EAAG-sandbox-access"
PHONE_NUMBER_ID = "106540352242922"
VERIFY_TOKEN = "verify-me-please"
WA_ID = "15551234567"
CONFIG = {"phoneNumberId": PHONE_NUMBER_ID, "verifyToken": VERIFY_TOKEN}


@pytest.fixture
def sandbox(live_server):
    server = WhatsAppSandbox(
        access_token=ACCESS_TOKEN,
        phone_number_id=PHONE_NUMBER_ID,
        hub_url=live_server.url,
        app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN,
    )
    with server:
        yield server


@pytest.fixture
def instance_defaults():
    return {
        "name": "wa",
        "channel_type": "whatsapp",
        "token": ACCESS_TOKEN,
        "webhook_secret": APP_SECRET,
        "config": CONFIG,
    }


def test_message_is_stored_the_reply_is_sent_and_its_delivery_records_t12(
    runtime, live_server, sandbox, new_instance, stored
):
    with Agent(live_server.url, text="pong") as agent:
        instance = new_instance(agent.url)
        webhook = sandbox.message_webhook("ping", wa_id=WA_ID)
        response = sandbox.post(webhook)
        assert response.status_code == 200 and response.json()["published"] == 1
        message = stored()
        replied = journey_when(live_server, message.correlation_id, lambda j: j["status"] == "completed")
        journey = journey_when(live_server, message.correlation_id, lambda j: "T12" in stages(j))

    inbound = webhook["entry"][0]["changes"][0]["value"]["messages"][0]
    assert (message.external_id, message.chat_id, message.text) == (inbound["id"], WA_ID, "ping")
    assert replied["path"] == "replied" and journey["channelType"] == "whatsapp"
    assert journey["instanceId"] == str(instance.pk)
    t0 = journey["checkpoints"][0]
    assert t0["stage"] == "T0" and t0["precisionMs"] == 1000 and t0["timestamp"] == int(inbound["timestamp"]) * 1000.0
    assert_ordered(journey, INBOUND)
    assert_ordered(journey, ["T5", *OUTBOUND])
    assert [c["stage"] for c in journey["checkpoints"]][-1] == "T12"
    assert "deliveryReceipt" in journey["latencies"]
    # The sandbox got a Cloud API text message; its wamid is the outbound row's platform id, now delivered.
    [sent] = sandbox.sends
    expected = {"messaging_product": "whatsapp", "to": WA_ID, "type": "text", "text": {"body": "pong"}}
    assert {k: sent[k] for k in expected} == expected
    assert sandbox.attempts[0].path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    outbound = wait_for(lambda: Message.objects.filter(direction=Message.OUTBOUND, status=Message.DELIVERED).first())
    assert outbound.platform_message_id == sent["wamid"] and outbound.correlation_id == message.correlation_id
    assert sandbox.receipts == [(sent["wamid"], 200)]
    # T12 is the platform's whole-second timestamp of the delivery.
    assert stages(journey)["T12"] % 1000 == 0


def test_without_agent_the_journey_has_t0_to_t4_in_order(runtime, live_server, sandbox, new_instance, stored):
    new_instance()
    [response] = sandbox.emit(1)
    assert response.status_code == 200
    journey = journey_when(live_server, stored().correlation_id, lambda j: j["status"] == "completed")
    assert journey["path"] == "no-agent"
    assert [c["stage"] for c in journey["checkpoints"]] == ["T0", "T1", "T2", "T3", "T4"]
    assert_ordered(journey, ["T1", "T2", "T3", "T4"])


def test_published_event_carries_t0_t1_t2_in_its_timings(runtime, live_server, sandbox, new_instance):
    instance = new_instance()
    events = subscribe(runtime, f"message.received.whatsapp.{instance.pk}")
    webhook = sandbox.message_webhook("timed")
    assert sandbox.post(webhook).status_code == 200
    [raw] = wait_for(lambda: events)
    timings = json.loads(raw)["metadata"]["timings"]
    assert set(timings) == {"platformReceivedAt", "pluginReceivedAt", "eventPublishedAt"}
    inbound = webhook["entry"][0]["changes"][0]["value"]["messages"][0]
    assert timings["platformReceivedAt"] == int(inbound["timestamp"]) * 1000.0
    assert timings["pluginReceivedAt"] <= timings["eventPublishedAt"]


def test_api_version_from_config_is_used_for_sends(runtime, live_server, sandbox, new_instance, outcome):
    sandbox.deliver_after_ms = None
    instance = new_instance(config={"phoneNumberId": PHONE_NUMBER_ID, "apiVersion": "v19.0"})
    message = outcome(send_via_api(live_server, str(instance.pk), WA_ID))
    assert message.status == Message.SENT
    assert sandbox.attempts[0].path == f"/v19.0/{PHONE_NUMBER_ID}/messages"


def test_image_message_is_stored_with_its_type_and_summary(runtime, live_server, sandbox, new_instance, stored):
    new_instance()
    assert sandbox.post(sandbox.message_webhook(kind="image")).status_code == 200
    message = stored()
    assert (message.message_type, message.text) == ("image", "[image]")


def test_several_messages_in_one_webhook_are_all_stored(runtime, live_server, sandbox, new_instance):
    new_instance()
    first, second = (sandbox.message_webhook(f"m{n}") for n in (1, 2))
    value = first["entry"][0]["changes"][0]["value"]
    value["messages"] += second["entry"][0]["changes"][0]["value"]["messages"]
    response = sandbox.post(first)
    assert response.status_code == 200 and response.json()["published"] == 2
    wait_for(lambda: Message.objects.filter(direction=Message.INBOUND).count() == 2)
    assert sorted(Message.objects.values_list("text", flat=True)) == ["m1", "m2"]


def test_garbage_timestamp_gives_no_t0_but_the_rest_is_tracked(runtime, live_server, sandbox, new_instance, stored):
    new_instance()
    assert sandbox.post(sandbox.message_webhook("undated", timestamp="yesterday")).status_code == 200
    journey = journey_when(live_server, stored().correlation_id, lambda j: j["status"] == "completed")
    assert [c["stage"] for c in journey["checkpoints"]] == ["T1", "T2", "T3", "T4"]


@pytest.mark.parametrize(
    "signature",
    ["sha256=" + "0" * 64, "", "sha1=abc", "not-a-signature"],
    ids=["wrong-digest", "missing", "other-algorithm", "garbage"],
)
def test_bad_signature_is_refused_and_nothing_is_published(runtime, live_server, sandbox, new_instance, signature):
    new_instance()
    content = json.dumps(sandbox.message_webhook("intruder")).encode()
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["X-Hub-Signature-256"] = signature
    response = httpx.post(sandbox.webhook_url, content=content, headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert stream_messages(runtime) == 0
    assert not Message.objects.exists() and len(get_journey_tracker()) == 0


def test_signature_over_a_tampered_body_is_refused(runtime, live_server, sandbox, new_instance):
    new_instance()
    content = json.dumps(sandbox.message_webhook("original")).encode()
    signature = sandbox.sign(content)
    response = sandbox.post(None, raw=content.replace(b"original", b"tampered"), signature=signature)
    assert response.status_code == 401
    assert stream_messages(runtime) == 0


def test_signature_valid_for_one_instance_is_refused_by_another(runtime, live_server, sandbox, new_instance, stored):
    new_instance(webhook_secret="secret-of-a")
    other = new_instance(webhook_secret="secret-of-b")
    assert sandbox.instance_id == str(other.pk)
    response = sandbox.post(sandbox.message_webhook("for a"), secret="secret-of-a")
    assert response.status_code == 401
    assert sandbox.post(sandbox.message_webhook("for b"), secret="secret-of-b").status_code == 200
    assert stored().text == "for b"


def test_uppercase_hex_signature_is_accepted(runtime, live_server, sandbox, new_instance):
    new_instance()
    content = json.dumps(sandbox.message_webhook("shouting")).encode()
    signature = "sha256=" + sandbox.sign(content).removeprefix("sha256=").upper()
    assert sandbox.post(None, raw=content, signature=signature).status_code == 200


def test_instance_without_an_app_secret_refuses_every_webhook(runtime, live_server, sandbox, new_instance):
    new_instance(webhook_secret="")
    response = sandbox.post(sandbox.message_webhook("open door?"), secret="")
    assert response.status_code == 403 and response.json()["error"]["code"] == "WEBHOOK_NOT_CONFIGURED"
    assert stream_messages(runtime) == 0


def test_malformed_json_is_refused_with_invalid_json(runtime, live_server, sandbox, new_instance):
    new_instance()
    response = sandbox.post(None, raw=b'{"object": "whatsapp_business_account", "entry": [')
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_JSON"
    assert stream_messages(runtime) == 0


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"object": "whatsapp_business_account", "entry": []}, "NO_MESSAGE"),
        ({"hello": "world"}, "NO_MESSAGE"),
        (
            {"entry": [{"changes": [{"field": "messages", "value": {"messages": [{"type": "text"}]}}]}]},
            "INVALID_PAYLOAD",
        ),
    ],
)
def test_payload_without_a_usable_message_is_refused(runtime, live_server, sandbox, new_instance, payload, code):
    new_instance()
    response = sandbox.post(payload)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert stream_messages(runtime) == 0 and not Message.objects.exists()


def test_webhook_fields_we_do_not_handle_are_acknowledged_and_counted(runtime, live_server, sandbox, new_instance):
    new_instance()
    before = ignored_counts().get(("whatsapp", "account_update"), 0)
    change = {"field": "account_update", "value": {"event": "VERIFIED"}}
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
    response = sandbox.post(payload)
    assert response.status_code == 200 and response.json()["ignored"] == 1
    assert ignored_counts()[("whatsapp", "account_update")] == before + 1
    assert stream_messages(runtime) == 0


def test_read_status_and_unknown_delivered_ids_are_acknowledged(runtime, live_server, sandbox, new_instance):
    new_instance()
    before = ignored_counts().get(("whatsapp", "unmatched_receipt"), 0)
    read = sandbox.post(sandbox.status_webhook("wamid.nope", WA_ID, status="read"))
    delivered = sandbox.post(sandbox.status_webhook("wamid.nope", WA_ID))
    assert (read.status_code, delivered.status_code) == (200, 200)
    assert delivered.json()["receipts"] == 0
    assert ignored_counts()[("whatsapp", "unmatched_receipt")] == before + 1


def test_non_json_content_type_is_refused_with_415(runtime, live_server, sandbox, new_instance):
    new_instance()
    content = b"entry=1"
    response = httpx.post(
        sandbox.webhook_url,
        content=content,
        headers={"Content-Type": "text/plain", "X-Hub-Signature-256": sandbox.sign(content)},
    )
    assert response.status_code == 415 and response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_body_above_the_upload_limit_is_refused_with_413(runtime, live_server, sandbox, new_instance, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 512
    new_instance()
    response = sandbox.post(sandbox.message_webhook("x" * 1000))
    assert response.status_code == 413 and response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_telegram_instance_is_not_found_on_the_whatsapp_webhook(runtime, live_server, sandbox):
    telegram = Instance.objects.create(name="tg", channel_type="telegram", webhook_secret=APP_SECRET)
    sandbox.instance_id = str(telegram.pk)
    response = sandbox.post(sandbox.message_webhook("hello?"))
    assert response.status_code == 404 and response.json()["error"]["code"] == "INSTANCE_NOT_FOUND"


# --- subscription verification (GET) ---------------------------------------------------------------


def test_verification_with_the_right_token_answers_the_challenge_as_text(runtime, live_server, sandbox, new_instance):
    new_instance()
    response = sandbox.subscribe(challenge="1158201444")
    assert response.status_code == 200 and response.text == "1158201444"
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("query", "config"),
    [
        ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"}, CONFIG),
        ({"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}, CONFIG),
        ({"hub.challenge": "1"}, CONFIG),
        ({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, {"phoneNumberId": PHONE_NUMBER_ID}),
    ],
    ids=["wrong-token", "wrong-mode", "no-parameters", "instance-without-verify-token"],
)
def test_verification_failure_is_forbidden(runtime, live_server, sandbox, new_instance, query, config):
    new_instance(config=config)
    response = httpx.get(sandbox.webhook_url, params=query)
    assert response.status_code == 403 and response.json()["error"]["code"] == "VERIFICATION_FAILED"
    assert response.text != "1"  # the challenge is never echoed


def test_nats_down_answers_503_and_the_retried_webhook_is_stored_once(
    nats_outage, live_server, sandbox, new_instance, stored
):
    new_instance()
    webhook = sandbox.message_webhook("while down")
    with nats_outage():
        response = sandbox.post(webhook)
        assert response.status_code == 503 and response.json()["error"]["code"] == "NATS_UNAVAILABLE"
        assert not Message.objects.exists()
    assert sandbox.post(webhook).status_code == 200  # Meta retries the same webhook
    assert sandbox.post(webhook).status_code == 200
    assert stored().text == "while down"
    time.sleep(0.3)
    assert Message.objects.filter(direction=Message.INBOUND).count() == 1


# --- outbound: Cloud API errors -------------------------------------------------------------------------


def test_rate_limit_429_is_retried_then_sent(runtime, live_server, sandbox, new_instance, outcome):
    sandbox.deliver_after_ms = None
    sandbox.retry_after_s = 0.5
    instance = new_instance()
    sandbox.fail_next(429)
    message = outcome(send_via_api(live_server, str(instance.pk), WA_ID, "eventually"))
    assert message.status == Message.SENT and message.attempts == 2
    first, second = sandbox.attempts
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.4  # the Retry-After header paced the retry
    assert message.platform_message_id == sandbox.sends[0]["wamid"]


def test_server_error_is_transient_and_retried(runtime, live_server, sandbox, new_instance, outcome):
    sandbox.deliver_after_ms = None
    instance = new_instance()
    sandbox.fail_next(500)
    message = outcome(send_via_api(live_server, str(instance.pk), WA_ID))
    assert message.status == Message.SENT and [a.status for a in sandbox.attempts] == [500, 200]


def test_undeliverable_recipient_fails_the_message_permanently_with_the_reason(
    runtime, live_server, sandbox, new_instance, outcome
):
    instance = new_instance()
    sandbox.undeliverable.add(WA_ID)
    message = outcome(send_via_api(live_server, str(instance.pk), WA_ID))
    assert message.status == Message.FAILED and message.attempts == 1
    assert "Message undeliverable" in message.error and "131026" in message.error
    assert sandbox.sends == []


def test_wrong_access_token_fails_permanently(runtime, live_server, sandbox, new_instance, outcome):
    instance = new_instance(token="EAAG-expired")
    message = outcome(send_via_api(live_server, str(instance.pk), WA_ID))
    assert message.status == Message.FAILED and "401" in message.error and "code 190" in message.error


def test_instance_without_phone_number_id_fails_sends_permanently(runtime, live_server, sandbox, new_instance, outcome):
    instance = new_instance(config={"verifyToken": VERIFY_TOKEN})
    message = outcome(send_via_api(live_server, str(instance.pk), WA_ID))
    assert message.status == Message.FAILED and "phoneNumberId" in message.error
    assert sandbox.attempts == []


def test_a_receipt_that_overtakes_the_send_bookkeeping_is_applied_when_the_id_is_stored(
    runtime, live_server, sandbox, new_instance
):
    instance = new_instance()
    outbound = Message.objects.create(
        instance=instance, direction=Message.OUTBOUND, chat_id=WA_ID, external_id="ours-1", correlation_id="evt-r"
    )
    # The platform reports delivery before the dispatcher stored the platform's message id.
    response = sandbox.post(sandbox.status_webhook("wamid.early", WA_ID))
    assert response.status_code == 200
    time.sleep(0.1)
    Message.objects.filter(pk=outbound.pk).update(platform_message_id="wamid.early", status=Message.SENT)
    wait_for(lambda: Message.objects.get(pk=outbound.pk).status == Message.DELIVERED, timeout_s=10)
