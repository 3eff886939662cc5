"""Parsing of the `since` filter: `<n>s|m|h|d` ago, or an ISO 8601 time (CONTRACT §5)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_since(value: str, now_ms: float) -> float:
    """Return the epoch ms that `value` names. Raises ValueError for anything else (never "all time")."""
    text = value.strip()
    match = _RELATIVE.match(text)
    if match:
        return now_ms - float(match.group(1)) * _UNIT_MS[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"since must be <n>s, <n>m, <n>h, <n>d or an ISO 8601 time, got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000.0
