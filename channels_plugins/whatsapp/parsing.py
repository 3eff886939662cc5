"""WhatsApp Cloud API wire format: a webhook -> messages, delivery receipts and ignored items.

https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples . A webhook holds
`entry[].changes[]`; a change with `field == "messages"` has a `value` with `messages[]` (inbound) and/or
`statuses[]` (receipts of our sends). Other fields (templates, account updates) are acknowledged and
ignored, as are statuses other than `delivered`.
"""

from __future__ import annotations

from typing import Any

from channels_plugins.base import InboundMessage
from channels_plugins.timestamps import WHATSAPP_PRECISION_MS, whatsapp_cloud_t0
from channels_plugins.webhooks import Parsed, PayloadError


def parse_webhook(payload: Any, phone_number_id: str | None = None) -> Parsed:
    """Parse one webhook. With `phone_number_id`, changes addressed to another number are ignored
    (one Meta app may serve several numbers). Raises PayloadError NO_MESSAGE for a payload with no
    `entry[].changes[]`, INVALID_PAYLOAD for a message without its id or sender."""
    changes = [
        change
        for entry in (payload.get("entry") if isinstance(payload, dict) else None) or []
        if isinstance(entry, dict)
        for change in entry.get("changes") or []
        if isinstance(change, dict)
    ]
    if not changes:
        raise PayloadError("NO_MESSAGE", "The webhook carries no entry[].changes[].")
    parsed = Parsed()
    for change in changes:
        value = change.get("value") if isinstance(change.get("value"), dict) else {}
        metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
        if change.get("field") != "messages":
            parsed.ignored.append(str(change.get("field") or "unknown"))
            continue
        if not (value.get("messages") or value.get("statuses")):
            parsed.ignored.append("empty_change")
            continue
        if phone_number_id and str(metadata.get("phone_number_id", phone_number_id)) != str(phone_number_id):
            parsed.ignored.append("other_phone_number")
            continue
        names = {
            str(c.get("wa_id")): (c.get("profile") or {}).get("name")
            for c in value.get("contacts") or []
            if isinstance(c, dict)
        }
        for message in value.get("messages") or []:
            parsed.messages.append(_message(message, names, metadata))
        for status in value.get("statuses") or []:
            if isinstance(status, dict) and status.get("status") == "delivered" and status.get("id"):
                parsed.receipts.append((str(status["id"]), whatsapp_cloud_t0(status.get("timestamp"))))
            else:
                parsed.ignored.append(f"status_{status.get('status') if isinstance(status, dict) else 'invalid'}")
    return parsed


def _message(message: Any, names: dict[str, Any], metadata: dict[str, Any]) -> InboundMessage:
    if not isinstance(message, dict) or not message.get("id") or not message.get("from"):
        raise PayloadError("INVALID_PAYLOAD", "A WhatsApp message has no id or from.")
    sender = str(message["from"])
    kind = str(message.get("type") or "unknown")
    extra: dict[str, Any] = {"phoneNumberId": metadata.get("phone_number_id")}
    if names.get(sender):
        extra["profileName"] = names[sender]
    return InboundMessage(
        external_id=str(message["id"]),
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
    content = message.get(kind) if isinstance(message.get(kind), dict) else {}
    if kind == "text":
        return str(content.get("body") or "")
    if kind == "interactive":
        reply = content.get("button_reply") or content.get("list_reply") or {}
        if isinstance(reply, dict) and reply.get("title"):
            return str(reply["title"])
    if kind == "reaction" and content.get("emoji"):
        return f"[reaction {content['emoji']}]"
    text = content.get("caption") or content.get("text")
    return str(text) if text else f"[{kind}]"
