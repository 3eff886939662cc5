"""Telegram Bot API wire format: an `Update` -> at most one `InboundMessage`.

https://core.telegram.org/bots/api#update . We handle `message`, `edited_message` and `channel_post`;
any other update type (`callback_query`, `my_chat_member`, ...) is acknowledged and ignored.
"""

from __future__ import annotations

from typing import Any

from channels_plugins.base import InboundMessage, id_text, plain_text
from channels_plugins.timestamps import TELEGRAM_PRECISION_MS, telegram_t0
from channels_plugins.webhooks import Parsed, PayloadError

HANDLED = ("message", "edited_message", "channel_post")
# Content kinds of a non-text message, in the Bot API's field names; stored as the message type.
MEDIA = (
    "photo",
    "video",
    "animation",
    "document",
    "audio",
    "voice",
    "video_note",
    "sticker",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
)


def parse_update(update: Any) -> Parsed:
    """Parse one Update. Raises PayloadError: NO_MESSAGE for an object that is no Update at all,
    INVALID_PAYLOAD for a handled update whose message lacks its ids."""
    if not isinstance(update, dict):
        raise PayloadError("NO_MESSAGE", "A Telegram Update is a JSON object.")
    update_type = next((key for key in HANDLED if key in update), None)
    if update_type is None:
        others = [key for key in update if key != "update_id"]
        if "update_id" in update and others:
            return Parsed(ignored=[others[0]])
        raise PayloadError("NO_MESSAGE", "The Update carries no message.")
    return Parsed(messages=[_message(update, update_type)])


def _message(update: dict[str, Any], update_type: str) -> InboundMessage:
    message = update[update_type]
    if not isinstance(message, dict):
        raise PayloadError("INVALID_PAYLOAD", f"{update_type} is not an object.")
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    chat_id, message_id = id_text(chat.get("id")), id_text(message.get("message_id"))
    if chat_id is None or message_id is None:
        raise PayloadError("INVALID_PAYLOAD", f"{update_type} has no message_id or chat.id.")
    # Channel posts have no `from`.
    author = next((a for a in (message.get("from"), message.get("sender_chat")) if isinstance(a, dict) and a), chat)
    edited = update_type == "edited_message"
    # Message ids are unique per chat only; an edit is its own event (and T0 is when it was edited).
    external_id = f"{chat_id}:{message_id}"
    date = message.get("date")
    if edited:
        external_id += f":edit:{id_text(message.get('edit_date')) or id_text(update.get('update_id'))}"
        date = message.get("edit_date") or date
    kind = next((key for key in MEDIA if key in message), "text")
    text = plain_text(message.get("text")) or plain_text(message.get("caption"))
    extra: dict[str, Any] = {"updateType": update_type, "updateId": _int64(update.get("update_id"))}
    if plain_text(author.get("username")):
        extra["username"] = plain_text(author["username"])
    return InboundMessage(
        external_id=external_id,
        chat_id=chat_id,
        sender=id_text(author.get("id")) or "",
        text=text or ("" if kind == "text" else f"[{kind}]"),
        platform_timestamp_ms=telegram_t0(date),
        precision_ms=TELEGRAM_PRECISION_MS,
        message_type=kind,
        extra=extra,
    )


def _int64(value: Any) -> int | None:
    """An integer the event encoder can carry (orjson: 64 bits), else None."""
    ok = isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**64
    return value if ok else None
