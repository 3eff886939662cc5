"""The original design's "Target Latency Thresholds" table, as data, and its grading rule.

| Metric                         | Acceptable | Warning | Critical |
|--------------------------------|------------|---------|----------|
| Total inbound (T0→T5)          | <500ms     | <1s     | >2s      |
| DB write (T3→T4)               | <50ms      | <200ms  | >500ms   |
| NATS delivery (T2→T3)          | <10ms      | <50ms   | >100ms   |
| Omni processing (excl. agent)  | <1s        | <2s     | >5s      |
| Total round-trip (T0→T11)      | <5s        | <10s    | >30s     |

The design leaves a gap between the warning target and the critical bound (1 s..2 s for total inbound)
and does not say what exactly the critical bound is. The rule used everywhere here, stated once:

- ``acceptable``: below the acceptable target (``value < acceptable_ms``);
- ``warning``: from there up to, not including, the critical bound (``value < critical_ms``): the design's
  gap counts as a warning, since a value there missed its target but has not reached the critical bound;
- ``critical``: at or above the critical bound.

``warning_ms`` is kept for reports that print the design's table ("Warning <1s"); it does not move a grade.
Agent processing (T5→T7) has no threshold: it is an external black box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Grade = Literal["acceptable", "warning", "critical"]
GRADES: Final[tuple[Grade, ...]] = ("acceptable", "warning", "critical")


@dataclass(frozen=True)
class Threshold:
    """One row of the design's table, in milliseconds."""

    latency_key: str
    metric: str
    acceptable_ms: float
    warning_ms: float
    critical_ms: float


THRESHOLDS: Final[dict[str, Threshold]] = {
    t.latency_key: t
    for t in (
        Threshold("totalInbound", "Total inbound (T0→T5)", 500.0, 1_000.0, 2_000.0),
        Threshold("dbWrite", "DB write (T3→T4)", 50.0, 200.0, 500.0),
        Threshold("natsDelivery", "NATS delivery (T2→T3)", 10.0, 50.0, 100.0),
        Threshold("omniProcessing", "Omni processing (excl. agent)", 1_000.0, 2_000.0, 5_000.0),
        Threshold("totalRoundTrip", "Total round-trip (T0→T11)", 5_000.0, 10_000.0, 30_000.0),
    )
}


def grade(latency_key: str, p_ms: float | None) -> Grade | None:
    """Grade a latency (a p95, an average, or one journey's value) against the design's table.

    Returns "acceptable" below the acceptable target, "warning" below the critical bound, "critical" at or
    above it; None for a key the table does not cover or a missing value.
    """
    threshold = THRESHOLDS.get(latency_key)
    if threshold is None or p_ms is None:
        return None
    if p_ms < threshold.acceptable_ms:
        return "acceptable"
    if p_ms < threshold.critical_ms:
        return "warning"
    return "critical"
