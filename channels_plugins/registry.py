"""Plugins by channel type, from dotted paths in settings.CHANNEL_PLUGINS, imported on first use.

One plugin object per instance; a changed instance (a new config snapshot) gets a new one.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils.module_loading import import_string

from channels_plugins.base import BaseChannelPlugin

if TYPE_CHECKING:
    from messaging.instances import InstanceConfig
    from messaging.runtime import Runtime

log = logging.getLogger(__name__)
_plugins: dict[str, BaseChannelPlugin] = {}
_started: dict[str, BaseChannelPlugin] = {}
_lock = threading.Lock()


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


async def stop_connections() -> None:
    while _started:
        _id, plugin = _started.popitem()
        try:
            await plugin.stop()
        except Exception as exc:
            log.warning("stopping %s: %r", plugin.instance.id, exc)
