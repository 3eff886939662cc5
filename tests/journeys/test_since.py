"""The `since` filter (CONTRACT §5): `<n>s|m|h|d` ago or an ISO 8601 time; anything else is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from journeys.since import parse_since

NOW = 1_733_200_000_000.0


@pytest.mark.parametrize(
    ("value", "ago_ms"),
    [("30s", 30_000), ("5m", 300_000), ("2h", 7_200_000), ("1d", 86_400_000), ("0s", 0), ("90m", 5_400_000)],
)
def test_relative_since_counts_back_from_now(value, ago_ms):
    assert parse_since(value, NOW) == NOW - ago_ms


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("2024-12-03T10:00:00Z", datetime(2024, 12, 3, 10, 0, tzinfo=UTC)),
        ("2024-12-03T10:00:00+00:00", datetime(2024, 12, 3, 10, 0, tzinfo=UTC)),
        ("2024-12-03T12:30:00+02:30", datetime(2024, 12, 3, 10, 0, tzinfo=UTC)),
        ("2024-12-03T05:00:00-05:00", datetime(2024, 12, 3, 10, 0, tzinfo=UTC)),
        ("2024-12-03T10:00:00.250Z", datetime(2024, 12, 3, 10, 0, 0, 250_000, tzinfo=UTC)),
        ("2024-12-03T10:00:00", datetime(2024, 12, 3, 10, 0, tzinfo=UTC)),  # no offset: UTC
    ],
)
def test_iso_8601_since_is_that_moment_in_epoch_ms(value, moment):
    assert parse_since(value, NOW) == moment.timestamp() * 1000


@pytest.mark.parametrize("value", ["", " ", "abc", "5x", "-1h", "1hour", "h", "5 m", "yesterday", "2024-13-01"])
def test_junk_since_is_a_value_error_never_all_time(value):
    with pytest.raises(ValueError):
        parse_since(value, NOW)
