"""A journey as a waterfall: one bar per stage on a shared time axis, ready for a template.

Positions are percentages of the axis, so the page needs no script to draw it. The axis spans every
recorded checkpoint and T0's uncertainty: a second-precision platform truncates its timestamp, so the
message really reached the platform somewhere in [T0, T0 + precision), which is drawn as a band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from journeys.cli.render import fmt_ms, fmt_precision
from journeys.cli.thresholds import grade
from journeys.stages import (
    LATENCY_SHORT_LABELS,
    SIMPLE_LATENCIES,
    STAGE_COLUMN,
    STAGE_LABELS,
    STEP_LATENCIES,
    LatencyKind,
    latency_kind,
)

# One row per step between consecutive stages, in journey order: (latency key, from, to).
SEGMENTS: tuple[tuple[str, str, str], ...] = tuple(
    (key, SIMPLE_LATENCIES[key][1], SIMPLE_LATENCIES[key][0]) for key in STEP_LATENCIES
)
_T4 = STAGE_COLUMN["T4"]  # the steps from here on exist only where an agent answers
KIND_LABELS: dict[str, str] = {
    "platform": "platform leg (outside our process)",
    "internal": "our code",
    "external": "the agent (external)",
}


@dataclass(frozen=True)
class Row:
    key: str
    start: str
    end: str
    kind: LatencyKind
    label: str
    value_ms: float | None = None
    left: float = 0.0  # % of the axis
    width: float = 0.0
    negative: bool = False
    grade: str | None = None
    missing_reason: str | None = None

    @property
    def recorded(self) -> bool:
        return self.value_ms is not None

    @property
    def value_label(self) -> str:
        return fmt_ms(self.value_ms)


@dataclass(frozen=True)
class Tick:
    left: float
    label: str


@dataclass(frozen=True)
class Waterfall:
    rows: list[Row]
    ticks: list[Tick]
    span_ms: float
    band: tuple[float, float] | None = None  # T0's uncertainty band: (left %, width %)
    precision_label: str | None = None
    checkpoints: list[dict[str, Any]] = field(default_factory=list)


def build_waterfall(journey: dict[str, Any]) -> Waterfall:
    times = {c["stage"]: float(c["timestamp"]) for c in journey.get("checkpoints", [])}
    t0 = next((c for c in journey.get("checkpoints", []) if c["stage"] == "T0"), None)
    precision = t0.get("precisionMs") if t0 else None
    edges = list(times.values())
    if t0 is not None and precision:
        edges.append(times["T0"] + precision)
    origin = min(edges, default=0.0)
    span = max(max(edges, default=0.0) - origin, 1e-9)

    def pct(t: float) -> float:
        return round((t - origin) / span * 100.0, 4)

    rows = []
    for key, start, end in SEGMENTS:
        if key == "deliveryReceipt" and "T12" not in times:
            continue  # drawn only when a receipt arrived
        kind, label = latency_kind(key), LATENCY_SHORT_LABELS[key]
        if start in times and end in times:
            a, b = times[start], times[end]
            lo, hi = min(a, b), max(a, b)
            width = round(pct(hi) - pct(lo), 4)
            value = b - a
            rows.append(Row(key, start, end, kind, label, value, pct(lo), width, value < 0, grade(key, value)))
        else:
            reason = _missing_reason(journey, key, start, end, times)
            rows.append(Row(key, start, end, kind, label, missing_reason=reason))
    band = None
    if t0 is not None and precision:
        band = (pct(times["T0"]), round(precision / span * 100.0, 4))
    checkpoints = [
        {"stage": c["stage"], "label": STAGE_LABELS.get(c["stage"], c["stage"]),
         "offset": fmt_ms(float(c["timestamp"]) - origin, sign=True), "timestamp": c["timestamp"]}
        for c in sorted(journey.get("checkpoints", []), key=lambda c: c["timestamp"])
    ]  # fmt: skip
    return Waterfall(
        rows=rows,
        ticks=_ticks(span),
        span_ms=span,
        band=band,
        precision_label=fmt_precision(precision) if t0 is not None else None,
        checkpoints=checkpoints,
    )


def _missing_reason(journey: dict[str, Any], key: str, start: str, end: str, times: dict[str, float]) -> str:
    absent = [stage for stage in (start, end) if stage not in times]
    if journey.get("path") == "no-agent" and STAGE_COLUMN[start] >= _T4:
        return "no agent on this instance"
    if journey.get("status") == "active":
        return f"not yet recorded ({', '.join(absent)})"
    if journey.get("status") == "abandoned":
        reason = journey.get("abandonReason")
        return f"not recorded ({', '.join(absent)}): abandoned{f', {reason}' if reason else ''}"
    return f"not recorded ({', '.join(absent)})"


def _ticks(span: float, target: int = 5) -> list[Tick]:
    """Axis labels at a round step (1, 2 or 5 times 10^k ms) giving about `target` intervals."""
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    ticks, t = [], 0.0
    while t <= span * 1.0000001:
        ticks.append(Tick(round(t / span * 100.0, 4), f"{t:g} ms" if step >= 1 else fmt_ms(t)))
        t += step
    return ticks
