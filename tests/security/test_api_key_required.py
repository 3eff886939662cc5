"""Every `/api/v2/` route but the webhooks and health requires `X-API-Key` (CONTRACT §5, issue 6).

The test walks the URL conf itself, so a route added later is covered without anyone listing it: each
pattern becomes a concrete path (dummy ids where it has parameters, checked to resolve back to the same
view), then every method is tried without a key and with wrong ones, and must answer 401 with the error
shape. Webhooks authenticate with their platform's secret or signature instead (tests/security/
test_webhook_secrets.py); health is public by design.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from messaging import authentication
from tests.conftest import API_KEY

pytestmark = pytest.mark.django_db

PUBLIC = re.compile(r"^/api/v2/(webhooks/|health$)")
METHODS = ["get", "post", "put", "patch", "delete", "head", "options"]
DUMMIES = [str(uuid.uuid4()), "evt-00000000-0000-4000-8000-000000000000", "1", "x"]
WRONG_KEYS = ["wrong", API_KEY + "x", API_KEY[:-1], API_KEY.upper(), f" {API_KEY}", "ключ", "x" * 10_000]
# What the walk must find, so that it can never pass by finding nothing.
EXPECTED = {
    "/api/v2/journeys",
    "/api/v2/journeys/summary",
    "/api/v2/journeys/{}",
    "/api/v2/messages/send",
    "/api/v2/metrics",
    "/api/v2/instances",
    "/api/v2/instances/{}",
    "/api/v2/schema",
    "/api/v2/docs",
}


def walk(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    """(pattern text with `{name}` placeholders, URLPattern) for every route, depth first."""
    routes: list[tuple[str, URLPattern]] = []
    for entry in resolver.url_patterns:
        text = prefix + _template(str(entry.pattern))
        if isinstance(entry, URLResolver):
            routes.extend(walk(entry, text))
        else:
            routes.append((text, entry))
    return routes


def _template(pattern: str) -> str:
    """A route (`<str:instance_id>`) or a regex (`^instances/(?P<id>[0-9a-f-]{32,36})$`) as `…/{name}`."""
    pattern = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
    pattern = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)
    return pattern.removeprefix("^").removesuffix("$").replace("\\.", ".").replace("\\", "")


def concrete(template: str, pattern: URLPattern) -> str:
    """A path for `template` that resolves to `pattern`'s view, trying dummy values for its parameters."""
    for dummy in DUMMIES:
        path = "/" + re.sub(r"\{\w+\}", dummy, template)
        try:
            match = resolve(path)
        except Resolver404:
            continue
        if match.func is pattern.callback:
            return path
    raise AssertionError(f"no dummy value makes {template!r} resolve to its own view")


def api_routes() -> dict[str, str]:
    """{placeholder template ("/api/v2/instances/{}"): concrete path} for every protected route."""
    routes = {}
    for template, pattern in walk(get_resolver()):
        if not template.startswith("api/v2/"):
            continue
        path = concrete(template, pattern)
        if not PUBLIC.match(path):
            routes["/" + re.sub(r"\{\w+\}", "{}", template)] = path
    return routes


ROUTES = api_routes()


def test_the_walk_finds_every_known_protected_route():
    assert set(ROUTES) >= EXPECTED, f"missing: {EXPECTED - set(ROUTES)}"


def test_the_walk_leaves_out_only_the_webhooks_and_health():
    public = [
        concrete(template, pattern)
        for template, pattern in walk(get_resolver())
        if template.startswith("api/v2/") and PUBLIC.match("/" + template)
    ]
    assert sorted(re.sub(r"/[^/]+$", "/…", p) if "webhooks" in p else p for p in public) == [
        "/api/v2/health",
        "/api/v2/webhooks/telegram/…",
        "/api/v2/webhooks/whatsapp/…",
    ]


