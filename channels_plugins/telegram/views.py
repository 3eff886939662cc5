"""The Telegram webhook: `POST /api/v2/webhooks/telegram/<instance_id>` with one Update."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from channels_plugins.telegram.parsing import parse_update
from channels_plugins.webhooks import (
    WebhookError,
    parse_json,
    publish_parsed,
    read_body,
    require_method,
    require_secret,
    same_secret,
    webhook_errors,
    webhook_target,
)
from journeys.tracker import now_ms

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


@csrf_exempt
@webhook_errors
async def telegram_webhook(request: HttpRequest, instance_id: str) -> JsonResponse:
    """Publish the Update's message; 200 once JetStream has it. 401 for a missing or wrong secret token."""
    t1 = now_ms()  # T1: the first statement, before any lookup or parsing
    require_method(request, "POST")
    instance, plugin = await webhook_target(instance_id, "telegram")
    if not same_secret(request.headers.get(SECRET_HEADER), require_secret(instance)):
        raise WebhookError(401, "INVALID_SECRET_TOKEN", f"Missing or wrong {SECRET_HEADER}.")
    update = parse_json(request, read_body(request))
    return await publish_parsed(plugin, parse_update(update), t1)
