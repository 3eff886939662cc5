"""What every platform's webhook view shares: lookup, body limits, JSON, publishing, one error shape.

A webhook view is a plain async Django view (DRF has no async views), `csrf_exempt`, wrapped in
`@webhook_errors` so that any `WebhookError` becomes `{"error": {"code", "message"}}`. It works under
WSGI (Django runs it in an event loop per request) and under ASGI alike.

T1 capture: the view's FIRST statement is `t1 = now_ms()`, before the method check, the instance
lookup, the body or the signature; `t1` is then handed to `publish_parsed()`, which hands it to
`plugin.publish_inbound()` for every message of the request. Taking it anywhere later would hide our
own lookup and parsing cost inside `channelProcessing` (T1 - T0) instead of `eventPublish` (T2 - T1).

The answers: 2xx only once every message of the request is durable in JetStream; 503 NATS_UNAVAILABLE
when the bus is down (the platform retries; a retried message is stored once, by its platform id);
400 INVALID_JSON / NO_MESSAGE / INVALID_PAYLOAD and nothing published for a bad payload; 200 for an
update type we do not handle, counted in `ignored_counts()`.
"""

from __future__ import annotations

import functools
import hmac
import logging
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from channels_plugins.base import BaseChannelPlugin, InboundMessage
from channels_plugins.registry import get_plugin
from messaging.bus import BusUnavailable
from messaging.exceptions import json_error
from messaging.instances import InstanceConfig, get_instance_config
from messaging.metrics import WEBHOOK_REJECTIONS

log = logging.getLogger(__name__)


class WebhookError(Exception):
    """An answer other than success: its status, `error.code` and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> JsonResponse:
        return json_error(self.status, self.code, self.message)


class PayloadError(WebhookError):
    """The payload is JSON but not a usable platform payload: 400, nothing published."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(400, code, message)


@dataclass
class Parsed:
    """One webhook request, parsed: messages to publish, delivery receipts (platform message id, T12
    in epoch ms or None), and the kinds of what we acknowledge without handling."""

    messages: list[InboundMessage] = field(default_factory=list)
    receipts: list[tuple[str, float | None]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


View = Callable[..., Awaitable[HttpResponse]]


def webhook_errors(view: View) -> View:
    """Turn a `WebhookError` raised by the view into its JSON error answer."""

    @functools.wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return await view(request, *args, **kwargs)
        except WebhookError as exc:
            WEBHOOK_REJECTIONS.labels(_channel_of(request), exc.code).inc()
            return exc.response()

    return wrapper


def _channel_of(request: HttpRequest) -> str:
    # /api/v2/webhooks/<channel>/<instance id>
    return request.path.split("/webhooks/", 1)[-1].split("/", 1)[0]


def require_method(request: HttpRequest, *allowed: str) -> None:
    if request.method not in allowed:
        raise WebhookError(405, "METHOD_NOT_ALLOWED", f"Method {request.method} is not allowed here.")


async def webhook_target(instance_id: str, channel_type: str) -> tuple[InstanceConfig, BaseChannelPlugin]:
    """The instance this webhook URL names and its plugin. Raises 404 INSTANCE_NOT_FOUND for an unknown
    id and for an instance of another channel type (a Telegram URL never reaches a WhatsApp instance)."""
    instance = await sync_to_async(get_instance_config)(instance_id)
    if instance is None or instance.channel_type != channel_type:
        raise WebhookError(404, "INSTANCE_NOT_FOUND", f"No {channel_type} instance with id {instance_id!r}.")
    return instance, get_plugin(instance)


def require_secret(instance: InstanceConfig) -> bytes:
    """The instance's webhook secret; 403 WEBHOOK_NOT_CONFIGURED without one (fail closed, never open)."""
    if not instance.webhook_secret:
        raise WebhookError(403, "WEBHOOK_NOT_CONFIGURED", "This instance has no webhook secret configured.")
    return instance.webhook_secret.encode()


def same_secret(given: str | None, expected: bytes) -> bool:
    """Constant-time comparison of a presented secret with the expected one."""
    return given is not None and hmac.compare_digest(given.encode(), expected)


def read_body(request: HttpRequest) -> bytes:
    """The raw body, refused with 413 PAYLOAD_TOO_LARGE above settings.DATA_UPLOAD_MAX_MEMORY_SIZE."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    too_big = WebhookError(413, "PAYLOAD_TOO_LARGE", f"The body exceeds {limit} bytes.")
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if limit is not None and declared > limit:
        raise too_big
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_big from None
    if limit is not None and len(body) > limit:  # a chunked body declares no length
        raise too_big
    return body


def parse_json(request: HttpRequest, body: bytes) -> Any:
    """The body as JSON: 415 UNSUPPORTED_MEDIA_TYPE unless the content type is JSON, 400 INVALID_JSON."""
    content_type = request.content_type or ""
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise WebhookError(415, "UNSUPPORTED_MEDIA_TYPE", f"Expected application/json, got {content_type!r}.")
    # orjson, not json: strict JSON (no NaN, no lone surrogates: what it accepts, the bus can encode) and a
    # nesting limit that raises JSONDecodeError, where json.loads raised RecursionError (a 500) for `[[[[...`.
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError("INVALID_JSON", f"The body is not valid JSON: {exc}") from None


async def publish_parsed(plugin: BaseChannelPlugin, parsed: Parsed, t1: float) -> JsonResponse:
    """Publish every message (durable in JetStream on return), record the receipts, count the ignored.

    Answers 200 `{"ok": true, "published", "receipts", "ignored"}`; raises 503 NATS_UNAVAILABLE when the
    bus is down. Messages published before the failure are stored once when the platform retries.
    """
    for message in parsed.messages:
        try:
            await plugin.publish_inbound(message, t1)
        except BusUnavailable as exc:
            log.warning("%s webhook for %s: bus unavailable: %s", plugin.channel_type, plugin.instance.id, exc)
            raise WebhookError(503, "NATS_UNAVAILABLE", "The message bus is unavailable; retry later.") from exc
    matched = 0
    for platform_message_id, delivered_at in parsed.receipts:
        if await plugin.record_delivery_receipt(platform_message_id, delivered_at):
            matched += 1
        else:
            count_ignored(plugin.channel_type, "unmatched_receipt")
    for kind in parsed.ignored:
        count_ignored(plugin.channel_type, kind)
    return JsonResponse(
        {"ok": True, "published": len(parsed.messages), "receipts": matched, "ignored": len(parsed.ignored)}
    )


# --- counting what we acknowledge without handling ---------------------------------------------------

_ignored: Counter[tuple[str, str]] = Counter()
_ignored_lock = threading.Lock()


def count_ignored(channel_type: str, kind: str) -> None:
    with _ignored_lock:
        _ignored[(channel_type, kind)] += 1


def ignored_counts() -> dict[tuple[str, str], int]:
    """Acknowledged-but-ignored webhook items by (channel type, kind) since start (for metrics)."""
    with _ignored_lock:
        return dict(_ignored)


def reset_ignored_counts() -> None:
    with _ignored_lock:
        _ignored.clear()
