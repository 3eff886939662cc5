"""Hypothesis strategies for JSON-like input: arbitrary documents and mutations of valid payloads.

The documents are what `json.loads` can hand a parser: dicts, lists, strings, ints of any size (JSON has no
integer limit), floats including NaN and infinities (Python's json accepts `NaN` and `Infinity`), booleans
and null. Keys and strings lean towards the names and values the parsers look at, so generated documents
reach deep into the code instead of being refused at the first `isinstance`.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# One fixed profile per test (not a global `load_profile`, which would change other suites' tests):
# derandomized so CI sees the same examples every run, no example database written into the tree.
PROPERTY = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FIELD_NAMES = [
    # Telegram
    "update_id", "message", "edited_message", "channel_post", "callback_query", "chat", "id", "message_id",
    "from", "sender_chat", "date", "edit_date", "text", "caption", "username", "photo", "sticker",
    # WhatsApp Cloud API
    "object", "entry", "changes", "field", "value", "metadata", "phone_number_id", "messages", "statuses",
    "contacts", "wa_id", "profile", "name", "timestamp", "type", "status", "body", "interactive",
    "button_reply", "list_reply", "title", "reaction", "emoji", "image",
    # Discord MESSAGE_CREATE
    "author", "channel_id", "guild_id", "bot", "system", "content", "attachments", "url", "message_reference",
    # protobuf.js Long
    "low", "high", "unsigned",
]  # fmt: skip

# Strings that have broken number and time parsers before: non-ASCII digits, overflowing numbers,
# offsets that push a time past year 9999 or before year 1, numeric strings of every sign and size; and
# text no database or encoder takes as is: NUL (PostgreSQL) and lone surrogates (orjson, UTF-8).
TRICKY_STRINGS = [
    "", " ", "0", "-1", "+5", "+-5", "1e400", "-1e400", "nan", "inf", "Infinity", "1_000", "0x10",
    "1733200000", "1733200000.9", "1733200000000", " 1733200000 ", "9" * 400, "1" + "0" * 30, "²", "٣", "¹²³",
    "175928847299117063", "18446744073709551616", "2016-04-30T11:18:25.796000+00:00", "2016-04-30T11:18:25Z",
    "2016-04-30", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999+00:00", "yesterday", "delivered", "messages", "text",
    "\x00", "a\x00b", "\ud800", "x\udfff", "\ud7ff", "🙂",
]  # fmt: skip

TRICKY_NUMBERS = [
    0, -1, 1, 2**31, 2**32, 2**63, 2**64, -(2**63) - 1, 10**20, 10**400, -(10**400),
    946_684_800, 1_733_200_000, 1_733_200_000_000, 253_402_300_799_999, 0.5, -0.0, 1e308, 1e-308,
    float("nan"), float("inf"), float("-inf"),
]  # fmt: skip

keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=8)
strings = st.sampled_from(TRICKY_STRINGS) | st.text(max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(TRICKY_NUMBERS)
    | st.floats(allow_nan=True, allow_infinity=True)
    | strings
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5)


json_values = st.recursive(scalars, _containers, max_leaves=20)
# A top-level object of small values: as deep as json_values, a fraction of the generation cost.
json_objects = st.dictionaries(keys, st.recursive(scalars, _containers, max_leaves=6), max_size=6)


def _slots(node: Any, slots: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) of a document, depth first."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        slots.append((node, key))
        _slots(child, slots)
    return slots


@st.composite
def mutations(draw: st.DrawFn, valid: Any, max_changes: int = 4) -> Any:
    """A valid payload with 1..max_changes changes: a value replaced by any JSON value, a key dropped,
    a value wrapped in a list, or a new key added. Deep structure survives, so the parser's later
    branches see the damage."""
    document = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, max_changes))):
        slots = _slots(document, [])
        if not slots:
            return draw(json_values)
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["replace", "replace", "drop", "wrap", "add"]))
        if action == "drop" and isinstance(container, dict):
            del container[key]
        elif action == "wrap":
            container[key] = [container[key]]
        elif action == "add" and isinstance(container[key], dict):
            container[key][draw(keys)] = draw(json_values)
        else:
            container[key] = draw(json_values)
    return document
