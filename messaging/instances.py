"""A read-through cache of channel instances for the hot paths (webhooks, consumers).

Entries are immutable snapshots, dropped whenever an Instance is saved or deleted in this process.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from messaging.models import Instance


@dataclass(frozen=True)
class InstanceConfig:
    id: str
    name: str
    channel_type: str
    base_url: str
    token: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    agent_url: str
    agent_reply_timeout_ms: int
    config: dict[str, Any]

    @property
    def has_agent(self) -> bool:
        return bool(self.agent_url)

    @classmethod
    def from_model(cls, instance: Instance) -> InstanceConfig:
        return cls(
            id=str(instance.pk),
            name=instance.name,
            channel_type=instance.channel_type,
            base_url=instance.base_url,
            token=instance.token,
            webhook_secret=instance.webhook_secret,
            agent_url=instance.agent_url,
            agent_reply_timeout_ms=instance.agent_reply_timeout_ms,
            config=dict(instance.config or {}),
        )


_cache: dict[str, InstanceConfig] = {}
_lock = threading.Lock()


def cached_instance_config(instance_id: str) -> InstanceConfig | None:
    """The instance if it is cached, else None: no database, so callable on the event loop."""
    return _cache.get(str(instance_id))


def get_instance_config(instance_id: str) -> InstanceConfig | None:
    """The instance with this id, or None (also for an id that is not a UUID). Synchronous: ORM."""
    key = str(instance_id)
    found = _cache.get(key)
    if found is not None:
        return found
    try:
        uuid.UUID(key)
    except ValueError:
        return None
    model = Instance.objects.filter(pk=key).first()
    if model is None:
        return None
    found = InstanceConfig.from_model(model)
    with _lock:
        _cache[key] = found
    return found


def forget_instances() -> None:
    with _lock:
        _cache.clear()


@receiver([post_save, post_delete], sender=Instance)
def _instance_changed(sender, instance: Instance, **kwargs) -> None:
    with _lock:
        _cache.pop(str(instance.pk), None)