def assert_unauthorized(response, path: str, method: str) -> None:
    assert response.status_code == 401, f"{method.upper()} {path} answered {response.status_code} without a valid key"
    assert response["WWW-Authenticate"] == "ApiKey"
    if method == "head":
        assert not response.content
    elif response["Content-Type"].startswith("application/json"):
        error = response.json()["error"]
        assert error["code"] in {"UNAUTHORIZED", "INVALID_API_KEY"} and error["message"], error
    else:  # the schema (YAML) and docs (HTML) views render their refusal in their own format, with no content
        assert b"paths" not in response.content and b"swagger" not in response.content.lower()
    assert API_KEY.encode() not in response.content


@pytest.mark.parametrize("template", sorted(ROUTES))
@pytest.mark.parametrize("method", METHODS)
def test_every_method_of_every_api_route_without_a_key_is_401(template, method):
    path = ROUTES[template]
    assert_unauthorized(getattr(Client(), method)(path), path, method)


@pytest.mark.parametrize("template", sorted(ROUTES))
@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize("key", WRONG_KEYS, ids=lambda k: k[:12])
def test_every_api_route_with_a_wrong_key_is_401(template, method, key):
    path = ROUTES[template]
    response = getattr(Client(), method)(path, HTTP_X_API_KEY=key)
    assert_unauthorized(response, path, method)
    assert key.strip() not in response.content.decode(), "the answer echoes the key it refused"


@pytest.mark.parametrize("template", sorted(ROUTES))
def test_the_right_key_gets_past_authentication(api_client, template):
    response = api_client.get(ROUTES[template])
    assert response.status_code != 401, (template, response.content[:200])


def test_an_unset_server_key_accepts_nothing(settings):
    settings.OMNI_API_KEY = ""
    for key in ["", " ", "None", "null"]:
        for path in ROUTES.values():
            assert Client().get(path, HTTP_X_API_KEY=key).status_code == 401, (path, key)


def test_the_key_in_a_query_string_or_another_header_is_not_accepted():
    for path in ROUTES.values():
        assert Client().get(path, {"X-API-Key": API_KEY, "api_key": API_KEY}).status_code == 401, path
        assert Client().get(path, HTTP_AUTHORIZATION=f"ApiKey {API_KEY}").status_code == 401, path
        assert Client().get(path, HTTP_AUTHORIZATION=f"Bearer {API_KEY}").status_code == 401, path


def test_public_routes_stay_reachable_without_a_key():
    assert Client().get("/api/v2/health").status_code in (200, 503)
    assert Client().post(f"/api/v2/webhooks/telegram/{uuid.uuid4()}", {}).status_code == 404


def test_schema_and_docs_accept_a_staff_session_for_the_browser():
    # The Swagger page cannot send X-API-Key when it loads the schema: an admin login is the way in.
    staff = get_user_model().objects.create_user("ops", password="pw-irrelevant", is_staff=True)
    browser = Client()
    assert browser.get("/api/v2/docs").status_code == 401
    browser.force_login(staff)
    assert browser.get("/api/v2/docs").status_code == 200
    assert browser.get("/api/v2/schema").status_code == 200
    # The session opens the documentation only, never the API.
    assert browser.get("/api/v2/journeys/summary").status_code == 401
    assert browser.get("/api/v2/instances").status_code == 401


def test_the_api_key_is_compared_in_constant_time():
    source = Path(authentication.__file__).read_text()
    assert "hmac.compare_digest(" in source
    # No early-exit comparison of the supplied key anywhere in the module.
    assert not re.search(r"supplied\s*[!=]=|[!=]=\s*supplied|expected\s*[!=]=\s*supplied", source)


def test_constant_time_comparison_is_what_decides(monkeypatch, api_client):
    calls = []
    real = authentication.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(authentication.hmac, "compare_digest", spy)
    assert api_client.get("/api/v2/journeys/summary").status_code == 200
    assert Client().get("/api/v2/journeys/summary", HTTP_X_API_KEY="nope").status_code == 401
    assert calls == [(API_KEY.encode(), API_KEY.encode()), (b"nope", API_KEY.encode())]
