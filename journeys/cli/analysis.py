"""Bottleneck ranking over the internal stages (CONTRACT §3), for one journey or a summary.

Platform legs (channelProcessing, platformSend) are never ranked: they are outside our process.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from journeys.stages import INTERNAL_STAGES


class Bottleneck(NamedTuple):
    """An internal stage, its value in ms and its share (0..1) of `of` (None: no total to share)."""

    latency_key: str
    value_ms: float
    share: float | None
    of: str  # what the share is of, in words


def journey_bottleneck(latencies: dict[str, float]) -> Bottleneck | None:
    """The slowest internal stage of one journey, with its share of `internalProcessing`.

    When `internalProcessing` is missing (no T1 or T5: a no-agent journey), the share is of the internal
    stages that were measured. Negative values (clock skew) never win. Returns None without any internal stage.
    """
    measured = {key: latencies[key] for key in INTERNAL_STAGES if latencies.get(key) is not None}
    candidates = {key: value for key, value in measured.items() if value >= 0}
    if not candidates:
        return None
    key = max(candidates, key=lambda k: candidates[k])
    total = latencies.get("internalProcessing")
    of = "internal processing"
    if total is None:
        total, of = sum(candidates.values()), "the internal stages measured"
    share = candidates[key] / total if total and total > 0 else None
    return Bottleneck(key, candidates[key], share, of)


def summary_bottlenecks(stages: dict[str, dict[str, Any]], *, top: int = 3, stat: str = "avg") -> list[Bottleneck]:
    """The `top` internal stages of a summary's `stages`, slowest first by `stat` ("avg", "p95", …).

    A share is the stage's `stat` over the sum of every internal stage's `stat`: the per-stage figures come
    from different sets of journeys (outbound stages only from replied ones), so `internalProcessing`'s own
    statistic would not add up; this sum does, and the shares of all internal stages total 100 %.
    """
    values = {key: stages[key][stat] for key in INTERNAL_STAGES if stages.get(key, {}).get(stat) is not None}
    total = sum(values.values())
    ranked = sorted(values, key=lambda k: values[k], reverse=True)[:top]
    return [
        Bottleneck(key, values[key], values[key] / total if total > 0 else None, f"the internal stages' {stat}")
        for key in ranked
    ]
