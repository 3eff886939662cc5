"""The report writer on a synthetic summary: every section, all three grades, bottlenecks, the chart."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from journeys.baseline.report import BaselineData, bottlenecks, render_markdown, write_report
from journeys.stages import LATENCY_KEYS


def stats(p95: float, *, n: int = 100, negative: int = 0) -> dict:
    """Statistics whose p95 is `p95` (the others placed around it)."""
    return {"count": n, "negative": negative, "avg": p95 * 0.6, "min": p95 * 0.1, "max": p95 * 1.5,
            "p50": p95 * 0.5, "p95": p95, "p99": p95 * 1.2}  # fmt: skip


def summary(overrides: dict[str, float], tracked: int = 100) -> dict:
    stages = {key: stats(5.0) for key in LATENCY_KEYS}
    stages.update({key: stats(value) for key, value in overrides.items()})
    stages["deliveryReceipt"] = {"count": 0, "negative": 0, "avg": None, "min": None, "max": None,
                                 "p50": None, "p95": None, "p99": None}  # fmt: skip
    return {"totalTracked": tracked, "completedJourneys": tracked, "activeJourneys": 0, "abandonedJourneys": 0,
            "since": None, "stages": stages}  # fmt: skip


# p95s that land in each of the design's three levels, overall:
GRADED = {
    "totalInbound": 300.0,  # < 500 ms: acceptable
    "dbWrite": 150.0,  # 50..500 ms: warning
    "natsDelivery": 250.0,  # >= 100 ms: critical
    "omniProcessing": 1_500.0,  # 1 s..5 s (inside the design's 2 s..5 s gap too): warning
    "totalRoundTrip": 31_000.0,  # >= 30 s: critical
    "apiProcessing": 40.0,
    "outboundNatsDelivery": 20.0,
}


def synthetic() -> BaselineData:
    return {
        "generatedAt": "2026-01-02T03:04:05.678Z",
        "mode": "driven",
        "source": "http://127.0.0.1:1234",
        "window": "the journeys of this run",
        "durationS": 12.5,
        "environment": {
            "python": "3.11.7 (CPython)",
            "django": "5.2",
            "database": "PostgreSQL 15.20 (Debian)",
            "nats": "nats-server 2.10.0",
            "cpuCores": 4,
            "platform": "Linux",
            "server": "this process",
        },
        "simulation": {
            "messages": 300,
            "ratePerS": 20,
            "thinkMs": 300,
            "platformLatencyMs": 25,
            "receiptAfterMs": 1000,
            "chatsPerPlatform": 3,
            "timedOut": False,
            "sent": {"telegram": 100, "whatsapp": 100, "discord": 100},
            "rejected": {},
        },
        "summary": summary(GRADED, tracked=300),
        "channels": {
            "telegram": summary({"totalInbound": 900.0}),  # warning
            "whatsapp": summary({"totalInbound": 2_500.0}),  # critical
            "discord": summary({"totalInbound": 120.0}),  # acceptable
        },
        "precisionMs": {"telegram": 1000, "whatsapp": 1000, "discord": 1},
        "command": "python manage.py journey_baseline --drive 300",
    }


def threshold_row(markdown: str, metric: str) -> list[str]:
    [row] = [line for line in markdown.splitlines() if line.startswith(f"| {metric} |")]
    return [cell.strip() for cell in row.strip("|").split("|")]


def test_thresholds_are_graded_on_p95_with_all_three_levels():
    markdown = render_markdown(synthetic(), "chart.svg")
    # metric, acceptable, warning, critical, overall, telegram, whatsapp, discord
    inbound = threshold_row(markdown, "Total inbound (T0→T5)")
    assert inbound[1:4] == ["< 500 ms", "< 1 s", "> 2 s"]
    assert inbound[4].startswith("300.000 ms") and inbound[4].endswith("acceptable")
    assert inbound[5].startswith("900.000 ms") and inbound[5].endswith("warning")
    assert inbound[6].startswith("2,500.000 ms") and inbound[6].endswith("critical")
    assert inbound[7].startswith("120.000 ms") and inbound[7].endswith("acceptable")
    assert threshold_row(markdown, "DB write (T3→T4)")[4].endswith("warning")
    assert threshold_row(markdown, "NATS delivery (T2→T3)")[4].endswith("critical")
    assert threshold_row(markdown, "Omni processing (excl. agent)")[4].endswith("warning")
    assert threshold_row(markdown, "Total round-trip (T0→T11)")[4].endswith("critical")


def test_bottlenecks_are_internal_stages_only_with_their_share():
    data = synthetic()
    # channelProcessing is the slowest span of all, but a platform leg: never ranked.
    data["summary"]["stages"]["channelProcessing"] = stats(5_000.0)
    ranked = bottlenecks(data["summary"])
    assert [b.latency_key for b in ranked] == ["natsDelivery", "dbWrite", "apiProcessing"]
    internal_avgs = 0.6 * (250 + 150 + 40 + 20 + 5 + 5 + 5)  # the seven internal stages' averages
    assert abs(ranked[0].share - 0.6 * 250 / internal_avgs) < 1e-9
    markdown = render_markdown(data, None)
    section = markdown.split("## Top 3 internal bottlenecks")[1].split("##")[0]
    assert "| 1 | NATS delivery (T2→T3) | 150.000 | 250.000 | 52.6% |" in section
    assert "Channel processing" not in section


def test_every_section_is_written_with_the_chart_beside_the_report(tmp_path):
    report, chart = write_report(synthetic(), tmp_path / "perf" / "baseline.md")
    markdown = report.read_text(encoding="utf-8")
    for heading in ("# Journey baseline", "## When and where", "## What was simulated and what was real",
                    "## Thresholds (original design), graded on p95", "## Top 3 internal bottlenecks",
                    "## Platform legs (outside our process)", "## Chart", "## Per stage, all channels",
                    "## Per channel", "### Telegram", "### WhatsApp", "### Discord"):  # fmt: skip
        assert heading in markdown, heading
    assert "| When (UTC) | 2026-01-02T03:04:05.678Z |" in markdown
    assert "| Database | PostgreSQL 15.20 (Debian) |" in markdown
    assert "think time of **300 ms**" in markdown and "**25 ms** of added latency" in markdown
    # Platform legs with T0's precision per channel.
    assert "| Telegram | 1 s |" in markdown and "| WhatsApp | 1 s |" in markdown and "| Discord | 1 ms |" in markdown
    # Every latency key, overall and in each channel's table.
    for key in LATENCY_KEYS:
        assert markdown.count(f"| `{key}` |") == 4, key
    db_write = "| `dbWrite` | DB write (T3→T4) | 100 | 0 | 90.000 | 75.000 | 150.000 | 180.000 | 15.000 | 225.000 |"
    assert db_write in markdown
    # The chart: an SVG next to the report, referenced relative to it.
    assert chart == tmp_path / "perf" / "baseline.svg"
    assert "](baseline.svg)" in markdown
    root = ET.parse(chart).getroot()  # noqa: S314 (the file this test just wrote)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_a_live_read_says_nothing_was_simulated_and_tolerates_empty_summaries(tmp_path):
    data = synthetic()
    data.update(mode="live", simulation=None, durationS=None, window="journeys started in the last 1h")
    empty = {"totalTracked": 0, "completedJourneys": 0, "activeJourneys": 0, "abandonedJourneys": 0, "since": None,
             "stages": {}}  # fmt: skip
    data["channels"] = {"telegram": empty, "whatsapp": empty, "discord": empty}
    data["summary"] = empty
    report, chart = write_report(data, tmp_path / "live.md")
    markdown = report.read_text(encoding="utf-8")
    assert "Nothing was simulated" in markdown
    assert "no data" in markdown and "No journeys." in markdown
    assert chart.exists()
