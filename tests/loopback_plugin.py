"""A test channel plugin: real HTTP to a local endpoint instead of a platform (pipeline tests)."""

from __future__ import annotations

from channels_plugins.base import BaseChannelPlugin, OutboundMessage, PluginError, SendResult


class LoopbackPlugin(BaseChannelPlugin):
    channel_type = "telegram"
    timestamp_precision_ms = 1000.0

    async def send(self, message: OutboundMessage) -> SendResult:
        response = await self.http.post(
            f"{self.base_url}/send", json={"chatId": message.chat_id, "text": message.text, "id": message.message_id}
        )
        if response.status_code >= 400:
            raise PluginError(f"HTTP {response.status_code}", permanent=400 <= response.status_code < 500)
        return SendResult(platform_message_id=str(response.json().get("id")))
