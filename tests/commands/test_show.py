"""`manage.py journey show <correlationId>`: the design's timeline, read from a live server over HTTP."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management.base import CommandError

from journeys.stages import STAGE_LABELS
from journeys.tracker import get_journey_tracker
from tests.commands.conftest import EXAMPLE_STEPS, TtyStringIO, put_journey

pytestmark = pytest.mark.django_db(transaction=True)


def row(output: str, stage: str) -> str:
    """The timeline row of `stage` (its label, then the stage column)."""
    [line] = [line for line in output.splitlines() if re.match(rf"  [✓✗·] [A-Za-z ]+ {stage}\s", line)]
    return line


def test_show_renders_every_stage_of_a_replied_journey_with_steps_and_bars(journey_command):
    put_journey("evt-full", EXAMPLE_STEPS)

    out = journey_command("show", "evt-full")

    assert out.startswith("Message Journey: evt-full\n━━━━")
    assert "Inbound Flow:" in out and "Agent Processing:" in out and "Outbound Flow:" in out
    for stage in EXAMPLE_STEPS:
        line = row(out, stage)
        assert line.lstrip().startswith("✓"), line
        assert STAGE_LABELS[stage] in line
    assert "T12" not in out  # no delivery receipt: no row for it
    assert row(out, "T0").rstrip().endswith(" 0ms")
    # Each step is since the previous checkpoint, never since the start.
    assert "+127ms" in row(out, "T4") and "+18.0ms" in row(out, "T8") and "+94.0ms" in row(out, "T11")
    # Bars scale to the largest step (the agent's 1842 ms); every recorded step gets at least one block.
    assert "█" * 20 in row(out, "T7")
    assert re.search(r"█+░+$", row(out, "T4"))
    assert "Status: completed · path: replied" in out
    assert "Telegram · instance 1 · chat 42 · started " in out


def test_show_states_totals_bottleneck_and_platform_legs_with_t0_precision(journey_command):
    put_journey("evt-full", EXAMPLE_STEPS)

    out = journey_command("show", "evt-full")

    assert "Total Inbound: 251ms (acceptable)" in out
    assert "Agent Time: 1842ms (T5→T7, external)" in out
    assert "Total Outbound: 150ms" in out
    assert "Total Round-Trip:    2243ms (acceptable)" in out
    assert "Omni Processing:     401ms (excl. agent; acceptable)" in out
    # (T5 - T1) + (T10 - T7) = 199 + 56
    assert "Internal Processing: 255ms (our code)" in out
    assert "Bottleneck: DB write (T3→T4) took 127ms — 50% of internal processing" in out
    assert (
        "Platform legs (outside our process): channel processing 52.0ms (T0 has 1 s precision on Telegram), "
        "platform send 94.0ms"
    ) in out


def test_show_marks_missing_and_pending_stages_and_steps_over_a_gap(journey_command):
    # T3 was never recorded; T5 onwards have not happened yet.
    put_journey("evt-partial", {"T0": 0.0, "T1": 40.0, "T2": 0.412, "T4": 2.5}, channel_type="whatsapp")

    out = journey_command("show", "evt-partial")

    assert row(out, "T3").lstrip().startswith("✗") and "missing" in row(out, "T3")
    for stage in ("T5", "T7", "T8", "T9", "T10", "T11"):
        assert row(out, stage).lstrip().startswith("·") and "pending" in row(out, stage), stage
    assert "+0.412ms" in row(out, "T2")  # sub-millisecond steps keep 3 decimals
    assert "+2.500ms" in row(out, "T4")  # since T2, the previous recorded checkpoint
    assert "Status: active · path: agent" in out
    assert "Total Inbound: — (needs T0 and T5)" in out
    assert "Total Round-Trip:    — (needs T0 and T11)" in out
    # No internalProcessing without T5: the share is of the internal stages that were measured.
    assert "Bottleneck: DB write (T3→T4) took" not in out
    assert "Bottleneck: Event publish (T1→T2) took 0.412ms — 100% of the internal stages measured" in out
    assert "channel processing 40.0ms (T0 has 1 s precision on WhatsApp), platform send —" in out


def test_show_journey_without_agent_marks_the_agent_stages_as_not_applicable(journey_command):
    put_journey("evt-noagent", {"T0": 0.0, "T1": 5.0, "T2": 0.2, "T3": 0.5, "T4": 1.5}, has_agent=False)
    get_journey_tracker().complete("evt-noagent")

    out = journey_command("show", "evt-noagent")

    assert "Status: completed · path: no-agent" in out
    for stage in ("T5", "T7", "T11"):
        assert row(out, stage).lstrip().startswith("·") and "no agent" in row(out, stage), stage


def test_show_abandoned_journey_states_its_reason_and_unreached_stages(journey_command):
    put_journey("evt-gone", {"T0": 0.0, "T1": 5.0, "T2": 0.2, "T3": 0.5, "T4": 1.5, "T5": 1.0})
    get_journey_tracker().abandon("evt-gone", "agent reply timeout")

    out = journey_command("show", "evt-gone")

    assert "Status: abandoned · path: agent · abandoned: agent reply timeout" in out
    assert row(out, "T7").lstrip().startswith("✗") and "not reached" in row(out, "T7")


def test_show_negative_step_is_shown_and_explained_not_drawn(journey_command):
    put_journey("evt-skew", {"T0": 0.0, "T1": -300.0, "T2": 0.5})

    out = journey_command("show", "evt-skew")

    assert "-300ms  before the previous checkpoint (T0 has 1 s precision, or clock skew)" in row(out, "T1")


def test_show_discord_t0_precision_is_stated_in_milliseconds(journey_command):
    put_journey("evt-dc", {"T0": 0.0, "T1": 80.0, "T2": 0.3}, channel_type="discord", t0_precision_ms=1.0)

    out = journey_command("show", "evt-dc")

    assert "channel processing 80.0ms (T0 has 1 ms precision on Discord)" in out


def test_show_unknown_id_is_a_command_error_saying_why_it_may_be_gone(journey_command):
    with pytest.raises(CommandError, match=r"no journey evt-nope .*JOURNEY_TTL_MS.*sampled out.*never seen"):
        journey_command("show", "evt-nope")


def test_show_json_prints_the_api_journey(journey_command):
    expected = put_journey("evt-full", EXAMPLE_STEPS)

    answer = json.loads(journey_command("show", "evt-full", "--json"))

    assert answer["correlationId"] == "evt-full"
    assert answer["checkpoints"] == expected["checkpoints"]
    assert answer["latencies"] == expected["latencies"]


def test_show_to_a_pipe_is_plain_text_even_with_force_color(journey_command, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    put_journey("evt-full", EXAMPLE_STEPS)

    assert "\x1b[" not in journey_command("show", "evt-full")


def test_show_to_a_terminal_colours_steps_by_the_design_thresholds(journey_command, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    # dbWrite 600 ms is critical (>= 500 ms); natsDelivery 20 ms is a warning (>= 10 ms).
    put_journey("evt-slow", {"T0": 0.0, "T1": 5.0, "T2": 0.5, "T3": 20.0, "T4": 600.0, "T5": 1.0})

    out = journey_command("show", "evt-slow", stdout=TtyStringIO())

    assert re.search(r"\x1b\[1;31m *\+600ms", out)  # bold red: critical
    assert re.search(r"\x1b\[33m *\+20\.0ms", out)  # yellow: warning
    assert re.search(r"\x1b\[32m *\+0\.500ms", out) is None  # eventPublish has no threshold: not graded


def test_show_honours_djangos_colour_flags(journey_command, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    put_journey("evt-full", EXAMPLE_STEPS)

    assert "\x1b[" in journey_command("--force-color", "show", "evt-full")
    assert "\x1b[" not in journey_command("--no-color", "show", "evt-full", stdout=TtyStringIO())
