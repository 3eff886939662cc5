"""Plugins by channel type, from dotted paths in settings.CHANNEL_PLUGINS, imported on first use.

One plugin object per instance; a changed instance (a new config snapshot) gets a new one.
Long-lived connections (gateways) open when the runtime starts (`start_connections`) and follow the
instances while it runs: a created, changed or deleted Instance starts, restarts or stops its
connection once the change is committed (`refresh_connection`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils.module_loading import import_string

from channels_plugins.base import BaseChannelPlugin

if TYPE_CHECKING:
    from messaging.instances import InstanceConfig
    from messaging.runtime import Runtime

log = logging.getLogger(__name__)
_plugins: dict[str, BaseChannelPlugin] = {}
_started: dict[str, BaseChannelPlugin] = {}
_lock = threading.Lock()
# One lifecycle change at a time per instance (created on the runtime loop, dropped with it).
_lifecycle_locks: dict[str, asyncio.Lock] = {}


class UnknownChannel(LookupError):
    pass


def plugin_class(channel_type: str) -> type[BaseChannelPlugin]:
    try:
        path = settings.CHANNEL_PLUGINS[channel_type]
    except KeyError:
        raise UnknownChannel(f"no plugin registered for channel type {channel_type!r}") from None
    return import_string(path)


def get_plugin(instance: InstanceConfig, runtime: Runtime | None = None) -> BaseChannelPlugin:
    """The plugin object for this instance (created on first use)."""
    cls = plugin_class(instance.channel_type)
    with _lock:
        plugin = _plugins.get(instance.id)
        if plugin is None or plugin.instance is not instance or type(plugin) is not cls:
            plugin = cls(instance, runtime)
            _plugins[instance.id] = plugin
        elif runtime is not None and plugin.runtime is None:
            plugin.runtime = runtime
        return plugin


def forget_plugins() -> None:
    with _lock:
        _plugins.clear()
    _lifecycle_locks.clear()


def _needs_connection(plugin: BaseChannelPlugin) -> bool:
    return type(plugin).start is not BaseChannelPlugin.start


async def start_connections(runtime: Runtime) -> None:
    """Open the long-lived connections (gateways) of every configured instance that needs one."""
    from messaging.instances import InstanceConfig
    from messaging.models import Instance

    instances = await sync_to_async(lambda: [InstanceConfig.from_model(i) for i in Instance.objects.all()])()
    for instance in instances:
        await start_connection(instance, runtime)


async def start_connection(instance: InstanceConfig, runtime: Runtime) -> None:
    try:
        plugin = get_plugin(instance, runtime)
    except (UnknownChannel, ImportError) as exc:
        log.error("instance %s: %s", instance.id, exc)
        return
    if _needs_connection(plugin) and instance.id not in _started:
        _started[instance.id] = plugin
        await plugin.start()


async def stop_connection(instance_id: str) -> None:
    """Close this instance's long-lived connection, if one is open."""
    plugin = _started.pop(instance_id, None)
    if plugin is not None:
        try:
            await plugin.stop()
        except Exception as exc:
            log.warning("stopping %s: %r", instance_id, exc)


async def stop_connections() -> None:
    while _started:
        instance_id = next(iter(_started))
        await stop_connection(instance_id)
    _lifecycle_locks.clear()


# Fields a long-lived connection depends on; other changes (agent URL, name) need no reconnect.
_CONNECTION_FIELDS = ("channel_type", "base_url", "token", "webhook_secret", "config")


async def refresh_connection(instance_id: str, runtime: Runtime) -> None:
    """Bring one instance's connection in line with the database: start it, restart it when a field it
    depends on changed, or stop it when the instance is gone. Runs on the runtime loop; never raises."""
    lock = _lifecycle_locks.setdefault(instance_id, asyncio.Lock())
    try:
        async with lock:
            instance = await sync_to_async(_load_instance, thread_sensitive=False)(instance_id)
            current = _started.get(instance_id)
            unchanged = (
                current is not None
                and instance is not None
                and all(getattr(current.instance, f) == getattr(instance, f) for f in _CONNECTION_FIELDS)
            )
            if unchanged and current is not None:
                current.instance = instance  # keep the connection, pick up the rest (agent URL, name)
                return
            await stop_connection(instance_id)
            if instance is not None and not runtime.stopping.is_set():
                await start_connection(instance, runtime)
    except Exception:
        log.exception("refreshing the connection of instance %s", instance_id)


def _load_instance(instance_id: str) -> InstanceConfig | None:
    # Straight from the database: the instance cache may not have seen this change yet.
    from messaging.instances import InstanceConfig
    from messaging.models import Instance

    model = Instance.objects.filter(pk=instance_id).first()
    return InstanceConfig.from_model(model) if model is not None else None


def _instance_changed(sender: Any, instance: Any, using: str | None = None, **kwargs: Any) -> None:
    """post_save/post_delete of an Instance: once committed, refresh its connection on the running runtime."""
    from messaging.runtime import get_runtime

    runtime = get_runtime()
    if runtime is None or not runtime.running:
        return
    instance_id = str(instance.pk)

    def submit() -> None:
        if runtime.running:
            runtime.submit(refresh_connection(instance_id, runtime))

    transaction.on_commit(submit, using=using)


post_save.connect(_instance_changed, sender="messaging.Instance", dispatch_uid="channels_plugins.registry.saved")
post_delete.connect(_instance_changed, sender="messaging.Instance", dispatch_uid="channels_plugins.registry.deleted")
