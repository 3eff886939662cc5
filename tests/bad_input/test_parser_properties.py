"""Property-based tests of the T0 normalisers and the webhook/gateway parsers (issue 6, "Bad input").

For any JSON-like input, and for valid payloads with random damage, a parser returns its parsed result or
raises its documented rejection (`PayloadError` with a code, or None for Discord), never another exception.
What it returns must also be publishable: an `InboundMessage` of strings whose payload the event encoder
(orjson) accepts, with T0 either None or a finite epoch-ms value in range.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from channels_plugins.base import InboundMessage
from channels_plugins.discord.parsing import parse_message_create, skip_reason
from channels_plugins.telegram.parsing import parse_update
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
from channels_plugins.webhooks import Parsed, PayloadError
from channels_plugins.whatsapp.parsing import parse_webhook
from messaging.events import MESSAGE_RECEIVED, Event, EventMetadata
from tests.bad_input.strategies import PROPERTY, TRICKY_NUMBERS, TRICKY_STRINGS, json_objects, json_values, mutations

MAX_MS = 253_402_300_799_999.0  # 9999-12-31T23:59:59.999Z

TELEGRAM_UPDATE = {
    "update_id": 10001,
    "message": {
        "message_id": 7,
        "date": 1733200000,
        "from": {"id": 424242, "is_bot": False, "first_name": "Sandy", "username": "sandy"},
        "chat": {"id": 424242, "type": "private", "username": "sandy"},
        "text": "hello",
    },
}
TELEGRAM_EDIT = {
    "update_id": 10002,
    "edited_message": {**TELEGRAM_UPDATE["message"], "edit_date": 1733200100, "photo": [{"file_id": "f"}]},
}


def wa_change(value: dict) -> dict:
    """A WhatsApp webhook of one `messages` change with this value."""
    return {"entry": [{"changes": [{"field": "messages", "value": value}]}]}


WA_TEXT = {"from": "15551234567", "id": "wamid.A", "timestamp": "1733200000", "type": "text", "text": {"body": "hola"}}
WA_BUTTON = {
    "from": "15551234567",
    "id": "wamid.B",
    "timestamp": "1733200001",
    "type": "interactive",
    "interactive": {"type": "button_reply", "button_reply": {"id": "b", "title": "Book"}},
}
WHATSAPP_WEBHOOK = wa_change(
    {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000001", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Sandy"}, "wa_id": "15551234567"}],
        "messages": [WA_TEXT, WA_BUTTON],
        "statuses": [{"id": "wamid.out", "status": "delivered", "timestamp": "1733200002"}],
    }
)
DISCORD_MESSAGE = {
    "id": "175928847299117063",
    "channel_id": "41771983423143937",
    "guild_id": "41771983423143936",
    "author": {"id": "80351110224678912", "username": "nelly"},
    "content": "hello",
    "timestamp": "2016-04-30T11:18:25.796000+00:00",
    "type": 0,
    "attachments": [{"url": "https://cdn.example/a.png"}],
    "message_reference": {"message_id": "175928847299117000"},
}


def assert_t0(value: object) -> None:
    assert value is None or (isinstance(value, float) and math.isfinite(value) and 0 < value <= MAX_MS), value


def assert_publishable(message: InboundMessage) -> None:
    """A message the plugin can hand to NATS: string ids, a sane T0, a payload orjson can encode."""
    assert isinstance(message, InboundMessage)
    for name in ("external_id", "chat_id", "sender", "text", "message_type"):
        assert isinstance(getattr(message, name), str), name
    assert message.external_id and message.chat_id
    assert_t0(message.platform_timestamp_ms)
    assert message.precision_ms is None or message.precision_ms > 0
    metadata = EventMetadata("evt-property", "instance", "test", timings={"pluginReceivedAt": 1.0})
    assert Event(MESSAGE_RECEIVED, message.payload(), metadata).to_json()


def assert_parsed_or_rejected(parse, payload: object) -> Parsed | None:
    try:
        parsed = parse(payload)
    except PayloadError as exc:
        assert exc.status == 400 and exc.code in {"NO_MESSAGE", "INVALID_PAYLOAD"}, exc.code
        assert exc.message
        return None
    assert isinstance(parsed, Parsed)
    for message in parsed.messages:
        assert_publishable(message)
    for platform_id, delivered_at in parsed.receipts:
        assert isinstance(platform_id, str) and platform_id
        assert_t0(delivered_at)
    assert all(isinstance(kind, str) for kind in parsed.ignored)
    return parsed


# --- T0 normalisers -----------------------------------------------------------------------------------

T0_NORMALISERS = [telegram_t0, whatsapp_cloud_t0, baileys_t0, seconds_to_ms, iso8601_to_ms, snowflake_to_ms]


@PROPERTY
@given(json_values)
@example("1" + "0" * 400)  # a numeric string too large for a float
@example(10**400)  # an integer too large for a float (JSON carries any size)
@example("²")  # a digit to str.isdigit(), not to int()
@example("9999-12-31T23:59:59-23:59")  # past year 9999 in UTC
def test_t0_normalisers_return_none_or_epoch_ms_for_any_input(value):
    for normalise in T0_NORMALISERS:
        assert_t0(normalise(value))


@PROPERTY
@given(json_values, json_values)
def test_discord_t0_returns_none_or_epoch_ms_for_any_pair(timestamp, snowflake):
    assert_t0(discord_t0(timestamp, snowflake))


@PROPERTY
@given(st.integers(946_684_800, 99_999_999_999))
def test_plausible_epoch_seconds_become_exact_ms(seconds):
    assert telegram_t0(seconds) == seconds * 1000.0
    assert whatsapp_cloud_t0(str(seconds)) == seconds * 1000.0
    assert baileys_t0({"low": seconds & 0xFFFFFFFF, "high": seconds >> 32, "unsigned": True}) == seconds * 1000.0


@PROPERTY
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_iso8601_times_become_ms_to_the_microsecond(moment):
    expected = ((moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)) / 1000.0
    assert iso8601_to_ms(moment.isoformat()) == expected


@PROPERTY
@given(st.integers(0, 2**42 - 1), st.integers(0, 2**22 - 1))
def test_snowflakes_give_their_creation_ms(ms_since_discord_epoch, low_bits):
    snowflake = (ms_since_discord_epoch << 22) | low_bits
    if snowflake == 0:
        return
    assert snowflake_to_ms(snowflake) == snowflake_to_ms(str(snowflake)) == ms_since_discord_epoch + DISCORD_EPOCH_MS


# --- Telegram Update parsing ------------------------------------------------------------------------


@PROPERTY
@given(json_values | json_objects)
def test_telegram_any_json_is_parsed_or_rejected(payload):
    assert_parsed_or_rejected(parse_update, payload)


@PROPERTY
@given(mutations(TELEGRAM_UPDATE) | mutations(TELEGRAM_EDIT))
@example({"update_id": 2**70, "message": TELEGRAM_UPDATE["message"]})  # orjson encodes 64-bit integers only
@example({"update_id": 1, "message": {**TELEGRAM_UPDATE["message"], "from": {"id": 1, "username": [[2**64]]}}})
def test_telegram_damaged_updates_are_parsed_or_rejected(payload):
    assert_parsed_or_rejected(parse_update, payload)


def test_telegram_valid_update_survives_the_property_helpers():
    parsed = assert_parsed_or_rejected(parse_update, TELEGRAM_UPDATE)
    assert parsed is not None and [m.text for m in parsed.messages] == ["hello"]


# --- WhatsApp Cloud API webhook parsing ------------------------------------------------------------


@PROPERTY
@given(json_values | json_objects)
@example({"entry": 5})
@example({"entry": [{"changes": 7}]})
def test_whatsapp_any_json_is_parsed_or_rejected(payload):
    assert_parsed_or_rejected(parse_webhook, payload)
    assert_parsed_or_rejected(lambda p: parse_webhook(p, "106540352242922"), payload)


@PROPERTY
@given(mutations(WHATSAPP_WEBHOOK, max_changes=5))
@example(wa_change({"messages": 1}))
@example(wa_change({"statuses": 1.5}))
@example(wa_change({"messages": [], "statuses": [{}], "contacts": 3}))
@example(wa_change({"statuses": [{}], "contacts": [{"profile": "x"}]}))
@example(wa_change({"messages": [{"id": "w", "from": "1", "type": "text"}], "metadata": {"phone_number_id": 2**64}}))
def test_whatsapp_damaged_webhooks_are_parsed_or_rejected(payload):
    assert_parsed_or_rejected(parse_webhook, payload)
    assert_parsed_or_rejected(lambda p: parse_webhook(p, "106540352242922"), payload)


def test_whatsapp_valid_webhook_survives_the_property_helpers():
    parsed = assert_parsed_or_rejected(parse_webhook, WHATSAPP_WEBHOOK)
    assert parsed is not None and [m.text for m in parsed.messages] == ["hola", "Book"]
    assert parsed.receipts == [("wamid.out", 1_733_200_002_000.0)]


# --- Discord MESSAGE_CREATE parsing ------------------------------------------------------------------


def discord_parsed_or_skipped(data: dict) -> None:
    """The plugin's path: skip_reason, then parse_message_create; None means "not for the agent"."""
    reason = skip_reason(data, "80351110224678912")
    assert reason is None or reason in {"own", "bot", "system"}
    message = parse_message_create(data)
    if message is not None:
        assert_publishable(message)


@PROPERTY
@given(json_objects)
@example({"type": []})  # unhashable: `in frozenset` raises TypeError
@example({"type": {}, "author": {"id": "1"}})
@example({"id": "1", "channel_id": "2", "author": {"id": "3"}, "attachments": 5})
def test_discord_any_object_is_parsed_or_skipped(data):
    discord_parsed_or_skipped(data)


@PROPERTY
@given(mutations(DISCORD_MESSAGE))
@example({**DISCORD_MESSAGE, "guild_id": 2**64})
@example({**DISCORD_MESSAGE, "id": "²"})
def test_discord_damaged_dispatches_are_parsed_or_skipped(data):
    if isinstance(data, dict):  # the plugin hands on dict payloads only
        discord_parsed_or_skipped(data)


def test_discord_valid_dispatch_survives_the_property_helpers():
    message = parse_message_create(DISCORD_MESSAGE)
    assert message is not None and message.text == "hello"
    assert_publishable(message)


def test_tricky_values_are_really_in_the_strategies():
    # A guard against the strategies silently losing their edge cases in a refactor.
    assert "²" in TRICKY_STRINGS and 10**400 in TRICKY_NUMBERS
