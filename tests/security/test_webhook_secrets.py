"""Webhook secrets and signatures are enforced per instance (issue 6, "Security").

A Telegram secret token or a WhatsApp signature that is right for one instance is refused by another;
an instance without a secret refuses everything (fail closed); comparisons are constant-time; a rotated
secret takes effect at once. Accepted requests go through the real bus (200 = durable in JetStream).
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json

import pytest
from django.test import Client

from channels_plugins import webhooks
from channels_plugins.telegram import views as telegram_views
from channels_plugins.whatsapp import views as whatsapp_views
from messaging.models import Instance
from tests.conftest import API_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

UPDATE = {"update_id": 1, "message": {"message_id": 1, "date": 1733200000, "chat": {"id": 7}, "text": "hi"}}
MESSAGE = {"from": "15551234567", "id": "wamid.1", "timestamp": "1733200000", "type": "text", "text": {"body": "hi"}}
WEBHOOK = json.dumps({"entry": [{"changes": [{"field": "messages", "value": {"messages": [MESSAGE]}}]}]}).encode()


def telegram(instance: Instance, secret: str | None, update: dict = UPDATE):
    headers = {} if secret is None else {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret}
    return Client().post(
        f"/api/v2/webhooks/telegram/{instance.pk}", data=update, content_type="application/json", **headers
    )


def whatsapp(instance: Instance, signature: str | None, body: bytes = WEBHOOK):
    headers = {} if signature is None else {"HTTP_X_HUB_SIGNATURE_256": signature}
    return Client().post(
        f"/api/v2/webhooks/whatsapp/{instance.pk}", data=body, content_type="application/json", **headers
    )


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


@pytest.fixture
def telegram_pair():
    return [
        Instance.objects.create(name=f"tg-{n}", channel_type="telegram", webhook_secret=f"tg-secret-{n}")
        for n in ("a", "b")
    ]


@pytest.fixture
def whatsapp_pair():
    return [
        Instance.objects.create(
            name=f"wa-{n}",
            channel_type="whatsapp",
            webhook_secret=f"wa-app-secret-{n}",
            config={"verifyToken": f"verify-{n}"},
        )
        for n in ("a", "b")
    ]


def test_telegram_secret_token_of_one_instance_is_refused_by_another(runtime, telegram_pair):
    a, b = telegram_pair
    refused(telegram(a, "tg-secret-b"), 401, "INVALID_SECRET_TOKEN")
    refused(telegram(b, "tg-secret-a"), 401, "INVALID_SECRET_TOKEN")
    assert telegram(a, "tg-secret-a").status_code == 200
    assert telegram(b, "tg-secret-b").status_code == 200


@pytest.mark.parametrize(
    "secret", [None, "", "TG-SECRET-A", "tg-secret-a ", "tg-secret-", "tg-secret-a\x00", "tg-secret-ab"]
)
def test_telegram_secret_token_must_match_exactly(runtime, telegram_pair, secret):
    refused(telegram(telegram_pair[0], secret), 401, "INVALID_SECRET_TOKEN")


def test_whatsapp_signature_for_one_instance_is_refused_by_another(runtime, whatsapp_pair):
    a, b = whatsapp_pair
    refused(whatsapp(a, sign(WEBHOOK, "wa-app-secret-b")), 401, "INVALID_SIGNATURE")
    refused(whatsapp(b, sign(WEBHOOK, "wa-app-secret-a")), 401, "INVALID_SIGNATURE")
    assert whatsapp(a, sign(WEBHOOK, "wa-app-secret-a")).status_code == 200
    assert whatsapp(b, sign(WEBHOOK, "wa-app-secret-b")).status_code == 200


def test_whatsapp_signature_covers_the_exact_body(runtime, whatsapp_pair):
    a = whatsapp_pair[0]
    good = sign(WEBHOOK, "wa-app-secret-a")
    tampered = WEBHOOK.replace(b'"hi"', b'"hI"')
    refused(whatsapp(a, good, tampered), 401, "INVALID_SIGNATURE")
    refused(whatsapp(a, good, WEBHOOK + b" "), 401, "INVALID_SIGNATURE")
    for signature in [None, "", good.removeprefix("sha256="), "sha1=" + good[7:], good[:-1], good + "0", "sha256="]:
        refused(whatsapp(a, signature), 401, "INVALID_SIGNATURE")
    # Header case is not part of the secret: Meta sends lower-case hex, upper-case is the same digest.
    assert whatsapp(a, good.upper()).status_code == 200


def test_whatsapp_verify_token_of_one_instance_is_refused_by_another(whatsapp_pair):
    a, b = whatsapp_pair
    query = {"hub.mode": "subscribe", "hub.challenge": "12345"}
    response = Client().get(f"/api/v2/webhooks/whatsapp/{b.pk}", {**query, "hub.verify_token": "verify-a"})
    refused(response, 403, "VERIFICATION_FAILED")
    response = Client().get(f"/api/v2/webhooks/whatsapp/{a.pk}", {**query, "hub.verify_token": "verify-a"})
    assert response.status_code == 200 and response.content == b"12345"


def test_instances_without_a_secret_refuse_everything(runtime):
    tg = Instance.objects.create(name="tg", channel_type="telegram")
    wa = Instance.objects.create(name="wa", channel_type="whatsapp")
    for secret in [None, "", "anything"]:
        refused(telegram(tg, secret), 403, "WEBHOOK_NOT_CONFIGURED")
    for signature in [None, sign(WEBHOOK, ""), "sha256=" + hashlib.sha256(WEBHOOK).hexdigest()]:
        refused(whatsapp(wa, signature), 403, "WEBHOOK_NOT_CONFIGURED")
    response = Client().get(f"/api/v2/webhooks/whatsapp/{wa.pk}", {"hub.mode": "subscribe", "hub.verify_token": ""})
    refused(response, 403, "VERIFICATION_FAILED")


def test_a_rotated_secret_takes_effect_at_once(runtime, api_client, telegram_pair, whatsapp_pair):
    tg, wa = telegram_pair[0], whatsapp_pair[0]
    assert telegram(tg, "tg-secret-a").status_code == 200  # cached by the webhook path from here on
    assert whatsapp(wa, sign(WEBHOOK, "wa-app-secret-a")).status_code == 200
    for instance, secret in ((tg, "tg-rotated"), (wa, "wa-rotated")):
        response = api_client.patch(f"/api/v2/instances/{instance.pk}", {"webhookSecret": secret}, format="json")
        assert response.status_code == 200 and "webhookSecret" not in response.json()
    refused(telegram(tg, "tg-secret-a"), 401, "INVALID_SECRET_TOKEN")
    refused(whatsapp(wa, sign(WEBHOOK, "wa-app-secret-a")), 401, "INVALID_SIGNATURE")
    assert telegram(tg, "tg-rotated").status_code == 200
    assert whatsapp(wa, sign(WEBHOOK, "wa-rotated")).status_code == 200


def test_webhook_secrets_are_compared_in_constant_time(runtime, telegram_pair, whatsapp_pair, monkeypatch):
    assert "hmac.compare_digest(" in inspect.getsource(webhooks.same_secret)
    for view in (telegram_views, whatsapp_views):
        source = inspect.getsource(view)
        assert "same_secret(" in source and not any(f"{op} expected" in source for op in ("==", "!="))
    calls = []
    real = webhooks.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(webhooks.hmac, "compare_digest", spy)
    refused(telegram(telegram_pair[0], "nope"), 401, "INVALID_SECRET_TOKEN")
    refused(whatsapp(whatsapp_pair[0], "sha256=" + "0" * 64), 401, "INVALID_SIGNATURE")
    assert calls == [(b"nope", b"tg-secret-a"), (b"sha256=" + b"0" * 64, sign(WEBHOOK, "wa-app-secret-a").encode())]


def test_webhooks_ignore_the_api_key(runtime, telegram_pair):
    # The API key is not a webhook credential: it neither replaces nor weakens the platform secret.
    response = Client().post(
        f"/api/v2/webhooks/telegram/{telegram_pair[0].pk}",
        data=UPDATE,
        content_type="application/json",
        HTTP_X_API_KEY=API_KEY,
    )
    refused(response, 401, "INVALID_SECRET_TOKEN")
