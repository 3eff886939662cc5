"""T0: each platform's own timestamp of a message, normalised to epoch milliseconds (CONTRACT §2).

Every normaliser returns a float of epoch ms, or None when the platform gave no usable timestamp
(missing, garbage, out of range). None means "no T0": never substitute "now", which would disguise our
own clock as the platform's. Each platform's precision is a constant beside its normaliser.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

TELEGRAM_PRECISION_MS = 1000.0
WHATSAPP_PRECISION_MS = 1000.0
DISCORD_PRECISION_MS = 1.0

DISCORD_EPOCH_MS = 1_420_070_400_000

# Plausible epoch seconds: after 2000-01-01 and before 5138 (where seconds would reach 1e11). A value
# above that in a seconds field is taken to be milliseconds already (some bridges send ms).
_MIN_SECONDS = 946_684_800
_MS_THRESHOLD = 100_000_000_000
_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _number(value: Any) -> float | None:
    """An int/float or a numeric string as a finite number; None for anything else (bool included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        if isinstance(value, str):
            text = value.strip()
            number = float(int(text)) if text.lstrip("+-").isdigit() else float(text)
        else:
            number = float(value)
    except (ValueError, OverflowError):  # OverflowError: an integer beyond a float (JSON has no limit)
        return None
    return number if math.isfinite(number) else None


def _long(value: Mapping[str, Any]) -> float | None:
    """A protobuf.js `Long` (`{low, high, unsigned}`, 32-bit halves) as a number."""
    low, high = value.get("low"), value.get("high")
    if isinstance(low, bool) or isinstance(high, bool) or not isinstance(low, int) or not isinstance(high, int):
        return None
    if not (-(2**31) <= low < 2**32 and -(2**31) <= high < 2**32):
        return None
    if value.get("unsigned"):
        high &= 0xFFFFFFFF
    elif high >= 2**31:
        high -= 2**32
    return float(high * 2**32 + (low & 0xFFFFFFFF))


def seconds_to_ms(value: Any) -> float | None:
    """Epoch seconds (number, numeric string or `{low, high}` Long) as epoch ms; None when unusable.

    A value too large to be seconds (>= 1e11) is taken as milliseconds already.
    """
    number = _long(value) if isinstance(value, Mapping) else _number(value)
    if number is None or number < _MIN_SECONDS:
        return None
    ms = number if number >= _MS_THRESHOLD else number * 1000.0
    return ms if ms <= _MAX_MS else None


def telegram_t0(date: Any) -> float | None:
    """Telegram Bot API `message.date` (integer seconds) -> epoch ms, precision 1000 ms."""
    return seconds_to_ms(date)


def whatsapp_cloud_t0(timestamp: Any) -> float | None:
    """WhatsApp Cloud API `messages[].timestamp` / `statuses[].timestamp` (string seconds) -> epoch ms.

    The rule is `int(ts) * 1000`: a fractional part, if a bridge sends one, is dropped.
    """
    number = _number(timestamp)
    if number is None:
        return None
    return seconds_to_ms(math.floor(number) if number < _MS_THRESHOLD else number)


def baileys_t0(message_timestamp: Any) -> float | None:
    """Baileys-style `messageTimestamp` (seconds: number, numeric string or `{low, high}` Long) -> epoch ms."""
    return seconds_to_ms(message_timestamp)


def iso8601_to_ms(value: Any) -> float | None:
    """An ISO 8601 time (offset or `Z`; a time without one is taken as UTC) -> epoch ms, to the µs."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # Integer microseconds first: `datetime.timestamp()` would round through a float of seconds.
    ms = ((parsed - _EPOCH) // _MICROSECOND) / 1000.0
    return ms if 0 < ms <= _MAX_MS else None


def snowflake_to_ms(snowflake: Any) -> float | None:
    """A Discord snowflake id (int or numeric string) -> its creation time in epoch ms."""
    if isinstance(snowflake, bool):
        return None
    if isinstance(snowflake, str):
        snowflake = snowflake.strip()
        if not (snowflake.isascii() and snowflake.isdigit()):  # "²" is a digit to isdigit(), not to int()
            return None
        snowflake = int(snowflake)
    if not isinstance(snowflake, int) or snowflake <= 0 or snowflake >= 2**64:
        return None
    return float((snowflake >> 22) + DISCORD_EPOCH_MS)


def discord_t0(timestamp: str | None, snowflake: str | int | None) -> float | None:
    """Discord message `timestamp` (ISO 8601), else the time encoded in its snowflake `id`; ms precision."""
    t0 = iso8601_to_ms(timestamp)
    return t0 if t0 is not None else snowflake_to_ms(snowflake)
