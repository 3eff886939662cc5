"""Telegram: updates arrive by webhook (views.py); replies go out through the Bot API's `sendMessage`."""

from __future__ import annotations

from typing import Any

import httpx

from channels_plugins.base import BaseChannelPlugin, OutboundMessage, PluginError, SendResult
from channels_plugins.timestamps import TELEGRAM_PRECISION_MS


class TelegramPlugin(BaseChannelPlugin):
    channel_type = "telegram"
    default_base_url = "https://api.telegram.org"
    timestamp_precision_ms = TELEGRAM_PRECISION_MS

    async def send(self, message: OutboundMessage) -> SendResult:
        """POST `{base}/bot{token}/sendMessage`; the platform id is the answer's `result.message_id`.

        Raises PluginError per the Bot API: 429 carries `parameters.retry_after`; 403 (the bot was
        blocked or kicked) and other 4xx are permanent; 5xx and network failures are transient.
        """
        url = f"{self.base_url}/bot{self.instance.token}/sendMessage"
        try:
            response = await self.http.post(url, json={"chat_id": message.chat_id, "text": message.text})
        except httpx.HTTPError as exc:  # the URL carries the token: never put it in the reason
            raise PluginError(f"Telegram unreachable: {type(exc).__name__}") from None
        answer = _json(response)
        if response.is_success and answer.get("ok") is True:
            return SendResult(platform_message_id=str((answer.get("result") or {}).get("message_id", "")) or None)
        code = answer.get("error_code") or response.status_code
        reason = f"Telegram {code}: {answer.get('description') or response.reason_phrase}"
        if code == 429:
            retry_after = (answer.get("parameters") or {}).get("retry_after")
            paced = isinstance(retry_after, (int, float)) and not isinstance(retry_after, bool)
            raise PluginError(reason, retry_after_s=float(retry_after) if paced else None)
        raise PluginError(reason, permanent=isinstance(code, int) and 400 <= code < 500)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
