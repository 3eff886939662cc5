"""`manage.py journey summary`: counts, every latency key's statistics and the top internal bottlenecks."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management.base import CommandError

from journeys.stages import LATENCY_KEYS, LATENCY_LABELS
from journeys.tracker import get_journey_tracker
from tests.commands.conftest import EXAMPLE_STEPS, put_journey

pytestmark = pytest.mark.django_db(transaction=True)


def table_row(output: str, latency_key: str) -> list[str]:
    """The summary table's cells for a latency key (split on runs of two or more spaces)."""
    label = LATENCY_LABELS[latency_key]
    [line] = [line for line in output.splitlines() if line.strip().startswith(label + " ")]
    return re.split(r"\s{2,}", line.strip())


@pytest.fixture
def three_journeys():
    put_journey("evt-a", EXAMPLE_STEPS)
    put_journey("evt-b", {**EXAMPLE_STEPS, "T4": 300.0}, channel_type="whatsapp", instance_id="2")
    put_journey("evt-c", {"T0": 0.0, "T1": -200.0, "T2": 0.5, "T3": 0.25, "T4": 2.0, "T5": 1.0})
    get_journey_tracker().abandon("evt-c", "agent reply timeout")


def test_summary_without_journeys_says_there_are_none(journey_command):
    out = journey_command("summary")

    assert "Journeys: 0 tracked · 0 completed · 0 active · 0 abandoned" in out
    assert "No journeys match" in out
    assert "Latency (ms)" not in out


def test_summary_tables_every_latency_key_with_counts(journey_command, three_journeys):
    out = journey_command("summary")

    assert out.startswith("Journey Summary: every live journey\n")
    assert "Journeys: 3 tracked · 2 completed · 0 active · 1 abandoned" in out
    assert re.search(r"Latency \(ms\)\s+n\s+avg\s+p50\s+p95\s+p99\s+max\s+neg\s+p95 target", out)
    for key in LATENCY_KEYS:
        table_row(out, key)  # one row each
    # dbWrite over 127, 300 and 2 ms: avg 143, p50 127, max 300; the design grades its p95 (282.7) a warning.
    assert table_row(out, "dbWrite")[1:8] == ["3", "143", "127", "283", "297", "300", "0"]
    assert table_row(out, "dbWrite")[8] == "warning (≥50.0ms)"
    assert table_row(out, "totalRoundTrip")[8] == "acceptable (<5000ms)"
    # evt-c's T1 lies 200 ms before its T0: counted as negative, left out of the statistics.
    assert table_row(out, "channelProcessing")[1] == "2" and table_row(out, "channelProcessing")[7] == "1"
    assert table_row(out, "deliveryReceipt")[1:3] == ["0", "—"]


def test_summary_ranks_the_top_three_internal_bottlenecks_by_average(journey_command, three_journeys):
    out = journey_command("summary")

    assert "Top internal bottlenecks (by average):" in out
    ranked = re.findall(r"^\s+(\d)\. (.+?): avg (\S+), p95 \S+ — (\d+)% of", out, flags=re.MULTILINE)
    assert [(n, label) for n, label, _avg, _share in ranked] == [
        ("1", LATENCY_LABELS["dbWrite"]),
        ("2", LATENCY_LABELS["agentNotification"]),
        ("3", LATENCY_LABELS["outboundNatsDelivery"]),
    ]
    assert ranked[0][2] == "143ms"
    assert "Platform legs (outside our process, by average): channel processing 52.0ms" in out


def test_summary_filters_by_channel_and_instance(journey_command, three_journeys):
    by_channel = journey_command("summary", "--channel", "whatsapp")
    by_instance = journey_command("summary", "--instance", "2")

    for out in (by_channel, by_instance):
        assert "Journeys: 1 tracked · 1 completed" in out
        assert table_row(out, "dbWrite")[1:3] == ["1", "300"]
    assert "Filters: channel whatsapp" in by_channel
    assert "Filters: instance 2" in by_instance


def test_summary_since_names_its_window(journey_command, three_journeys):
    out = journey_command("summary", "--since", "1h")

    assert re.match(r"Journey Summary: since 1h \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d .*\)\n", out)
    assert "Journeys: 3 tracked" in out


def test_summary_bad_since_is_a_command_error_with_the_api_message(journey_command):
    with pytest.raises(CommandError, match=r"400 INVALID_SINCE: since must be <n>s, <n>m, <n>h, <n>d or an ISO 8601"):
        journey_command("summary", "--since", "yesterday")


def test_summary_json_prints_the_api_summary(journey_command, three_journeys):
    answer = json.loads(journey_command("summary", "--json"))

    assert answer["totalTracked"] == 3 and answer["abandonedJourneys"] == 1
    assert set(answer["stages"]) == set(LATENCY_KEYS)
    assert answer["stages"]["dbWrite"]["max"] == 300.0


def test_summary_to_a_pipe_has_no_trailing_spaces(journey_command, three_journeys):
    out = journey_command("summary")

    assert all(line == line.rstrip() for line in out.splitlines())
