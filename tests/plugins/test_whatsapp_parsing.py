"""WhatsApp Cloud API webhook -> messages and receipts: the wire format alone (the webhook tests drive
the real pipeline)."""

from __future__ import annotations

import pytest

from channels_plugins.webhooks import PayloadError
from channels_plugins.whatsapp.parsing import parse_webhook

TS = "1733200000"
PHONE = "100000000000001"


def webhook(value: dict, field: str = "messages") -> dict:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE}, **value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"value": value, "field": field}]}],
    }


def message(kind: str = "text", **fields) -> dict:
    return {"from": "15551234567", "id": f"wamid.{kind}", "timestamp": TS, "type": kind, **fields}


def test_text_message_becomes_an_inbound_message_with_t0_in_ms():
    parsed = parse_webhook(
        webhook(
            {
                "contacts": [{"profile": {"name": "Ann"}, "wa_id": "15551234567"}],
                "messages": [message(text={"body": "hola"})],
            }
        )
    )
    [inbound] = parsed.messages
    assert (inbound.external_id, inbound.chat_id, inbound.sender) == ("wamid.text", "15551234567", "15551234567")
    assert (inbound.text, inbound.message_type) == ("hola", "text")
    assert inbound.platform_timestamp_ms == 1_733_200_000_000.0 and inbound.precision_ms == 1000
    assert inbound.extra == {"phoneNumberId": PHONE, "profileName": "Ann"}


@pytest.mark.parametrize(
    ("kind", "content", "text"),
    [
        ("image", {"id": "m1", "mime_type": "image/jpeg"}, "[image]"),
        ("image", {"id": "m1", "caption": "my cat"}, "my cat"),
        ("audio", {"id": "m2", "voice": True}, "[audio]"),
        ("sticker", {"id": "m3"}, "[sticker]"),
        ("location", {"latitude": 1.0, "longitude": 2.0}, "[location]"),
        ("button", {"text": "Yes please", "payload": "YES"}, "Yes please"),
        ("interactive", {"type": "button_reply", "button_reply": {"id": "b1", "title": "Book"}}, "Book"),
        ("reaction", {"message_id": "wamid.x", "emoji": "👍"}, "[reaction 👍]"),
        ("unsupported", None, "[unsupported]"),
    ],
)
def test_other_message_types_keep_their_type_and_a_summary_text(kind, content, text):
    fields = {kind: content} if content is not None else {}
    [inbound] = parse_webhook(webhook({"messages": [message(kind, **fields)]})).messages
    assert (inbound.message_type, inbound.text) == (kind, text)


def test_several_messages_in_one_webhook_are_all_parsed():
    parsed = parse_webhook(webhook({"messages": [message(id="wamid.1"), message(id="wamid.2")]}))
    assert [m.external_id for m in parsed.messages] == ["wamid.1", "wamid.2"]


def test_delivered_status_is_a_receipt_with_t12_in_ms_and_others_are_ignored():
    statuses = [
        {"id": "wamid.out1", "status": "sent", "timestamp": TS},
        {"id": "wamid.out1", "status": "delivered", "timestamp": "1733200002"},
        {"id": "wamid.out1", "status": "read", "timestamp": "1733200009"},
    ]
    parsed = parse_webhook(webhook({"statuses": statuses}))
    assert parsed.receipts == [("wamid.out1", 1_733_200_002_000.0)]
    assert parsed.ignored == ["status_sent", "status_read"] and parsed.messages == []


@pytest.mark.parametrize("timestamp", [None, "", "soon", "0", {"low": 1}])
def test_missing_or_garbage_timestamp_gives_no_t0_but_a_message(timestamp):
    [inbound] = parse_webhook(webhook({"messages": [message(text={"body": "x"}, timestamp=timestamp)]})).messages
    assert inbound.platform_timestamp_ms is None


def test_other_webhook_fields_and_empty_changes_are_ignored():
    parsed = parse_webhook(webhook({"event": "APPROVED"}, field="message_template_status_update"))
    assert parsed.ignored == ["message_template_status_update"]
    assert parse_webhook(webhook({})).ignored == ["empty_change"]


def test_changes_for_another_phone_number_are_ignored():
    payload = webhook({"messages": [message(text={"body": "x"})]})
    assert parse_webhook(payload, phone_number_id="999").ignored == ["other_phone_number"]
    assert len(parse_webhook(payload, phone_number_id=PHONE).messages) == 1


@pytest.mark.parametrize(
    "payload",
    [{}, [], "x", {"object": "whatsapp_business_account", "entry": []}, {"entry": [{"id": "1", "changes": []}]}],
)
def test_payload_without_entry_changes_is_refused_with_no_message(payload):
    with pytest.raises(PayloadError) as raised:
        parse_webhook(payload)
    assert raised.value.code == "NO_MESSAGE"


@pytest.mark.parametrize("bad", [{"id": "wamid.1"}, {"from": "1555"}, "text"])
def test_message_without_id_or_sender_is_refused_as_invalid(bad):
    with pytest.raises(PayloadError) as raised:
        parse_webhook(webhook({"messages": [bad]}))
    assert raised.value.code == "INVALID_PAYLOAD"
