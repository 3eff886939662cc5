"""Fixtures for the journey tests: an injected clock and a tracker factory (a real tracker, never a mock)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from journeys.tracker import JourneyTracker
from tests.journeys.helpers import TTL_MS, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def completed() -> list[dict]:
    """What `on_complete` received, in order."""
    return []


@pytest.fixture
def make_tracker(clock, completed) -> Callable[..., JourneyTracker]:
    made: list[JourneyTracker] = []

    def make(
        ttl_ms: int = TTL_MS, sample_rate: float = 1.0, max_entries: int = 1000, cleanup_interval_ms: int = 1000
    ) -> JourneyTracker:
        tracker = JourneyTracker(ttl_ms, sample_rate, max_entries, cleanup_interval_ms, clock=clock,
                                 on_complete=completed.append)  # fmt: skip
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        tracker.close()


@pytest.fixture
def tracker(make_tracker) -> JourneyTracker:
    return make_tracker()
