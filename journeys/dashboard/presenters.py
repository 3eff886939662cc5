"""The summary and journey lists as template rows: formatted figures, grades and bar widths.

The live feed renders a row with the same template as the page, so a pushed journey looks exactly like
one that was there at load.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse

from journeys.cli.analysis import journey_bottleneck, summary_bottlenecks
from journeys.cli.render import fmt_ms, fmt_share
from journeys.cli.thresholds import THRESHOLDS, grade
from journeys.stages import LATENCY_KEYS, LATENCY_LABELS, LATENCY_SHORT_LABELS, latency_kind

ROW_TEMPLATE = "journeys/dashboard/_journey_row.html"


def summary_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per latency key. Each bar is on one scale, the largest p99 shown, so stages compare at a
    glance: the bar runs to p95 with ticks at p50 and p99."""
    stages: dict[str, dict[str, Any]] = summary["stages"]
    scale = max((stats.get("p99") or 0.0 for stats in stages.values()), default=0.0) or 1.0
    rows = []
    for key in LATENCY_KEYS:
        stats = stages.get(key) or {}
        p50, p95, p99 = stats.get("p50"), stats.get("p95"), stats.get("p99")
        threshold = THRESHOLDS.get(key)
        rows.append(
            {
                "key": key,
                "label": LATENCY_LABELS[key],
                "kind": latency_kind(key),
                "count": stats.get("count", 0),
                "negative": stats.get("negative", 0),
                "p50": fmt_ms(p50),
                "p95": fmt_ms(p95),
                "p99": fmt_ms(p99),
                "bar": None if p95 is None else {
                    "p50": _pct(p50, scale), "p95": _pct(p95, scale), "p99": _pct(p99, scale),
                },
                "grade": grade(key, p95),
                "target": f"p95 < {fmt_ms(threshold.acceptable_ms)}" if threshold else "",
            }
        )  # fmt: skip
    return rows


def bottlenecks(summary: dict[str, Any], top: int = 3) -> list[dict[str, Any]]:
    """The top internal stages by p95 (the tail is what users feel), with their share."""
    return [
        {"key": b.latency_key, "label": LATENCY_LABELS[b.latency_key], "value": fmt_ms(b.value_ms),
         "share": fmt_share(b.share), "share_pct": round((b.share or 0) * 100, 1)}
        for b in summary_bottlenecks(summary["stages"], top=top, stat="p95")
    ]  # fmt: skip


def journey_row(journey: dict[str, Any]) -> dict[str, Any]:
    latencies: dict[str, float] = journey.get("latencies") or {}
    worst = journey_bottleneck(latencies)
    started = journey.get("startedAt")
    return {
        "id": journey["correlationId"],
        "url": reverse("journeys-dashboard:journey", args=[journey["correlationId"]]),
        "channel": journey.get("channelType") or "",
        "instance": journey.get("instanceId") or "",
        "status": journey.get("status") or "",
        "path": journey.get("path") or "",
        "started_iso": _iso(started),
        "started": _clock(started),
        "round_trip": fmt_ms(latencies.get("totalRoundTrip")),
        "round_trip_grade": grade("totalRoundTrip", latencies.get("totalRoundTrip")),
        "internal": fmt_ms(latencies.get("internalProcessing")),
        "bottleneck": f"{LATENCY_SHORT_LABELS[worst.latency_key]} {fmt_ms(worst.value_ms)}" if worst else "—",
    }


def render_journey_row(journey: dict[str, Any]) -> str:
    return render_to_string(ROW_TEMPLATE, {"j": journey_row(journey)})


def _pct(value: float | None, scale: float) -> float:
    return 0.0 if value is None or value <= 0 else round(min(value / scale, 1.0) * 100.0, 2)


def _iso(epoch_ms: float | None) -> str:
    if epoch_ms is None:
        return ""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clock(epoch_ms: float | None) -> str:
    """UTC wall clock to the millisecond; the page's script shows it in the viewer's zone."""
    if epoch_ms is None:
        return "—"
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3] + " UTC"
