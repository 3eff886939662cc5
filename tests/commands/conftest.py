"""Fixtures of the `journey` command tests: a live server, journeys put into its tracker, the command.

pytest-django's live server runs in this process, so the journeys recorded into the process's tracker
here are the ones the server answers with; the command reads them back over real HTTP.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.core.management import call_command

from journeys.stages import JOURNEY_STAGES
from journeys.tracker import get_journey_tracker, now_ms
from tests.conftest import API_KEY

# The design's example journey: each stage's step since the previous one, in ms (T0 first).
EXAMPLE_STEPS = {"T0": 0.0, "T1": 52.0, "T2": 23.0, "T3": 15.0, "T4": 127.0, "T5": 34.0,
                 "T7": 1842.0, "T8": 18.0, "T9": 15.0, "T10": 23.0, "T11": 94.0}  # fmt: skip


class TtyStringIO(io.StringIO):
    """Captured output that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def put_journey(
    correlation_id: str,
    steps: dict[str, float],
    *,
    channel_type: str = "telegram",
    instance_id: str = "1",
    chat_id: str = "42",
    has_agent: bool = True,
    t0_precision_ms: float | None = 1000.0,
) -> dict:
    """Record a journey into the server's tracker: `steps` maps stage -> ms after the previous listed stage.

    Returns the journey as the tracker holds it.
    """
    tracker = get_journey_tracker()
    at = now_ms() - sum(steps.values()) - 1000.0
    for stage, step in steps.items():
        at += step
        tracker.record_checkpoint(correlation_id, stage, JOURNEY_STAGES[stage], at)
    tracker.set_context(
        correlation_id,
        instance_id=instance_id,
        channel_type=channel_type,
        chat_id=chat_id,
        has_agent=has_agent,
        t0_precision_ms=t0_precision_ms,
    )
    journey = tracker.get_journey(correlation_id)
    assert journey is not None
    return journey


@pytest.fixture
def journey_command(live_server) -> Callable[..., str]:
    """Run `manage.py journey <args>` against the live server; returns what it wrote to stdout."""

    def run(*args: str, stdout: io.StringIO | None = None, url: str | None = None) -> str:
        out = stdout if stdout is not None else io.StringIO()
        call_command("journey", *args, "--url", url or live_server.url, "--api-key", API_KEY, stdout=out)
        return out.getvalue()

    return run
