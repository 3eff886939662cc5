"""WhatsApp Cloud API wire format: a webhook -> messages, delivery receipts and ignored items.

https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples . A webhook holds
`entry[].changes[]`; a change with `field == "messages"` has a `value` with `messages[]` (inbound) and/or
`statuses[]` (receipts of our sends). Other fields (templates, account updates) are acknowledged and
ignored, as are statuses other than `delivered`.
"""

from __future__ import annotations

from typing import Any

from channels_plugins.base import InboundMessage, as_list, id_text, label, plain_text
from channels_plugins.timestamps import WHATSAPP_PRECISION_MS, whatsapp_cloud_t0
from channels_plugins.webhooks import Parsed, PayloadError


def parse_webhook(payload: Any, phone_number_id: str | None = None) -> Parsed:
    """Parse one webhook. With `phone_number_id`, changes addressed to another number are ignored
    (one Meta app may serve several numbers). Raises PayloadError NO_MESSAGE for a payload with no
    `entry[].changes[]`, INVALID_PAYLOAD for a message without its id or sender."""
    changes = [
        change
        for entry in as_list(payload.get("entry") if isinstance(payload, dict) else None)
        if isinstance(entry, dict)
        for change in as_list(entry.get("changes"))
        if isinstance(change, dict)
    ]
    if not changes:
        raise PayloadError("NO_MESSAGE", "The webhook carries no entry[].changes[].")
    parsed = Parsed()
    for change in changes:
        value = _object(change.get("value"))
        metadata = _object(value.get("metadata"))
        if change.get("field") != "messages":
            parsed.ignored.append(label(change.get("field")))
            continue
        messages, statuses = as_list(value.get("messages")), as_list(value.get("statuses"))
        if not (messages or statuses):
            parsed.ignored.append("empty_change")
            continue
        addressed_to = id_text(metadata.get("phone_number_id", phone_number_id))
        if phone_number_id and addressed_to != str(phone_number_id):
            parsed.ignored.append("other_phone_number")
            continue
        names = {
            id_text(c.get("wa_id")): plain_text(_object(c.get("profile")).get("name"))
            for c in as_list(value.get("contacts"))
            if isinstance(c, dict)
        }
        for message in messages:
            parsed.messages.append(_message(message, names, metadata))
        for status in statuses:
            status = _object(status)
            status_id = id_text(status.get("id"))
            if status.get("status") == "delivered" and status_id:
                parsed.receipts.append((status_id, whatsapp_cloud_t0(status.get("timestamp"))))
            else:
                parsed.ignored.append(f"status_{label(status.get('status'), 'invalid')}")
    return parsed


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _message(message: Any, names: dict[str | None, str], metadata: dict[str, Any]) -> InboundMessage:
    message = _object(message)
    external_id, sender = id_text(message.get("id")), id_text(message.get("from"))
    if external_id is None or sender is None:
        raise PayloadError("INVALID_PAYLOAD", "A WhatsApp message has no id or from.")
    kind = label(message.get("type"))
    extra: dict[str, Any] = {"phoneNumberId": id_text(metadata.get("phone_number_id"))}
    if names.get(sender):
        extra["profileName"] = names[sender]
    return InboundMessage(
        external_id=external_id,
        chat_id=sender,  # a 1:1 chat: replies go to the sender's wa_id
        sender=sender,
        text=summary(message, kind),
        platform_timestamp_ms=whatsapp_cloud_t0(message.get("timestamp")),
        precision_ms=WHATSAPP_PRECISION_MS,
        message_type=kind,
        extra=extra,
    )


def summary(message: dict[str, Any], kind: str) -> str:
    """The text of a message: its body, a caption or button title, else `[type]` (e.g. "[image]")."""
    content = _object(message.get(kind))
    if kind == "text":
        return plain_text(content.get("body"))
    if kind == "interactive":
        reply = _object(content.get("button_reply") or content.get("list_reply"))
        if plain_text(reply.get("title")):
            return plain_text(reply["title"])
    if kind == "reaction" and plain_text(content.get("emoji")):
        return f"[reaction {plain_text(content['emoji'])}]"
    return plain_text(content.get("caption")) or plain_text(content.get("text")) or f"[{kind}]"
