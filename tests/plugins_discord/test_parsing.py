"""Discord's wire formats: T0 from `timestamp` or the snowflake, MESSAGE_CREATE parsing, Gateway payloads."""

from __future__ import annotations

import pytest

from channels_plugins.discord import parsing
from channels_plugins.discord.gateway import gateway_endpoint
from channels_plugins.discord.parsing import discord_t0, parse_message_create, skip_reason
from channels_plugins.discord.sandbox import DiscordSandbox, iso_timestamp

# Discord's documented example: snowflake 175928847299117063 was created at 2016-04-30 11:18:25.796 UTC.
DOC_SNOWFLAKE = "175928847299117063"
DOC_MS = 1462015105796.0


def message(**overrides):
    data = {
        "id": DOC_SNOWFLAKE,
        "channel_id": "41771983423143937",
        "guild_id": "41771983423143936",
        "author": {"id": "80351110224678912", "username": "nelly"},
        "content": "hello",
        "timestamp": "2016-04-30T11:18:25.796000+00:00",
        "type": 0,
    }
    data.update(overrides)
    return data


def test_without_a_timestamp_the_snowflake_gives_its_creation_ms():
    assert discord_t0(None, DOC_SNOWFLAKE) == DOC_MS
    assert discord_t0(None, int(DOC_SNOWFLAKE)) == DOC_MS


@pytest.mark.parametrize("garbage", [None, "", "abc", "12.5", -5, 0, True, 2**64, [], {}])
def test_a_non_snowflake_gives_no_time(garbage):
    assert discord_t0(None, garbage) is None


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2016-04-30T11:18:25.796000+00:00", DOC_MS),
        ("2016-04-30T11:18:25.796+00:00", DOC_MS),
        ("2016-04-30T11:18:25.796Z", DOC_MS),
        ("2016-04-30T13:18:25.796+02:00", DOC_MS),  # an offset is honoured
        ("2016-04-30T06:48:25.796-04:30", DOC_MS),
        ("2016-04-30T11:18:25.796000", DOC_MS),  # no offset: UTC, as Discord sends
        ("2016-04-30T11:18:25+00:00", DOC_MS - 796),
        ("2016-04-30T11:18:25.796123+00:00", DOC_MS + 0.123),  # microseconds kept, not rounded
    ],
)
def test_iso_timestamps_normalise_to_epoch_ms(timestamp, expected):
    assert discord_t0(timestamp, None) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("garbage", [None, "", "   ", "yesterday", "2016-13-40T00:00:00Z", 1462015105, {}])
def test_a_garbage_timestamp_gives_no_time(garbage):
    assert discord_t0(garbage, None) is None


def test_t0_prefers_the_timestamp_and_falls_back_to_the_snowflake():
    assert discord_t0("2016-04-30T11:18:25.900+00:00", DOC_SNOWFLAKE) == pytest.approx(DOC_MS + 104)
    assert discord_t0(None, DOC_SNOWFLAKE) == DOC_MS
    assert discord_t0("not a time", DOC_SNOWFLAKE) == DOC_MS
    assert discord_t0(None, None) is None
    assert discord_t0("garbage", "garbage") is None


def test_sandbox_timestamps_and_ids_agree_to_the_millisecond():
    sandbox = DiscordSandbox()
    data = sandbox.message("1", "hi")
    assert discord_t0(data["timestamp"], None) == discord_t0(None, data["id"])
    assert iso_timestamp(int(DOC_MS)) == "2016-04-30T11:18:25.796000+00:00"


def test_message_create_parses_into_an_inbound_message():
    parsed = parse_message_create(message(attachments=[{"url": "https://cdn/x.png"}]))
    assert parsed is not None
    assert (parsed.external_id, parsed.chat_id, parsed.sender, parsed.text) == (
        DOC_SNOWFLAKE,
        "41771983423143937",
        "80351110224678912",
        "hello",
    )
    assert parsed.platform_timestamp_ms == DOC_MS and parsed.precision_ms == 1
    assert parsed.message_type == "text"
    assert parsed.extra == {"guildId": "41771983423143936", "senderName": "nelly", "attachments": ["https://cdn/x.png"]}


def test_message_without_a_timestamp_uses_the_snowflake_and_without_either_has_no_t0():
    assert parse_message_create(message(timestamp=None)).platform_timestamp_ms == DOC_MS
    no_time = parse_message_create(message(id="not-a-snowflake", timestamp="garbage"))
    assert no_time is not None and no_time.platform_timestamp_ms is None  # still tracked, without T0


def test_attachment_only_message_and_missing_content():
    parsed = parse_message_create(message(content="", attachments=[{"url": "https://cdn/a.pdf"}]))
    assert parsed.message_type == "attachment" and parsed.text == ""
    assert parse_message_create(message(content=None)).text == ""


@pytest.mark.parametrize(
    "broken",
    [message(id=None), message(channel_id=""), message(author=None), message(author={"username": "x"})],
)
def test_a_message_without_id_channel_or_author_is_not_parsed(broken):
    assert parse_message_create(broken) is None


def test_own_bot_other_bots_and_system_messages_are_skipped():
    own = "999"
    assert skip_reason(message(), own) is None
    assert skip_reason(message(type=19), own) is None  # a reply is a user message
    assert skip_reason(message(author={"id": own, "bot": True}), own) == "own"
    assert skip_reason(message(author={"id": "5", "bot": True}), own) == "bot"
    assert skip_reason(message(author={"id": "5", "system": True}), own) == "bot"
    assert skip_reason(message(type=7), own) == "system"  # a member joined
    assert skip_reason(message(), None) is None  # before READY we do not know ourselves yet


def test_gateway_payloads():
    identify = parsing.identify("tok", parsing.DEFAULT_INTENTS)
    assert identify["op"] == 2 and identify["d"]["token"] == "tok"
    intents = identify["d"]["intents"]
    assert intents & (1 << 9) and intents & (1 << 12) and intents & (1 << 15)
    assert set(identify["d"]["properties"]) == {"os", "browser", "device"}
    assert parsing.resume("tok", "sess", 42) == {"op": 6, "d": {"token": "tok", "session_id": "sess", "seq": 42}}
    assert parsing.heartbeat(None) == {"op": 1, "d": None}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("wss://gateway.discord.gg", "wss://gateway.discord.gg/?v=10&encoding=json"),
        ("wss://gateway.discord.gg/", "wss://gateway.discord.gg/?v=10&encoding=json"),
        ("ws://127.0.0.1:9/?v=9", "ws://127.0.0.1:9/?v=9&encoding=json"),
    ],
)
def test_gateway_endpoint_names_version_and_encoding(url, expected):
    assert gateway_endpoint(url) == expected
