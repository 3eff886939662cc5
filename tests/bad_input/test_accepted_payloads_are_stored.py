"""Payloads a parser accepts are published and stored, however odd their values (issue 6, "Bad input").

Before the fixes these answered 500 (an integer beyond 64 bits reached orjson) or were acknowledged and
then never stored (a NUL in the text: PostgreSQL refuses it, the consumer redelivered it forever).
Real NATS, the real database: run this module with DATABASE_URL=postgres://... too.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.test import Client

from messaging.models import Instance, Message
from tests.pipeline import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TG_SECRET = "tg-secret-stored"
WA_SECRET = "wa-secret-stored"


def post_telegram(instance: Instance, update: dict):
    return Client().post(
        f"/api/v2/webhooks/telegram/{instance.pk}",
        data=json.dumps(update),
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=TG_SECRET,
    )


def post_whatsapp(instance: Instance, payload: dict):
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(WA_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return Client().post(
        f"/api/v2/webhooks/whatsapp/{instance.pk}",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=signature,
    )


def stored(external_id: str) -> Message:
    return wait_for(Message.objects.filter(direction=Message.INBOUND, external_id=external_id).first)


def test_telegram_update_with_odd_values_is_stored(runtime):
    instance = Instance.objects.create(name="tg", channel_type="telegram", webhook_secret=TG_SECRET)
    update = {
        "update_id": 2**70,  # beyond 64 bits: json.loads kept it an int, orjson refused to encode it (a 500)
        "message": {
            "message_id": 9,
            "date": 10**30,  # no usable T0, still a message
            "chat": {"id": -100123, "type": "group"},
            "from": {"id": 5, "username": {"not": "a string"}},
            "text": "nul \x00 inside",  # PostgreSQL text cannot hold NUL
        },
    }
    response = post_telegram(instance, update)
    assert response.status_code == 200 and response.json()["published"] == 1, response.content
    message = stored("-100123:9")
    assert message.text == "nul  inside" and message.sender == "5"


def test_whatsapp_message_with_odd_values_is_stored(runtime):
    instance = Instance.objects.create(name="wa", channel_type="whatsapp", webhook_secret=WA_SECRET)
    value = {
        "metadata": {"phone_number_id": 2**64},
        "contacts": [{"wa_id": "15551234567", "profile": "not an object"}, 7],
        "messages": [
            {"from": "15551234567", "id": "wamid.\x00odd", "timestamp": "²", "type": "text", "text": {"body": "a\x00b"}}
        ],
        "statuses": 5,
    }
    payload = {"entry": [{"changes": [{"field": "messages", "value": value}]}]}
    response = post_whatsapp(instance, payload)
    assert response.status_code == 200 and response.json()["published"] == 1, response.content
    message = stored("wamid.odd")
    assert message.text == "ab" and message.chat_id == "15551234567"
