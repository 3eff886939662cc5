"""Notifying an instance's agent about an inbound message, with bounded retries.

The agent is an external HTTP service: it gets a POST with the message and answers later through
`POST /api/v2/messages/send`. Failure after the last attempt is recorded on the TriggerLog and
abandons the journey with the reason; a reply that never comes abandons it after the instance's
`agentReplyTimeoutMs`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from messaging.models import TriggerLog

if TYPE_CHECKING:
    from messaging.persistence import Stored
    from messaging.runtime import Runtime

log = logging.getLogger(__name__)


def notification_body(item: Stored) -> dict:
    payload, metadata = item.event.payload, item.event.metadata
    return {
        "correlationId": metadata.correlation_id,
        "instanceId": item.instance.id,
        "channelType": item.instance.channel_type,
        "chatId": payload.get("chatId"),
        "messageId": item.message_pk,
        "text": payload.get("text", ""),
        "sender": payload.get("sender", ""),
        "triggerLogId": item.trigger_pk,
    }


async def notify_agent(runtime: Runtime, item: Stored) -> bool:
    """POST the agent; returns True once it answered 2xx. Never raises."""
    conf = settings.AGENT
    correlation_id = item.event.metadata.correlation_id
    body = notification_body(item)
    error = ""
    attempts = 0
    assert runtime.http is not None
    for attempts in range(1, conf["MAX_ATTEMPTS"] + 1):
        try:
            response = await runtime.http.post(
                item.instance.agent_url,
                json=body,
                headers={"X-Correlation-Id": correlation_id},
                timeout=conf["TIMEOUT_MS"] / 1000,
            )
            if response.is_success:
                await sync_to_async(_mark_sent, thread_sensitive=False)(item.trigger_pk, attempts)
                runtime.loop.call_later(
                    item.instance.agent_reply_timeout_ms / 1000,
                    _reply_deadline,
                    runtime,
                    correlation_id,
                    item.instance.agent_reply_timeout_ms,
                )
                return True
            error = f"agent answered HTTP {response.status_code}"
            if response.is_client_error and response.status_code not in (408, 429):
                break  # the agent refuses this request: asking again will not change that
        except httpx.HTTPError as exc:
            error = f"agent unreachable: {type(exc).__name__}: {exc}"
        if attempts < conf["MAX_ATTEMPTS"] and not runtime.stopping.is_set():
            await asyncio.sleep(conf["RETRY_BACKOFF_MS"] / 1000 * 2 ** (attempts - 1))
    log.warning("agent notification for %s failed after %d attempt(s): %s", correlation_id, attempts, error)
    await sync_to_async(_mark_failed, thread_sensitive=False)(item.trigger_pk, attempts, error)
    runtime.tracker.abandon(correlation_id, f"agent notification failed: {error}")
    return False


def _reply_deadline(runtime: Runtime, correlation_id: str, timeout_ms: int) -> None:
    runtime.tracker.abandon(correlation_id, f"agent reply timeout ({timeout_ms} ms)", awaiting_reply_only=True)


def _mark_sent(trigger_pk: int | None, attempts: int) -> None:
    # Conditional: a fast agent may already have replied (status "replied") before our POST returned.
    TriggerLog.objects.filter(pk=trigger_pk, status=TriggerLog.PENDING).update(
        status=TriggerLog.SENT, attempts=attempts, sent_at=timezone.now()
    )
    TriggerLog.objects.filter(pk=trigger_pk).exclude(status=TriggerLog.PENDING).update(attempts=attempts)


def _mark_failed(trigger_pk: int | None, attempts: int, error: str) -> None:
    TriggerLog.objects.filter(pk=trigger_pk).exclude(status=TriggerLog.REPLIED).update(
        status=TriggerLog.FAILED, attempts=attempts, error=error[:2000]
    )
