"""Storing inbound messages and creating their agent triggers (ORM, synchronous).

Called by the persistence consumer from a worker thread with a whole batch: one transaction finds or
creates the messages (T4 is taken after it commits), a second creates the TriggerLogs of the messages
whose instance has an agent (T5 after it commits). Both are idempotent, so a redelivered batch stores
no second row and creates no second trigger, and a crash between the two is repaired by redelivery.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from journeys.tracker import now_ms
from messaging.events import Event
from messaging.instances import InstanceConfig, get_instance_config
from messaging.models import Message, TriggerLog


@dataclass
class Stored:
    event: Event
    instance: InstanceConfig
    message_pk: int
    created: bool
    trigger_pk: int | None = None
    trigger_created: bool = False


@dataclass
class BatchResult:
    stored: list[Stored]
    rejected: list[tuple[Event, str]]
    stored_at: float
    triggered_at: float | None


def store_inbound_batch(events: list[Event]) -> BatchResult:
    """Find-or-create the messages of `events`. Raises DatabaseError (nothing acked, redelivered)."""
    try:
        return _store(events)
    except DatabaseError:
        connection.close()  # this worker thread reconnects on its next batch
        raise


def _store(events: list[Event]) -> BatchResult:
    accepted: list[tuple[Event, InstanceConfig, str]] = []
    rejected: list[tuple[Event, str]] = []
    for event in events:
        instance = get_instance_config(event.metadata.instance_id or "")
        external_id = str(event.payload.get("externalId") or "")
        if instance is None:
            rejected.append((event, f"unknown instance {event.metadata.instance_id!r}"))
        elif not external_id or not event.payload.get("chatId"):
            rejected.append((event, "payload has no externalId or chatId"))
        else:
            accepted.append((event, instance, external_id))
    if not accepted:
        return BatchResult([], rejected, now_ms(), None)

    with transaction.atomic():
        keys = {(instance.id, external_id) for _, instance, external_id in accepted}
        existing = _message_ids(keys)
        new: dict[tuple[str, str], str] = {}  # key -> correlation id of the event that creates it
        rows = []
        now = _db_value(_CREATED_AT, timezone.now())
        for event, instance, external_id in accepted:
            key = (instance.id, external_id)
            if key not in existing and key not in new:
                payload = event.payload
                new[key] = event.metadata.correlation_id
                rows.append((
                    _db_value(_INSTANCE, uuid.UUID(instance.id)),
                    Message.INBOUND,
                    str(payload["chatId"])[:200],
                    str(payload.get("sender") or "")[:200],
                    str(payload.get("text") or ""),
                    str(payload.get("messageType") or "text")[:30],
                    external_id[:200],
                    "",
                    event.metadata.correlation_id,
                    Message.RECEIVED,
                    "",
                    0,
                    now,
                    now,
                ))  # fmt: skip
        _insert_messages(rows)
        ids = existing | _message_ids(set(new))
    stored_at = now_ms()

    stored: list[Stored] = []
    seen: set[tuple[str, str]] = set()
    for event, instance, external_id in accepted:
        key = (instance.id, external_id)
        first = key in new and key not in seen and new[key] == event.metadata.correlation_id
        seen.add(key)
        stored.append(Stored(event, instance, ids[key], created=first))
    triggered_at = _create_triggers([s for s in stored if s.instance.has_agent])
    return BatchResult(stored, rejected, stored_at, triggered_at)


_COLUMNS = (
    "instance_id", "direction", "chat_id", "sender", "text", "message_type", "external_id",
    "platform_message_id", "correlation_id", "status", "error", "attempts", "created_at", "updated_at",
)  # fmt: skip
_INSTANCE = Message._meta.get_field("instance").target_field
_CREATED_AT = Message._meta.get_field("created_at")


def _db_value(field, value):
    return field.get_db_prep_value(value, connection)


def _insert_messages(rows: list[tuple]) -> None:
    """The rows of new messages in one statement. Django's bulk_create prepares every field of every
    object in Python, which was most of the consumer's time; the values here are prepared once per
    batch. ON CONFLICT DO NOTHING (SQLite and PostgreSQL): another process may have stored the same
    platform message meanwhile."""
    if not rows:
        return
    quote = connection.ops.quote_name
    # Only our own table and column names are interpolated; the values go as parameters.
    sql = "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING".format(  # noqa: S608
        quote(Message._meta.db_table), ", ".join(quote(c) for c in _COLUMNS), ", ".join(["%s"] * len(_COLUMNS))
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _message_ids(keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    if not keys:
        return {}
    rows = Message.objects.filter(
        direction=Message.INBOUND,
        instance_id__in={instance_id for instance_id, _ in keys},
        external_id__in={external_id for _, external_id in keys},
    ).values_list("instance_id", "external_id", "pk")
    return {(str(i), e): pk for i, e, pk in rows if (str(i), e) in keys}


def _create_triggers(items: list[Stored]) -> float | None:
    if not items:
        return None
    by_message = {item.message_pk: item for item in items}
    with transaction.atomic():
        have = dict(TriggerLog.objects.filter(message_id__in=by_message).values_list("message_id", "pk"))
        missing = [
            TriggerLog(
                message_id=pk, correlation_id=item.event.metadata.correlation_id, agent_url=item.instance.agent_url
            )
            for pk, item in by_message.items()
            if pk not in have
        ]
        TriggerLog.objects.bulk_create(missing, ignore_conflicts=True)
        created = dict(
            TriggerLog.objects.filter(message_id__in=[t.message_id for t in missing]).values_list("message_id", "pk")
        )
    triggered_at = now_ms()
    for pk, item in by_message.items():
        item.trigger_pk = have.get(pk) or created.get(pk)
        item.trigger_created = pk in created
    return triggered_at
