"""Discord's wire formats: Gateway payloads we send, `MESSAGE_CREATE` dispatches we read (T0 included).

Pure functions and constants, no I/O: the gateway client and the plugin build on them, the sandbox
speaks the same shapes from the other side.
"""

from __future__ import annotations

import platform
from typing import Any, TypedDict

from channels_plugins.base import InboundMessage, as_list, id_text, plain_text  # untrusted JSON, read safely
from channels_plugins.timestamps import DISCORD_PRECISION_MS, discord_t0  # T0, CONTRACT §2

# Gateway opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 7, 9, 10, 11

# Gateway intents: guild and direct messages with their content (MESSAGE_CONTENT is privileged).
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
DEFAULT_INTENTS = GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT

# Close codes after which reconnecting is futile (bad token, bad shard, bad version, bad intents).
FATAL_CLOSE_CODES = frozenset({4004, 4010, 4011, 4012, 4013, 4014})
# Close codes that end the session: reconnect with a fresh Identify instead of resuming.
SESSION_ENDING_CLOSE_CODES = frozenset({4007, 4009})

# Message types that carry what a user wrote: DEFAULT and REPLY. The others are system notices.
USER_MESSAGE_TYPES = frozenset({0, 19})


class GatewayPayload(TypedDict, total=False):
    op: int
    d: Any
    s: int | None
    t: str | None


def identify(token: str, intents: int) -> GatewayPayload:
    return {
        "op": IDENTIFY,
        "d": {
            "token": token,
            "intents": intents,
            "properties": {"os": platform.system().lower(), "browser": "omni-hub", "device": "omni-hub"},
        },
    }


def resume(token: str, session_id: str, seq: int | None) -> GatewayPayload:
    return {"op": RESUME, "d": {"token": token, "session_id": session_id, "seq": seq}}


def heartbeat(seq: int | None) -> GatewayPayload:
    return {"op": HEARTBEAT, "d": seq}


# --- MESSAGE_CREATE -------------------------------------------------------------------------------------


def skip_reason(data: dict[str, Any], own_user_id: str | None) -> str | None:
    """Why this MESSAGE_CREATE is not for the agent (our own bot, another bot, a system notice), or None."""
    author = data.get("author") if isinstance(data.get("author"), dict) else {}
    if own_user_id is not None and id_text(author.get("id")) == own_user_id:
        return "own"
    if author.get("bot") or author.get("system"):
        return "bot"
    message_type = data.get("type", 0)
    if isinstance(message_type, bool) or not isinstance(message_type, int) or message_type not in USER_MESSAGE_TYPES:
        return "system"
    return None


def parse_message_create(data: dict[str, Any]) -> InboundMessage | None:
    """A MESSAGE_CREATE dispatch's `d` as an InboundMessage; None when it lacks an id, channel or author."""
    author = data.get("author") if isinstance(data.get("author"), dict) else {}
    message_id, channel_id, sender = id_text(data.get("id")), id_text(data.get("channel_id")), id_text(author.get("id"))
    if message_id is None or channel_id is None or sender is None:
        return None
    text = plain_text(data.get("content"))
    attachments = [plain_text(a.get("url")) for a in as_list(data.get("attachments")) if isinstance(a, dict)]
    attachments = [url for url in attachments if url]
    extra: dict[str, Any] = {}
    if id_text(data.get("guild_id")):
        extra["guildId"] = id_text(data["guild_id"])
    if plain_text(author.get("username")):
        extra["senderName"] = plain_text(author["username"])
    if attachments:
        extra["attachments"] = attachments
    reference = data.get("message_reference")
    if isinstance(reference, dict) and id_text(reference.get("message_id")):
        extra["replyTo"] = id_text(reference["message_id"])
    return InboundMessage(
        external_id=message_id,
        chat_id=channel_id,
        sender=sender,
        text=text,
        platform_timestamp_ms=discord_t0(data.get("timestamp"), data.get("id")),
        precision_ms=DISCORD_PRECISION_MS,
        message_type="attachment" if attachments and not text else "text",
        extra=extra,
    )
