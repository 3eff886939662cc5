"""The WhatsApp Cloud API webhook: `GET` (subscription verification) and `POST` (messages, statuses)
on `/api/v2/webhooks/whatsapp/<instance_id>`."""

from __future__ import annotations

import hashlib
import hmac

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

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
from channels_plugins.whatsapp.parsing import parse_webhook
from journeys.tracker import now_ms

SIGNATURE_HEADER = "X-Hub-Signature-256"


@csrf_exempt
@webhook_errors
async def whatsapp_webhook(request: HttpRequest, instance_id: str) -> HttpResponse:
    """GET: answer `hub.challenge` when `hub.verify_token` is the instance's `config.verifyToken`, else 403.

    POST: verify `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the app secret; 401 when missing
    or wrong), publish the messages, record `delivered` statuses (T12); 200 once JetStream has them.
    """
    t1 = now_ms()  # T1: the first statement, before any lookup or parsing
    require_method(request, "GET", "POST")
    instance, plugin = await webhook_target(instance_id, "whatsapp")
    if request.method == "GET":
        return verify_subscription(request, str(instance.config.get("verifyToken") or ""))
    secret = require_secret(instance)
    body = read_body(request)
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    given = request.headers.get(SIGNATURE_HEADER)
    if not same_secret(given.lower() if given else None, expected.encode()):
        raise WebhookError(401, "INVALID_SIGNATURE", f"Missing or wrong {SIGNATURE_HEADER}.")
    payload = parse_json(request, body)
    return await publish_parsed(plugin, parse_webhook(payload, instance.config.get("phoneNumberId")), t1)


def verify_subscription(request: HttpRequest, verify_token: str) -> HttpResponse:
    mode, token = request.GET.get("hub.mode"), request.GET.get("hub.verify_token")
    if not verify_token or mode != "subscribe" or not same_secret(token, verify_token.encode()):
        raise WebhookError(403, "VERIFICATION_FAILED", "hub.mode or hub.verify_token does not match.")
    return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
