"""T0 normalisation per platform (CONTRACT §2): epoch ms, or None, never "now"."""

from __future__ import annotations

import pytest

from channels_plugins.timestamps import (
    DISCORD_EPOCH_MS,
    baileys_t0,
    discord_t0,
    iso8601_to_ms,
    seconds_to_ms,
    snowflake_to_ms,
    telegram_t0,
    whatsapp_cloud_t0,
)

SECONDS = 1_733_200_000
MS = SECONDS * 1000.0
GARBAGE = [None, "", "   ", "soon", "17332OOOOO", True, False, [], {}, object(), float("nan"), float("inf"), -5, 0]


@pytest.mark.parametrize("value", [SECONDS, str(SECONDS), f" {SECONDS} ", float(SECONDS)])
def test_telegram_date_in_seconds_becomes_ms(value):
    assert telegram_t0(value) == MS


@pytest.mark.parametrize("value", [str(SECONDS), SECONDS, f"{SECONDS}.9"])
def test_whatsapp_cloud_string_seconds_become_whole_seconds_in_ms(value):
    # The contract's rule is int(ts) * 1000: a fraction, should one arrive, is dropped.
    assert whatsapp_cloud_t0(value) == MS


@pytest.mark.parametrize(
    "value",
    [
        SECONDS,
        str(SECONDS),
        {"low": SECONDS, "high": 0, "unsigned": False},
        {"low": SECONDS, "high": 0, "unsigned": True},
        {"low": SECONDS, "high": 0},
    ],
    ids=["number", "numeric-string", "long", "unsigned-long", "long-without-flag"],
)
def test_baileys_message_timestamp_forms_all_become_ms(value):
    assert baileys_t0(value) == MS


def test_long_with_negative_low_half_is_read_as_unsigned_32_bits():
    # protobuf.js stores the low 32 bits as a signed int: 3_000_000_000 arrives as a negative number.
    seconds = 3_000_000_000
    assert baileys_t0({"low": seconds - 2**32, "high": 0, "unsigned": False}) == seconds * 1000.0


def test_long_with_a_high_half_spans_64_bits():
    ms = 1_733_200_000_123  # a millisecond value, as a Long with a non-zero high half
    assert baileys_t0({"low": ms & 0xFFFFFFFF, "high": ms >> 32}) == float(ms)


@pytest.mark.parametrize("value", [{"low": "1", "high": 0}, {"low": 1}, {"high": 0}, {"low": 2**40, "high": 0}])
def test_malformed_long_gives_no_t0(value):
    assert baileys_t0(value) is None


@pytest.mark.parametrize("normalise", [telegram_t0, whatsapp_cloud_t0, baileys_t0, seconds_to_ms])
def test_a_value_already_in_milliseconds_is_not_multiplied_again(normalise):
    assert normalise(int(MS)) == MS
    assert normalise(str(int(MS))) == MS


@pytest.mark.parametrize("normalise", [telegram_t0, whatsapp_cloud_t0, baileys_t0])
@pytest.mark.parametrize("value", GARBAGE, ids=repr)
def test_missing_or_garbage_timestamp_gives_no_t0(normalise, value):
    assert normalise(value) is None


def test_implausibly_old_seconds_give_no_t0():
    assert telegram_t0(12345) is None  # 1970: a counter, not a date
    assert telegram_t0(10**17) is None  # beyond year 9999 even as ms


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-12-03T04:26:40.123000+00:00", MS + 123),
        ("2024-12-03T04:26:40.123456+00:00", MS + 123.456),
        ("2024-12-03T04:26:40Z", MS),
        ("2024-12-03T06:26:40.5+02:00", MS + 500),
        ("2024-12-02T23:26:40-05:00", MS),
        ("2024-12-03T04:26:40", MS),  # no offset: taken as UTC
    ],
)
def test_iso8601_with_offsets_becomes_ms(value, expected):
    assert iso8601_to_ms(value) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("value", [None, "", "yesterday", "2024-13-40T00:00:00Z", 1733200000, "1733200000"])
def test_garbage_iso8601_gives_none(value):
    assert iso8601_to_ms(value) is None


def test_snowflake_encodes_ms_since_the_discord_epoch():
    created_ms = 1_733_200_000_123
    snowflake = ((created_ms - DISCORD_EPOCH_MS) << 22) | (1 << 17) | 7  # worker, process and increment bits
    assert snowflake_to_ms(snowflake) == float(created_ms)
    assert snowflake_to_ms(str(snowflake)) == float(created_ms)


def test_a_known_discord_snowflake():
    # Discord's documentation example: 175928847299117063 was created at 2016-04-30T11:18:25.796Z.
    assert snowflake_to_ms("175928847299117063") == 1_462_015_105_796.0


@pytest.mark.parametrize("value", [None, "", "abc", "-5", -5, 0, True, 2**64, 1.5e17, "12e5"])
def test_garbage_snowflake_gives_none(value):
    assert snowflake_to_ms(value) is None


def test_discord_prefers_the_iso_timestamp_over_the_snowflake():
    snowflake = (1_000 << 22) + 5  # one second after the Discord epoch
    assert discord_t0("2024-12-03T04:26:40.123+00:00", snowflake) == pytest.approx(MS + 123)


def test_discord_falls_back_to_the_snowflake_when_the_timestamp_is_missing_or_garbage():
    snowflake = (1_000 << 22) + 5
    assert discord_t0(None, snowflake) == DISCORD_EPOCH_MS + 1000.0
    assert discord_t0("not a time", str(snowflake)) == DISCORD_EPOCH_MS + 1000.0


def test_discord_without_either_gives_no_t0():
    assert discord_t0(None, None) is None
    assert discord_t0("garbage", "garbage") is None
