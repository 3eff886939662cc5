"""Telegram Update -> InboundMessage: the wire format alone (the webhook tests drive the real pipeline)."""

from __future__ import annotations

import pytest

from channels_plugins.telegram.parsing import parse_update
from channels_plugins.webhooks import PayloadError

DATE = 1_733_200_000


def update(kind: str = "message", **message) -> dict:
    body = {"message_id": 7, "date": DATE, "chat": {"id": -1001, "type": "group"}, "text": "hi"}
    body.update(message)
    return {"update_id": 900, kind: body}


def test_message_becomes_one_inbound_message_with_t0_in_ms():
    parsed = parse_update(update(**{"from": {"id": 42, "is_bot": False, "username": "ann"}}))
    [message] = parsed.messages
    assert (message.chat_id, message.sender, message.text) == ("-1001", "42", "hi")
    assert message.platform_timestamp_ms == DATE * 1000.0 and message.precision_ms == 1000
    assert message.external_id == "-1001:7"  # message ids are unique per chat only
    assert message.extra == {"updateType": "message", "updateId": 900, "username": "ann"}
    assert parsed.ignored == [] and parsed.receipts == []


def test_edited_message_is_its_own_event_timed_at_its_edit():
    [message] = parse_update(update("edited_message", text="hi!", edit_date=DATE + 30)).messages
    assert message.external_id == f"-1001:7:edit:{DATE + 30}"
    assert message.platform_timestamp_ms == (DATE + 30) * 1000.0
    assert message.text == "hi!" and message.extra["updateType"] == "edited_message"


def test_channel_post_without_from_is_attributed_to_its_channel():
    [message] = parse_update(update("channel_post", chat={"id": -100777, "type": "channel"})).messages
    assert message.sender == "-100777" and message.chat_id == "-100777"


def test_media_message_is_stored_with_its_type_and_caption_or_a_summary():
    [photo] = parse_update(update(text=None, photo=[{"file_id": "x"}], caption="look")).messages
    assert (photo.message_type, photo.text) == ("photo", "look")
    [sticker] = parse_update(update(text=None, sticker={"file_id": "y"})).messages
    assert (sticker.message_type, sticker.text) == ("sticker", "[sticker]")


@pytest.mark.parametrize("date", [None, "tomorrow", {"x": 1}, 0])
def test_missing_or_garbage_date_gives_no_t0_but_a_message(date):
    [message] = parse_update(update(date=date)).messages
    assert message.platform_timestamp_ms is None


@pytest.mark.parametrize("kind", ["callback_query", "my_chat_member", "edited_channel_post", "poll_answer"])
def test_update_types_we_do_not_handle_are_ignored_not_refused(kind):
    parsed = parse_update({"update_id": 1, kind: {"id": "x"}})
    assert parsed.messages == [] and parsed.ignored == [kind]


@pytest.mark.parametrize("payload", [{}, {"update_id": 1}, [], "message", 5, {"text": "hi"}])
def test_payload_without_a_message_is_refused_with_no_message(payload):
    with pytest.raises(PayloadError) as raised:
        parse_update(payload)
    assert raised.value.code == "NO_MESSAGE" and raised.value.status == 400


@pytest.mark.parametrize("message", [{"text": "no ids"}, {"message_id": 1, "chat": {}}, "text", None])
def test_message_without_its_ids_is_refused_as_invalid(message):
    with pytest.raises(PayloadError) as raised:
        parse_update({"update_id": 1, "message": message})
    assert raised.value.code == "INVALID_PAYLOAD"
