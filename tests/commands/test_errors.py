"""What the `journey` command says when it cannot answer: each CommandError tells the user what to do."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.commands.conftest import EXAMPLE_STEPS, put_journey
from tests.conftest import API_KEY

pytestmark = pytest.mark.django_db(transaction=True)


def journey(*args: str) -> str:
    out = io.StringIO()
    call_command("journey", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def no_connection_env(monkeypatch):
    monkeypatch.delenv("OMNI_API_URL", raising=False)
    monkeypatch.delenv("OMNI_API_KEY", raising=False)


@pytest.mark.parametrize("args", [("show", "evt-1"), ("summary",), ("list",)], ids=["show", "summary", "list"])
def test_unreachable_server_is_a_command_error_saying_to_start_it(args):
    with pytest.raises(CommandError, match=r"no server at http://127\.0\.0\.1:1 .*start it with `make run`.*--url"):
        journey(*args, "--url", "http://127.0.0.1:1", "--api-key", API_KEY)


def test_url_and_api_key_come_from_the_environment(live_server, monkeypatch):
    monkeypatch.setenv("OMNI_API_URL", live_server.url)
    monkeypatch.setenv("OMNI_API_KEY", API_KEY)
    put_journey("evt-env", EXAMPLE_STEPS)

    assert "Message Journey: evt-env" in journey("show", "evt-env")


def test_missing_api_key_says_to_set_omni_api_key(live_server):
    with pytest.raises(CommandError, match=r"401 UNAUTHORIZED: set OMNI_API_KEY \(or pass --api-key\)"):
        journey("summary", "--url", live_server.url)


def test_wrong_api_key_says_the_server_refused_it(live_server):
    with pytest.raises(CommandError, match=r"401 INVALID_API_KEY: the server refused this key: set OMNI_API_KEY"):
        journey("list", "--url", live_server.url, "--api-key", "not-the-key")


def test_url_of_the_api_root_is_accepted(live_server):
    answer = json.loads(journey("summary", "--url", f"{live_server.url}/api/v2/", "--api-key", API_KEY, "--json"))

    assert answer["totalTracked"] == 0


def test_url_that_serves_something_else_is_a_command_error_asking_to_check_it(live_server):
    with pytest.raises(CommandError, match=r"answered 404 NOT_FOUND: .*does --url, .*/elsewhere, point at the Omni"):
        journey("summary", "--url", f"{live_server.url}/elsewhere", "--api-key", API_KEY)


def test_url_that_is_not_http_is_a_command_error():
    with pytest.raises(CommandError, match=r"--url must be an http\(s\) URL"):
        journey("summary", "--url", "127.0.0.1:8000")


def test_missing_subcommand_is_a_command_error():
    with pytest.raises(CommandError, match=r"required: \{show,summary,list\}"):
        journey()
