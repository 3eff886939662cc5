"""What a baseline report is made of: the hub's summaries (over its HTTP API) and the machine it ran on.

`read_hub(url, api_key, since)` reads `GET /api/v2/journeys/summary` overall and per channel, and one
journey per channel for T0's precision, exactly as any client would, whether the hub is the one the
baseline started in its own process or a live server (`--from`), through the client `manage.py journey`
uses (journeys.cli.client), whose errors say what to do.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import httpx

from journeys.baseline.report import CHANNELS, Summary
from journeys.cli.client import JourneyApiClient


def read_hub(url: str, api_key: str | None, since: str | None) -> dict[str, Any]:
    """The summaries and T0 precisions of the journeys started since `since` (`<n>s|m|h|d` or ISO 8601).

    Returns {"summary": overall, "channels": {channel: summary}, "precisionMs": {channel: ms or None},
    "health": the /api/v2/health answer or None}. Raises journeys.cli.client.ApiClientError.
    """
    with JourneyApiClient(url, api_key, timeout_s=30) as client:
        summary: Summary = client.summary(since=since)  # type: ignore[assignment]
        channels: dict[str, Summary] = {}
        precision: dict[str, int | None] = {}
        for channel in CHANNELS:
            channels[channel] = client.summary(since=since, channel=channel)  # type: ignore[assignment]
            listed = client.journeys(since=since, channel=channel, limit=1)
            precision[channel] = _t0_precision(listed.get("results") or [])
        base = client.url
    try:
        health = httpx.get(f"{base}/api/v2/health", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        health = None
    return {"summary": summary, "channels": channels, "precisionMs": precision, "health": health}


def _t0_precision(journeys: list[dict[str, Any]]) -> int | None:
    for journey in journeys:
        for checkpoint in journey.get("checkpoints", []):
            if checkpoint.get("stage") == "T0" and checkpoint.get("precisionMs") is not None:
                return int(checkpoint["precisionMs"])
    return None


def database_description() -> str:
    """This process's database: engine and the server's own version string."""
    from django.db import connection

    vendor = connection.vendor
    try:
        with connection.cursor() as cursor:
            if vendor == "postgresql":
                cursor.execute("SELECT version()")
            elif vendor == "sqlite":
                cursor.execute("SELECT sqlite_version()")
            else:
                return vendor
            version = cursor.fetchone()[0]
    except Exception as exc:  # the report still says which engine, and why no version
        return f"{vendor} (version unavailable: {type(exc).__name__})"
    return f"SQLite {version}" if vendor == "sqlite" else str(version)


def load_average() -> str | None:
    """The machine's 1 / 5 / 15 min load averages now: on a shared machine, other work shows in every latency."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return None
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min load average)"


def environment(*, database: str, nats: str, server: str, load: str | None = None) -> dict[str, Any]:
    """The "where" of a report: interpreter, framework, database, NATS, cores, load (default: now), OS, and
    the server."""
    import django

    return {
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "django": django.get_version(),
        "database": database,
        "nats": nats,
        "cpuCores": os.cpu_count(),
        "load": load if load is not None else load_average(),
        "platform": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "server": server,
    }
