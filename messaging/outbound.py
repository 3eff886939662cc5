"""The agent's reply: `POST /api/v2/messages/send` -> outbound Message -> `message.sent` on NATS.

T7 is taken by the view's first statement and passed in. Linking follows CONTRACT §4: the body's
`correlationId`, the `X-Correlation-Id` header, else the chat context (the newest trigger of that
instance and chat still awaiting a reply, within the TTL). The first reply's T7-T9 belong to the
journey; later replies are counted as `extraReplies` and travel unsampled.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from journeys.tracker import get_journey_tracker, now_ms
from messaging.delivery import mark_failed
from messaging.events import MESSAGE_SENT, Event, EventMetadata, subject_for, with_timing
from messaging.exceptions import ApiError
from messaging.instances import InstanceConfig, get_instance_config
from messaging.models import Message, TriggerLog
from messaging.runtime import BusUnavailable, require_runtime


@dataclass(frozen=True)
class SendOutcome:
    message_id: str
    correlation_id: str
    linked_by: str
    status: str = "queued"


def send_message(
    *, instance_id: str, to: str, text: str, correlation_id: str | None, header_correlation_id: str | None, t7: float
) -> SendOutcome:
    """Queue an outbound message. Raises ApiError (404 unknown instance, 503 bus unavailable)."""
    instance = get_instance_config(instance_id)
    if instance is None:
        raise ApiError(404, "INSTANCE_NOT_FOUND", f"No instance with id {instance_id!r}.")
    tracker = get_journey_tracker()
    cid, linked_by = _link(instance, to, correlation_id, header_correlation_id, tracker.ttl_ms)
    timed = False
    if tracker.is_tracking(cid):
        timed = tracker.record_checkpoint(cid, "T7", "agentCompletedAt", t7)
        if not timed:
            tracker.count_extra_reply(cid)
    message_id = str(uuid.uuid4())
    with transaction.atomic():
        Message.objects.create(
            instance_id=instance.id,
            direction=Message.OUTBOUND,
            chat_id=to,
            text=text,
            external_id=message_id,
            correlation_id=cid,
            status=Message.QUEUED,
        )
        TriggerLog.objects.filter(correlation_id=cid, status__in=[TriggerLog.PENDING, TriggerLog.SENT]).update(
            status=TriggerLog.REPLIED, replied_at=timezone.now()
        )
    metadata = EventMetadata(cid, instance.id, instance.channel_type, sampled=timed)
    if timed:
        t8 = now_ms()
        tracker.record_checkpoint(cid, "T8", "apiProcessedAt", t8)
        metadata = replace(metadata, timings={"agentCompletedAt": t7, "apiProcessedAt": t8})
    event = Event(MESSAGE_SENT, {"messageId": message_id, "chatId": to, "text": text}, metadata)
    try:
        runtime = require_runtime()
        if timed:
            t9 = now_ms()  # stamped and recorded before the hand-off, so T9 can never follow T10
            event = replace(event, metadata=with_timing(metadata, "outboundEventPublishedAt", t9))
            tracker.record_checkpoint(cid, "T9", "outboundEventPublishedAt", t9)
        runtime.publish_sync(subject_for(MESSAGE_SENT, instance.channel_type, instance.id), event)
    except BusUnavailable as exc:
        mark_failed(instance.id, message_id, f"not queued: {exc}", 0)
        raise ApiError(503, "NATS_UNAVAILABLE", "The message bus is unavailable; retry later.") from exc
    return SendOutcome(message_id, cid, linked_by)


def _link(
    instance: InstanceConfig, chat_id: str, body_cid: str | None, header_cid: str | None, ttl_ms: int
) -> tuple[str, str]:
    if body_cid:
        return body_cid, "body"
    if header_cid:
        return header_cid, "header"
    since = timezone.now() - timedelta(milliseconds=ttl_ms)
    awaiting = (
        TriggerLog.objects.filter(
            message__instance_id=instance.id,
            message__chat_id=chat_id,
            status__in=[TriggerLog.PENDING, TriggerLog.SENT],
            created_at__gte=since,
        )
        .order_by("-created_at", "-pk")
        .values_list("correlation_id", flat=True)
        .first()
    )
    if awaiting:
        return awaiting, "chat"
    return f"evt-{uuid.uuid4()}", "new"
