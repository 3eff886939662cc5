"""`manage.py journey list`: recent or slowest journeys as a table."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management.base import CommandError

from journeys.tracker import get_journey_tracker
from tests.commands.conftest import EXAMPLE_STEPS, put_journey

pytestmark = pytest.mark.django_db(transaction=True)


def ids_in_order(output: str) -> list[str]:
    return re.findall(r"^\s+(evt-\S+)", output, flags=re.MULTILINE)


@pytest.fixture
def journeys():
    put_journey("evt-fast", {**EXAMPLE_STEPS, "T4": 3.0})
    put_journey("evt-slow", {**EXAMPLE_STEPS, "T4": 400.0}, channel_type="discord", t0_precision_ms=1.0)
    put_journey("evt-open", {"T0": 0.0, "T1": 5.0, "T2": 0.5, "T3": 0.5, "T4": 90.0})


def test_list_slowest_orders_by_the_key_and_shows_its_column(journey_command, journeys):
    out = journey_command("list", "--slowest", "dbWrite")

    assert out.startswith("Journeys: 3 shown, slowest first by dbWrite\n")
    assert ids_in_order(out) == ["evt-slow", "evt-open", "evt-fast"]
    assert re.search(r"Correlation id\s+Channel\s+Status\s+Path\s+Started \(\S+\)\s+Round-trip\s+Omni\s+dbWrite", out)
    [slow] = [line for line in out.splitlines() if "evt-slow" in line]
    assert re.search(r"evt-slow\s+discord\s+completed\s+replied\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s+2516ms", slow)
    assert re.search(r"2516ms\s+674ms\s+400ms$", slow.rstrip())
    [open_] = [line for line in out.splitlines() if "evt-open" in line]
    assert re.search(r"active\s+agent\s+.*—\s+—\s+90\.0ms$", open_.rstrip())


def test_list_is_newest_first_and_honours_limit_and_status(journey_command, journeys):
    get_journey_tracker().abandon("evt-open", "agent reply timeout")

    assert ids_in_order(journey_command("list")) == ["evt-open", "evt-slow", "evt-fast"]
    assert ids_in_order(journey_command("list", "--limit", "1")) == ["evt-open"]
    assert ids_in_order(journey_command("list", "--status", "completed")) == ["evt-slow", "evt-fast"]
    assert ids_in_order(journey_command("list", "--channel", "discord")) == ["evt-slow"]


def test_list_without_journeys_says_there_are_none(journey_command):
    out = journey_command("list")

    assert "Journeys: 0 shown, newest first" in out and "No journeys match" in out


def test_list_json_prints_the_api_list(journey_command, journeys):
    answer = json.loads(journey_command("list", "--slowest", "dbWrite", "--json"))

    assert answer["count"] == 3
    assert [j["correlationId"] for j in answer["results"]] == ["evt-slow", "evt-open", "evt-fast"]


def test_list_unknown_latency_key_is_refused_before_any_request(journey_command):
    with pytest.raises(CommandError, match="invalid choice: 'dbwrite'"):
        journey_command("list", "--slowest", "dbwrite")


def test_list_keeps_long_correlation_ids_whole(journey_command):
    long_id = "evt-3ff73436-e4af-4ac0-be3d-b3184c73e6c1"
    put_journey(long_id, EXAMPLE_STEPS)

    out = journey_command("list", "--slowest", "platformSend")

    assert long_id in out and "…" not in out
