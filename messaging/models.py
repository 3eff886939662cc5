"""Channel instances, messages and agent triggers."""

from __future__ import annotations

import uuid

from django.db import models

CHANNEL_TYPES = [("telegram", "Telegram"), ("whatsapp", "WhatsApp"), ("discord", "Discord")]


class Instance(models.Model):
    """One connection to a platform (a Telegram bot, a WhatsApp number, a Discord bot)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    channel_type = models.CharField(max_length=20, choices=CHANNEL_TYPES)
    # Blank means the real platform; a local sandbox's URL in tests and demos.
    base_url = models.URLField(max_length=500, blank=True)
    token = models.CharField(max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=500, blank=True)
    agent_url = models.URLField(max_length=500, blank=True)
    agent_reply_timeout_ms = models.PositiveIntegerField(default=120_000)
    config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel_type})"


class Message(models.Model):
    INBOUND, OUTBOUND = "inbound", "outbound"
    DIRECTIONS = [(INBOUND, "Inbound"), (OUTBOUND, "Outbound")]
    RECEIVED, QUEUED, SENT, DELIVERED, FAILED = "received", "queued", "sent", "delivered", "failed"
    STATUSES = [(s, s) for s in (RECEIVED, QUEUED, SENT, DELIVERED, FAILED)]

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=10, choices=DIRECTIONS)
    chat_id = models.CharField(max_length=200)
    sender = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    message_type = models.CharField(max_length=30, default="text")
    # Inbound: the platform's message id. Outbound: our own id, so a redelivered send stores one row.
    external_id = models.CharField(max_length=200)
    platform_message_id = models.CharField(max_length=200, blank=True)
    correlation_id = models.CharField(max_length=100, db_index=True)
    status = models.CharField(max_length=20, choices=STATUSES, default=RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "direction", "external_id"], name="unique_message_per_instance")
        ]
        indexes = [models.Index(fields=["instance", "chat_id", "created_at"])]

    def __str__(self) -> str:
        return f"{self.direction} {self.external_id} in {self.chat_id}"


class TriggerLog(models.Model):
    """One notification of an agent about an inbound message (T5 is its creation)."""

    PENDING, SENT, REPLIED, FAILED = "pending", "sent", "replied", "failed"
    STATUSES = [(s, s) for s in (PENDING, SENT, REPLIED, FAILED)]

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="triggers")
    correlation_id = models.CharField(max_length=100, db_index=True)
    agent_url = models.URLField(max_length=500)
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["message"], name="one_trigger_per_message")]

    def __str__(self) -> str:
        return f"trigger {self.correlation_id} ({self.status})"
