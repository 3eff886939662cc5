"""Outbound dispatch in a running server: a slow platform call for one chat holds back no other chat, and the
replies to one chat still reach the platform in order, each after the previous one was answered."""

from __future__ import annotations

import threading

import httpx
import pytest

from messaging.models import Instance, Message
from tests.conftest import API_KEY
from tests.http_peers import JsonServer
from tests.pipeline import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HOLD_S = 20.0  # how long the platform holds the slow chat's first send at most (the test normally ends it)


@pytest.fixture(autouse=True)
def loopback_plugins(settings):
    settings.CHANNEL_PLUGINS = {**settings.CHANNEL_PLUGINS, "telegram": "tests.loopback_plugin.LoopbackPlugin"}


class HoldingPlatform:
    """Holds the send of text "slow-1" until a send for another chat arrives (or HOLD_S passes)."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.holding = threading.Event()
        self.other_chat_arrived = threading.Event()
        self.server = JsonServer(self.on_send)

    def on_send(self, path, body, headers):
        self.events.append(f"arrived {body['text']}")
        if body["text"] == "slow-1":
            self.holding.set()
            released = self.other_chat_arrived.wait(HOLD_S)
            self.events.append(f"answered slow-1 ({'released' if released else 'timed out'})")
        elif body["chatId"] != "slow-chat":
            self.other_chat_arrived.set()
        return 200, {"ok": True, "id": f"p-{body['id']}"}


def send(live_server, instance: Instance, chat: str, text: str) -> None:
    answer = httpx.post(
        f"{live_server.url}/api/v2/messages/send",
        json={"instanceId": str(instance.pk), "to": chat, "text": text},
        headers={"X-API-Key": API_KEY},
    )
    assert answer.status_code == 202, answer.text


def test_a_slow_send_holds_back_no_other_chat_and_one_chats_replies_keep_their_order(runtime, live_server):
    platform = HoldingPlatform()
    with platform.server:
        instance = Instance.objects.create(name="loopback", channel_type="telegram", base_url=platform.server.url,
                                           token="t0ken")  # fmt: skip
        send(live_server, instance, "slow-chat", "slow-1")
        assert platform.holding.wait(15), "the first send never reached the platform"
        # The dispatcher is now inside slow-1's platform call. Dispatching batch by batch, it would fetch
        # nothing more until that call returned: the platform would time out holding it.
        send(live_server, instance, "slow-chat", "slow-2")
        send(live_server, instance, "fast-chat", "fast-1")
        wait_for(lambda: Message.objects.filter(direction=Message.OUTBOUND, status=Message.SENT).count() == 3, 30)

    assert platform.events.index("arrived fast-1") < platform.events.index("answered slow-1 (released)")
    # The same chat's second reply waits for the first to be answered, however long that takes.
    assert platform.events.index("answered slow-1 (released)") < platform.events.index("arrived slow-2")
