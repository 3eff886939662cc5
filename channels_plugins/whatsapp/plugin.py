"""WhatsApp Cloud API: webhooks in (views.py), `POST /{version}/{phone_number_id}/messages` out."""

from __future__ import annotations

from typing import Any

import httpx

from channels_plugins.base import BaseChannelPlugin, OutboundMessage, PluginError, SendResult
from channels_plugins.timestamps import WHATSAPP_PRECISION_MS

DEFAULT_API_VERSION = "v21.0"
# Graph API error codes worth retrying: temporary failures and rate limits
# (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
TRANSIENT_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 133004})


class WhatsAppPlugin(BaseChannelPlugin):
    channel_type = "whatsapp"
    default_base_url = "https://graph.facebook.com"
    timestamp_precision_ms = WHATSAPP_PRECISION_MS

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send a text message; success (T11) is a reply carrying `messages[0].id`, the platform id.

        Raises PluginError: rate limits and temporary Graph errors, 5xx and network failures are
        transient (a `Retry-After` header paces the retry); other errors are permanent.
        """
        config = self.instance.config
        phone_number_id = config.get("phoneNumberId")
        if not phone_number_id:
            raise PluginError("config.phoneNumberId is not set", permanent=True)
        url = f"{self.base_url}/{config.get('apiVersion') or DEFAULT_API_VERSION}/{phone_number_id}/messages"
        body = {"messaging_product": "whatsapp", "to": message.chat_id, "type": "text", "text": {"body": message.text}}
        try:
            response = await self.http.post(url, json=body, headers={"Authorization": f"Bearer {self.instance.token}"})
        except httpx.HTTPError as exc:
            raise PluginError(f"WhatsApp unreachable: {exc!r}") from None
        answer = _json(response)
        if response.is_success:
            messages = answer.get("messages")
            if isinstance(messages, list) and messages and isinstance(messages[0], dict) and messages[0].get("id"):
                return SendResult(platform_message_id=str(messages[0]["id"]))
            # Accepted without an id: retrying could send it twice, and without an id there is no receipt.
            raise PluginError(f"WhatsApp {response.status_code}: the reply carried no message id", permanent=True)
        error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
        code = error.get("code")
        reason = f"WhatsApp {response.status_code}: {error.get('message') or response.reason_phrase}"
        if code is not None:
            reason += f" (code {code})"
        transient = response.status_code == 429 or response.status_code >= 500 or code in TRANSIENT_CODES
        raise PluginError(reason, permanent=not transient, retry_after_s=_retry_after(response))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
