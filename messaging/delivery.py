"""Outbound message state changes (ORM, synchronous: call through sync_to_async from the loop)."""

from __future__ import annotations

from messaging.models import Message


def mark_delivered(instance_id: str, platform_message_id: str) -> str | None:
    """Mark the outbound message with this platform id delivered; return its correlation id."""
    message = (
        Message.objects.filter(
            instance_id=instance_id, direction=Message.OUTBOUND, platform_message_id=platform_message_id
        )
        .only("id", "correlation_id", "status")
        .first()
    )
    if message is None:
        return None
    if message.status != Message.DELIVERED:
        Message.objects.filter(pk=message.pk).update(status=Message.DELIVERED)
    return message.correlation_id


def _outbound(instance_id: str, message_id: str):
    return Message.objects.filter(instance_id=instance_id, direction=Message.OUTBOUND, external_id=message_id)


def is_queued(instance_id: str, message_id: str) -> bool:
    """Whether this outbound message still waits for its send: False once it was sent, or failed (the send
    API answered 503 "not queued", so the agent will ask again: sending it as well would deliver it twice)."""
    return _outbound(instance_id, message_id).filter(status=Message.QUEUED).exists()


def mark_sent(instance_id: str, message_id: str, platform_message_id: str | None, attempts: int) -> None:
    _outbound(instance_id, message_id).exclude(status=Message.DELIVERED).update(
        status=Message.SENT, platform_message_id=platform_message_id or "", attempts=attempts, error=""
    )


def mark_failed(instance_id: str, message_id: str, reason: str, attempts: int) -> None:
    _outbound(instance_id, message_id).update(status=Message.FAILED, error=reason[:2000], attempts=attempts)
