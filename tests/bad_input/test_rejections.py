"""Bodies the hub refuses, with the one error shape: 413 above DATA_UPLOAD_MAX_MEMORY_SIZE, 400 INVALID_JSON
(malformed, not UTF-8, nested past any parser's depth), 415 for a non-JSON content type, 404 for an unknown
instance; on the JSON API and on both webhooks. Nothing here needs the bus: every refusal comes first."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest
from django.test import Client

from messaging.models import Instance, Message
from tests.conftest import API_KEY

pytestmark = pytest.mark.django_db

TG_SECRET = "tg-secret-bad-input"
WA_SECRET = "wa-app-secret-bad-input"
LIMIT = 4096
DEEP = b"[" * 200_000 + b"]" * 200_000  # past json's recursion limit and orjson's depth limit alike


@pytest.fixture(autouse=True)
def _small_upload_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT


@pytest.fixture
def telegram():
    return Instance.objects.create(name="tg", channel_type="telegram", token="1:tok", webhook_secret=TG_SECRET)


@pytest.fixture
def whatsapp():
    return Instance.objects.create(name="wa", channel_type="whatsapp", token="EAAG", webhook_secret=WA_SECRET)


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def post_api(path: str, body: bytes, content_type: str = "application/json"):
    return Client().post(path, data=body, content_type=content_type, HTTP_X_API_KEY=API_KEY)


def post_telegram(instance_id: str, body: bytes, content_type: str = "application/json"):
    return Client().post(
        f"/api/v2/webhooks/telegram/{instance_id}",
        data=body,
        content_type=content_type,
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=TG_SECRET,
    )


def post_whatsapp(instance_id: str, body: bytes, content_type: str = "application/json"):
    signature = "sha256=" + hmac.new(WA_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return Client().post(
        f"/api/v2/webhooks/whatsapp/{instance_id}",
        data=body,
        content_type=content_type,
        HTTP_X_HUB_SIGNATURE_256=signature,
    )


def send_body(text: str = "hi", instance_id: str | None = None) -> bytes:
    return json.dumps({"instanceId": instance_id or str(uuid.uuid4()), "to": "chat", "text": text}).encode()


# --- 413 ----------------------------------------------------------------------------------------------

OVERSIZED = json.dumps({"update_id": 1, "padding": "x" * (2 * LIMIT)}).encode()


@pytest.mark.parametrize("path", ["/api/v2/messages/send", "/api/v2/instances"])
def test_api_body_above_the_upload_limit_is_413_with_the_error_shape(path):
    error = error_of(post_api(path, OVERSIZED), 413, "PAYLOAD_TOO_LARGE")
    assert str(LIMIT) in error["message"]


def test_api_body_just_below_the_upload_limit_is_parsed():
    body = send_body("x" * 100)
    body += b" " * (LIMIT - len(body))  # whitespace pads the JSON to exactly the limit
    assert len(body) == LIMIT
    error_of(post_api("/api/v2/messages/send", body), 404, "INSTANCE_NOT_FOUND")


def test_api_instance_update_above_the_upload_limit_is_413(api_client):
    instance = Instance.objects.create(name="big", channel_type="discord")
    response = Client().patch(
        f"/api/v2/instances/{instance.pk}", data=OVERSIZED, content_type="application/json", HTTP_X_API_KEY=API_KEY
    )
    error_of(response, 413, "PAYLOAD_TOO_LARGE")
    instance.refresh_from_db()
    assert instance.name == "big"


def test_webhook_bodies_above_the_upload_limit_are_413(telegram, whatsapp):
    error_of(post_telegram(str(telegram.pk), OVERSIZED), 413, "PAYLOAD_TOO_LARGE")
    error_of(post_whatsapp(str(whatsapp.pk), OVERSIZED), 413, "PAYLOAD_TOO_LARGE")


# --- 400 INVALID_JSON ----------------------------------------------------------------------------------

BAD_JSON = {
    "truncated": b'{"update_id": 1, "message": ',
    "not json": b"hello",
    "trailing garbage": b'{"a": 1} x',
    "not utf-8": b'{"text": "\xff\xfe"}',
    "nested too deep": DEEP[: LIMIT // 2] + DEEP[-(LIMIT // 2) :],
    "NaN": b'{"date": NaN}',
    "lone surrogate": b'{"text": "\\ud800"}',
}


@pytest.mark.parametrize("body", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_api_invalid_json_is_400_invalid_json(body):
    error_of(post_api("/api/v2/messages/send", body), 400, "INVALID_JSON")
    error_of(post_api("/api/v2/instances", body), 400, "INVALID_JSON")
    assert not Instance.objects.exists() and not Message.objects.exists()


@pytest.mark.parametrize("body", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_webhook_invalid_json_is_400_invalid_json(telegram, whatsapp, body):
    error_of(post_telegram(str(telegram.pk), body), 400, "INVALID_JSON")
    error_of(post_whatsapp(str(whatsapp.pk), body), 400, "INVALID_JSON")


def test_deeply_nested_json_below_the_upload_limit_is_refused_everywhere(settings, telegram, whatsapp):
    # 1 MB of brackets: json's recursion limit raised RecursionError (a 500) before the fix.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(DEEP) + 1
    error_of(post_api("/api/v2/messages/send", DEEP), 400, "INVALID_JSON")
    error_of(post_api("/api/v2/instances", DEEP), 400, "INVALID_JSON")
    error_of(post_telegram(str(telegram.pk), DEEP), 400, "INVALID_JSON")
    error_of(post_whatsapp(str(whatsapp.pk), DEEP), 400, "INVALID_JSON")


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null", b'[{"instanceId": "x"}]'])
def test_api_json_that_is_not_an_object_is_a_validation_error(body):
    error_of(post_api("/api/v2/messages/send", body), 400, "VALIDATION_ERROR")
    error_of(post_api("/api/v2/instances", body), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null", b"{}"])
def test_webhook_json_that_is_no_update_is_400_no_message(telegram, whatsapp, body):
    error_of(post_telegram(str(telegram.pk), body), 400, "NO_MESSAGE")
    error_of(post_whatsapp(str(whatsapp.pk), body), 400, "NO_MESSAGE")


def test_api_nul_characters_are_refused_not_stored():
    # PostgreSQL cannot store NUL in text or jsonb: refused as invalid input, never a 500 on insert.
    response = post_api("/api/v2/messages/send", send_body("a\x00b"))
    error_of(response, 400, "VALIDATION_ERROR")
    body = json.dumps({"name": "n", "channelType": "telegram", "config": {"k": ["a\x00b"]}}).encode()
    error_of(post_api("/api/v2/instances", body), 400, "VALIDATION_ERROR")
    body = json.dumps({"name": "n", "channelType": "telegram", "config": {"a\x00": 1}}).encode()
    error_of(post_api("/api/v2/instances", body), 400, "VALIDATION_ERROR")
    assert not Instance.objects.exists()


def test_api_instance_config_nested_too_deep_is_refused(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    config: dict = {}
    for _ in range(900):  # parses, but json.dumps deep inside the ORM would overflow the stack
        config = {"k": config}
    body = json.dumps({"name": "n", "channelType": "telegram", "config": config}).encode()
    error_of(post_api("/api/v2/instances", body), 400, "VALIDATION_ERROR")
    assert not Instance.objects.exists()


# --- 415 ----------------------------------------------------------------------------------------------

NOT_JSON_TYPES = ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"]


@pytest.mark.parametrize("content_type", NOT_JSON_TYPES)
def test_api_non_json_content_type_is_415(content_type):
    body = b"instanceId=x&to=y&text=z"
    error_of(post_api("/api/v2/messages/send", body, content_type), 415, "UNSUPPORTED_MEDIA_TYPE")
    error_of(post_api("/api/v2/instances", body, content_type), 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("content_type", NOT_JSON_TYPES)
def test_webhook_non_json_content_type_is_415(telegram, whatsapp, content_type):
    body = b'{"update_id": 1}'
    error_of(post_telegram(str(telegram.pk), body, content_type), 415, "UNSUPPORTED_MEDIA_TYPE")
    error_of(post_whatsapp(str(whatsapp.pk), body, content_type), 415, "UNSUPPORTED_MEDIA_TYPE")


# --- 404 ----------------------------------------------------------------------------------------------

UNKNOWN_IDS = [str(uuid.uuid4()), "not-a-uuid", "0" * 36, "%00", "x" * 300]


@pytest.mark.parametrize("instance_id", UNKNOWN_IDS)
def test_api_send_to_an_unknown_instance_is_404(instance_id):
    error_of(post_api("/api/v2/messages/send", send_body(instance_id=instance_id[:100])), 404, "INSTANCE_NOT_FOUND")


@pytest.mark.parametrize("instance_id", [str(uuid.uuid4()), "0" * 32, "-" * 36, "ABCDEF" * 6])
def test_api_unknown_instance_resource_is_404(api_client, instance_id):
    for method in ("get", "put", "patch", "delete"):
        response = getattr(api_client, method)(f"/api/v2/instances/{instance_id}", {}, format="json")
        error_of(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("instance_id", UNKNOWN_IDS)
def test_webhooks_for_an_unknown_instance_are_404(instance_id):
    body = b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "date": 1733200000}}'
    error_of(post_telegram(instance_id, body), 404, "INSTANCE_NOT_FOUND")
    error_of(post_whatsapp(instance_id, body), 404, "INSTANCE_NOT_FOUND")
    response = Client().get(f"/api/v2/webhooks/whatsapp/{instance_id}", {"hub.mode": "subscribe"})
    error_of(response, 404, "INSTANCE_NOT_FOUND")


def test_webhook_of_the_other_channel_type_is_404(telegram, whatsapp):
    error_of(post_telegram(str(whatsapp.pk), b"{}"), 404, "INSTANCE_NOT_FOUND")
    error_of(post_whatsapp(str(telegram.pk), b"{}"), 404, "INSTANCE_NOT_FOUND")


def test_unknown_api_route_is_404_with_the_error_shape():
    error_of(Client().get("/api/v2/no-such-thing", HTTP_X_API_KEY=API_KEY), 404, "NOT_FOUND")


# --- outside the API views: Django's own 400s keep the error shape -----------------------------------------


def test_a_disallowed_host_is_a_json_400():
    error_of(Client().get("/api/v2/health", HTTP_HOST="evil.example"), 400, "BAD_REQUEST")


def test_an_oversized_form_outside_the_api_is_a_json_413():
    # The admin's CSRF check reads the form before any view: Django raises RequestDataTooBig there.
    body = "username=a&password=" + "x" * (2 * LIMIT)
    response = Client().post("/admin/login/", data=body, content_type="application/x-www-form-urlencoded")
    error_of(response, 413, "PAYLOAD_TOO_LARGE")
