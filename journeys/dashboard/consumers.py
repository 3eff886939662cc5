"""The dashboard's WebSocket (`/ws/journeys/`): finished journeys pushed as they complete."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from journeys.dashboard.access import may_view
from journeys.dashboard.feed import GROUP, feed

# Close codes in the application range (4000-4999): the page shows why the feed stopped.
CLOSE_UNAUTHORIZED = 4401


class JourneyFeedConsumer(AsyncJsonWebsocketConsumer):
    joined = False

    async def connect(self) -> None:
        if not await self._may_view():
            # Accepted, then closed: refused before the accept, a browser sees only an HTTP 403 (code 1006)
            # and cannot tell "log in again" from a network fault.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        await self.channel_layer.group_add(GROUP, self.channel_name)
        self.joined = True
        await feed().acquire()
        await self.accept()
        await self.send_json({"type": "hello", "group": GROUP})

    async def disconnect(self, code: int) -> None:
        if self.joined:
            self.joined = False
            await self.channel_layer.group_discard(GROUP, self.channel_name)
            await feed().release()

    async def receive_json(self, content, **kwargs) -> None:
        # The feed is one-way; a client's "ping" gets a "pong" so it can tell a dead socket from a quiet one.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def journey_complete(self, message: dict) -> None:
        await self.send_json({"type": "journey", "journey": message["journey"], "html": message["html"]})

    @database_sync_to_async
    def _may_view(self) -> bool:
        # Reading the session is a database query: off the event loop.
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self.scope["headers"]}
        return may_view(self.scope.get("user"), self.scope.get("session"), headers)
