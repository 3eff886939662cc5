import pytest

from messaging.models import Instance

pytestmark = pytest.mark.django_db

BODY = {
    "name": "support bot",
    "channelType": "telegram",
    "baseUrl": "http://127.0.0.1:8081",
    "token": "123:SECRET-TOKEN",
    "webhookSecret": "hook-secret",
    "agentUrl": "http://127.0.0.1:9000/agent",
    "agentReplyTimeoutMs": 30000,
    "config": {},
}


def test_create_returns_id_and_never_the_secrets(api_client):
    response = api_client.post("/api/v2/instances", BODY, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["id"] and data["channelType"] == "telegram"
    assert "token" not in data and "webhookSecret" not in data
    assert data["hasToken"] is True and data["hasWebhookSecret"] is True
    assert b"SECRET-TOKEN" not in response.content and b"hook-secret" not in response.content
    assert Instance.objects.get(pk=data["id"]).token == "123:SECRET-TOKEN"


def test_list_read_update_delete(api_client):
    created = api_client.post("/api/v2/instances", BODY, format="json").json()
    url = f"/api/v2/instances/{created['id']}"
    assert [i["id"] for i in api_client.get("/api/v2/instances").json()] == [created["id"]]
    assert api_client.get(url).json()["name"] == "support bot"
    patched = api_client.patch(url, {"name": "renamed", "agentUrl": ""}, format="json")
    assert patched.status_code == 200 and patched.json()["name"] == "renamed" and patched.json()["agentUrl"] == ""
    assert api_client.delete(url).status_code == 204
    assert api_client.get(url).status_code == 404
    assert api_client.get(url).json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channelType": "sms"}, "channelType"),
        ({"baseUrl": "not a url"}, "baseUrl"),
        ({"agentUrl": "ftp:/x"}, "agentUrl"),
        ({"name": ""}, "name"),
        ({"agentReplyTimeoutMs": 0}, "agentReplyTimeoutMs"),
    ],
)
def test_invalid_instance_is_a_400_naming_the_field(api_client, change, field):
    response = api_client.post("/api/v2/instances", {**BODY, **change}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in error["details"]


def test_instances_require_the_api_key(client):
    assert client.get("/api/v2/instances").status_code == 401
