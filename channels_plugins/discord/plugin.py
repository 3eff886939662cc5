"""Discord: inbound over the Gateway (one WebSocket session per instance), outbound over REST.

Instance settings: `token` is the bot token, `baseUrl` the REST base (default the real API v10),
`config.gatewayUrl` the Gateway (else asked from `GET {baseUrl}/gateway/bot`), `config.intents`
an optional intents bitmask (default guild and direct messages with their content).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

import httpx

from channels_plugins.base import BaseChannelPlugin, InboundMessage, OutboundMessage, PluginError, SendResult
from channels_plugins.discord.gateway import GatewayClient, GatewayFatal
from channels_plugins.discord.parsing import DEFAULT_INTENTS, parse_message_create, skip_reason
from journeys.tracker import now_ms
from messaging.bus import BusUnavailable

log = logging.getLogger(__name__)


class DiscordPlugin(BaseChannelPlugin):
    channel_type = "discord"
    default_base_url = "https://discord.com/api/v10"
    timestamp_precision_ms = 1.0
    # A gateway cannot answer 503 and have Discord redeliver: an inbound message waits for NATS.
    publish_backoff_s = 0.2
    publish_max_backoff_s = 5.0

    gateway: GatewayClient | None = None
    _gateway_task: asyncio.Task | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ignored: Counter[str] = Counter()  # dispatches not handed on, by reason

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bot {self.instance.token}"}

    # --- the gateway connection ----------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the gateway session on the runtime loop and return."""
        if self._gateway_task is not None and not self._gateway_task.done():
            return
        self.gateway = GatewayClient(
            self.instance.token,
            intents=self._intents(),
            resolve_url=self._gateway_url,
            on_dispatch=self._on_dispatch,
            name=f"discord {self.instance.id}",
        )
        self._gateway_task = asyncio.get_running_loop().create_task(
            self.gateway.run(), name=f"discord-gateway-{self.instance.id}"
        )

    def _intents(self) -> int:
        value = self.instance.config.get("intents", DEFAULT_INTENTS)
        try:
            return int(value)
        except (TypeError, ValueError):
            log.warning("discord %s: config.intents %r is not a number; using the default", self.instance.id, value)
            return DEFAULT_INTENTS

    async def stop(self) -> None:
        task, self._gateway_task = self._gateway_task, None
        if self.gateway is not None:
            with contextlib.suppress(Exception):
                await self.gateway.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _gateway_url(self) -> str:
        configured = self.instance.config.get("gatewayUrl")
        if configured:
            return str(configured)
        response = await self.http.get(f"{self.base_url}/gateway/bot", headers=self._auth)
        if response.status_code == 401:
            raise GatewayFatal("Discord refused the bot token (GET /gateway/bot answered 401)")
        response.raise_for_status()
        return str(response.json()["url"])

    def _on_dispatch(self, event: str, data: Any) -> None:
        if event == "MESSAGE_CREATE" and isinstance(data, dict):
            self.on_message_create(data)

    def on_message_create(self, data: dict[str, Any]) -> None:
        """The inbound handler: T1 first, then parse and publish in the background."""
        t1 = now_ms()
        reason = skip_reason(data, self.gateway.user_id if self.gateway is not None else None)
        message = parse_message_create(data) if reason is None else None
        if message is None:
            self.ignored[reason or "malformed"] += 1
            return
        if self.runtime is not None:
            self.runtime.spawn(self._publish(message, t1))
        else:
            asyncio.get_running_loop().create_task(self._publish(message, t1))

    async def _publish(self, message: InboundMessage, t1: float) -> None:
        """Publish, retrying with backoff while NATS is down; gives up only when the runtime stops."""
        delay = self.publish_backoff_s
        while True:
            runtime = self.runtime
            # Publishing only once the bus is up keeps an outage from leaving half-started journeys.
            if runtime is None or runtime.bus.connected:
                try:
                    await self.publish_inbound(message, t1)
                    return
                except BusUnavailable as exc:
                    log.warning("discord %s: message %s waits for NATS: %s", self.instance.id, message.external_id, exc)
            if runtime is None or runtime.stopping.is_set():
                log.error("discord %s: message %s not published: shutting down", self.instance.id, message.external_id)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.publish_max_backoff_s)

    # --- outbound ---------------------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        body = {
            "content": message.text,
            # Discord drops a repeated nonce within minutes: a retry after a lost reply posts once.
            "nonce": message.message_id.replace("-", "")[:25],
            "enforce_nonce": True,
        }
        try:
            response = await self.http.post(
                f"{self.base_url}/channels/{message.chat_id}/messages", json=body, headers=self._auth
            )
        except httpx.HTTPError as exc:
            raise PluginError(f"Discord unreachable: {exc!r}") from exc
        answer = _json(response)
        if response.is_success:
            sent_id = answer.get("id")
            return SendResult(platform_message_id=str(sent_id) if sent_id is not None else None)
        status = response.status_code
        reason = f"HTTP {status}: {answer.get('message') or response.text[:200]}"
        if answer.get("code"):
            reason += f" (code {answer['code']})"
        if status == 429:
            raise PluginError(reason, retry_after_s=_retry_after_s(response, answer))
        raise PluginError(reason, permanent=400 <= status < 500 and status != 408)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _retry_after_s(response: httpx.Response, answer: dict[str, Any]) -> float | None:
    for value in (answer.get("retry_after"), response.headers.get("Retry-After")):
        try:
            return max(float(value), 0.0)
        except (TypeError, ValueError):
            continue
    return None
