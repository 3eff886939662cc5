"""`manage.py journey_baseline` for real: its own hub in this process (the runtime and uvicorn) on the test
run's nats-server and the test database, the three sandboxes and the simulated agent, a small N; and
`--from` reading a live server."""

from __future__ import annotations

import io
import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from journeys.stages import JOURNEY_STAGES, LATENCY_KEYS
from journeys.tracker import get_journey_tracker, now_ms
from messaging.models import Instance, Message
from messaging.runtime import get_runtime
from tests.conftest import API_KEY

SECTIONS = (
    "## When and where",
    "## What was simulated and what was real",
    "## Thresholds (original design), graded on p95",
    "## Top 3 internal bottlenecks",
    "## Platform legs (outside our process)",
    "## Chart",
    "## Per stage, all channels",
    "## Per channel",
)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_driving_six_messages_reports_every_stage_of_every_platform(nats_server, settings, tmp_path):
    settings.NATS = {**settings.NATS, "URL": nats_server.url}  # the session's server: the hub must not stop it
    report = tmp_path / "baseline.md"
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "journey_baseline",
        "--drive", "6",
        "--think-ms", "20",
        "--rate", "30",
        "--timeout-s", "30",
        "--output", str(report),
        stdout=out,
        stderr=err,
    )  # fmt: skip

    markdown = report.read_text(encoding="utf-8")
    for heading in SECTIONS:
        assert heading in markdown, heading
    assert "6 messages driven through the running pipeline" in markdown
    assert "(Telegram 2, WhatsApp 2, Discord 2)" in markdown
    assert "think time of **20 ms**" in markdown
    assert "6 warm-up messages, left out of every figure here" in markdown
    assert "The agent's replies, by the send API's answer: HTTP 202: 6." in markdown
    # Every journey went all the way (T0 -> T11), two per platform.
    assert "Journeys: 6 tracked, 6 completed, 0 active, 0 abandoned." in markdown
    for channel in ("Telegram", "WhatsApp", "Discord"):
        assert f"### {channel}\n\nJourneys: 2 tracked, 2 completed" in markdown
    assert "| `totalRoundTrip` | Total round-trip (T0→T11) | 6 |" in markdown
    assert "| `internalProcessing` | Internal processing (our code) | 6 |" in markdown
    for key in LATENCY_KEYS:
        assert markdown.count(f"| `{key}` |") == 4, key
    # Where: the test database's engine with its version, the nats-server's version.
    assert "| Database | SQLite 3." in markdown or "| Database | PostgreSQL " in markdown
    assert "| NATS | nats-server 2." in markdown and f"NATS_URL {nats_server.url}" in markdown
    # The platform legs, T0's precision as the journeys carried it.
    assert "| Telegram | 1 s |" in markdown and "| WhatsApp | 1 s |" in markdown and "| Discord | 1 ms |" in markdown
    # Graded thresholds and three ranked internal stages.
    thresholds = markdown.split("## Thresholds")[1].split("\n## ")[0]
    assert thresholds.count("acceptable") + thresholds.count("warning") + thresholds.count("critical") >= 20
    bottlenecks = markdown.split("## Top 3 internal bottlenecks")[1].split("\n## ")[0]
    assert all(f"\n| {rank} | " in bottlenecks for rank in (1, 2, 3))
    # The chart, an SVG beside the report.
    chart = tmp_path / "baseline.svg"
    assert "](baseline.svg)" in markdown
    assert chart.read_text(encoding="utf-8").lstrip().startswith("<?xml") and "<svg" in chart.read_text()
    assert "wrote" in out.getvalue() and "6 of 6 journeys completed" in out.getvalue()
    # Everything it started has stopped; its instances (and their messages) are gone; NATS still runs.
    assert get_runtime() is None
    assert not Instance.objects.exists() and not Message.objects.exists()
    socket.create_connection(("127.0.0.1", nats_server.port), timeout=1).close()


def put_journey(correlation_id: str, channel: str, precision_ms: float) -> None:
    tracker = get_journey_tracker()
    at = now_ms() - 2_000.0
    for step, stage in enumerate(("T0", "T1", "T2", "T3", "T4", "T5", "T7", "T8", "T9", "T10", "T11")):
        tracker.record_checkpoint(correlation_id, stage, JOURNEY_STAGES[stage], at + step * 10.0)
    tracker.set_context(correlation_id, channel_type=channel, instance_id="1", chat_id="42", has_agent=True,
                        t0_precision_ms=precision_ms)  # fmt: skip
    tracker.complete(correlation_id)


@pytest.mark.django_db
def test_from_reads_a_live_servers_summaries(live_server, monkeypatch, tmp_path):
    monkeypatch.setenv("OMNI_API_KEY", API_KEY)
    put_journey("evt-live-1", "telegram", 1000)
    put_journey("evt-live-2", "discord", 1)
    report = tmp_path / "live.md"
    call_command("journey_baseline", "--from", live_server.url, "--since", "1h", "--output", str(report),
                 stdout=io.StringIO())  # fmt: skip
    markdown = report.read_text(encoding="utf-8")
    assert f"A live server's journeys, read from `{live_server.url}`: journeys started in the last 1h." in markdown
    assert "Nothing was simulated" in markdown
    assert "Journeys: 2 tracked, 2 completed, 0 active, 0 abandoned." in markdown
    assert "### WhatsApp\n\nNo journeys." in markdown
    # Every step was 10 ms: an internal stage's statistics say so.
    assert "| `dbWrite` | DB write (T3→T4) | 2 | 0 | 10.000 | 10.000 | 10.000 | 10.000 | 10.000 | 10.000 |" in markdown
    assert "| Telegram | 1 s |" in markdown and "| Discord | 1 ms |" in markdown
    assert (tmp_path / "live.svg").exists()


def test_from_an_unreachable_server_is_a_command_error(monkeypatch, tmp_path):
    monkeypatch.setenv("OMNI_API_KEY", API_KEY)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(CommandError, match="no server at"):
        call_command("journey_baseline", "--from", f"http://127.0.0.1:{port}", "--output", str(tmp_path / "x.md"))
    assert not (tmp_path / "x.md").exists()


def test_from_with_a_bad_since_is_a_command_error(live_server, monkeypatch, tmp_path):
    monkeypatch.setenv("OMNI_API_KEY", API_KEY)
    with pytest.raises(CommandError, match="INVALID_SINCE"):
        call_command("journey_baseline", "--from", live_server.url, "--since", "yesterday",
                     "--output", str(tmp_path / "x.md"))  # fmt: skip
