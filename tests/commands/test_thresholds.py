"""The design's threshold table as data, and its grading rule (journeys.cli.thresholds)."""

from __future__ import annotations

import pytest

from journeys.cli.thresholds import THRESHOLDS, grade
from journeys.stages import LATENCY_KEYS


def test_thresholds_hold_the_five_rows_of_the_design_table():
    rows = {key: (t.acceptable_ms, t.warning_ms, t.critical_ms) for key, t in THRESHOLDS.items()}
    assert rows == {
        "totalInbound": (500.0, 1_000.0, 2_000.0),
        "dbWrite": (50.0, 200.0, 500.0),
        "natsDelivery": (10.0, 50.0, 100.0),
        "omniProcessing": (1_000.0, 2_000.0, 5_000.0),
        "totalRoundTrip": (5_000.0, 10_000.0, 30_000.0),
    }
    assert set(THRESHOLDS) <= set(LATENCY_KEYS)


@pytest.mark.parametrize(
    ("key", "ms", "expected"),
    [
        ("dbWrite", 0.0, "acceptable"),
        ("dbWrite", 49.999, "acceptable"),
        ("dbWrite", 50.0, "warning"),  # the acceptable target is a strict "<"
        ("dbWrite", 199.0, "warning"),
        ("dbWrite", 350.0, "warning"),  # between the warning target and the critical bound: still a warning
        ("dbWrite", 500.0, "critical"),
        ("natsDelivery", 0.412, "acceptable"),
        ("natsDelivery", 75.0, "warning"),
        ("natsDelivery", 100.0, "critical"),
        ("totalInbound", 1_500.0, "warning"),
        ("totalInbound", 2_000.1, "critical"),
        ("omniProcessing", 999.9, "acceptable"),
        ("omniProcessing", 4_999.0, "warning"),
        ("totalRoundTrip", 29_999.0, "warning"),
        ("totalRoundTrip", 45_000.0, "critical"),
    ],
)
def test_grade_is_acceptable_below_target_warning_below_critical_bound_else_critical(key, ms, expected):
    assert grade(key, ms) == expected


def test_grade_is_none_for_keys_outside_the_table_and_missing_values():
    assert grade("agentRoundTrip", 60_000.0) is None  # the agent is an external black box
    assert grade("eventPublish", 1.0) is None
    assert grade("dbWrite", None) is None
