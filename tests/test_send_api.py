"""Validation of `POST /api/v2/messages/send` (the happy path is in tests/pipeline_e2e)."""

import uuid

import pytest

from messaging.models import Instance, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def instance():
    return Instance.objects.create(name="t", channel_type="telegram")


@pytest.mark.parametrize("missing", ["instanceId", "to", "text"])
def test_missing_field_is_a_400_naming_it(api_client, instance, missing):
    body = {"instanceId": str(instance.pk), "to": "chat", "text": "hi"}
    del body[missing]
    response = api_client.post("/api/v2/messages/send", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert missing in response.json()["error"]["details"]


def test_unknown_instance_is_a_404(api_client):
    body = {"instanceId": str(uuid.uuid4()), "to": "chat", "text": "hi"}
    response = api_client.post("/api/v2/messages/send", body, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "INSTANCE_NOT_FOUND"


def test_invalid_json_is_a_400(api_client):
    response = api_client.post("/api/v2/messages/send", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_JSON"


def test_wrong_content_type_is_a_415(api_client):
    response = api_client.post("/api/v2/messages/send", "to=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_without_a_running_bus_the_send_is_a_503_and_the_row_says_failed(api_client, instance):
    body = {"instanceId": str(instance.pk), "to": "chat", "text": "hi"}
    response = api_client.post("/api/v2/messages/send", body, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "NATS_UNAVAILABLE"
    assert Message.objects.get().status == Message.FAILED
