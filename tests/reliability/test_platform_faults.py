"""The platform's send API answering 429 with retry_after, 500, and 403 (the Telegram sandbox as the platform):
retried, retried, failed permanently, and the outbound message's status in the database says which."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator

import httpx
import nats
import pytest

from channels_plugins.telegram.sandbox import TelegramSandbox
from tests.http_peers import JsonServer
from tests.reliability.harness import (
    API_KEY,
    TG_TOKEN,
    ServeProcess,
    ServerDatabase,
    external_id,
    post_update,
    served,
    telegram_update,
    wait_until,
)

MAX_ATTEMPTS = 5  # OutboundDispatcher.max_attempts
_chats = itertools.count(550001)


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[tuple[ServeProcess, ServerDatabase]]:
    with served(tmp_path_factory.mktemp("platform-faults")) as (server, db, _nats):
        yield server, db


@pytest.fixture
def platform() -> Iterator[TelegramSandbox]:
    with TelegramSandbox(token=TG_TOKEN) as sandbox:
        yield sandbox


def outcome(db: ServerDatabase, message_id: str, timeout_s: float = 20) -> dict:
    """The outbound message once the dispatcher is done with it (sent or failed)."""
    return wait_until(
        lambda: (m := db.message(message_id, "outbound")) and m["status"] in ("sent", "failed") and m,
        timeout_s,
        what=f"outbound {message_id} sent or failed",
    )


def test_429_with_retry_after_is_retried_after_that_delay_and_sent(hub, platform):
    server, db = hub
    instance_id = server.create_instance("tg-429", baseUrl=platform.url)
    platform.retry_after_s = 1
    platform.fail_next(429)
    message = outcome(db, server.send(instance_id, "1001", "eventually"))
    assert message["status"] == "sent" and message["attempts"] == 2 and message["platformId"].isdigit()
    first, second = platform.attempts
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.9  # parameters.retry_after was honoured
    assert platform.sends == [{"chat_id": "1001", "text": "eventually"}]


def test_500_is_transient_and_retried_until_sent(hub, platform):
    server, db = hub
    instance_id = server.create_instance("tg-500", baseUrl=platform.url)
    platform.fail_next(500, count=2)
    message = outcome(db, server.send(instance_id, "1002"))
    assert message["status"] == "sent" and message["attempts"] == 3
    assert [a.status for a in platform.attempts] == [500, 500, 200]


def test_500_that_does_not_end_is_given_up_after_the_last_attempt(hub, platform):
    server, db = hub
    instance_id = server.create_instance("tg-500-forever", baseUrl=platform.url)
    platform.fail_next(500, count=MAX_ATTEMPTS + 5)
    message = outcome(db, server.send(instance_id, "1003"))
    assert message["status"] == "failed" and message["attempts"] == MAX_ATTEMPTS
    assert f"gave up after {MAX_ATTEMPTS} attempts" in message["error"] and "500" in message["error"]
    assert len(platform.attempts) == MAX_ATTEMPTS and platform.sends == []


def test_403_fails_permanently_at_once_with_the_platforms_reason(hub, platform):
    server, db = hub
    instance_id = server.create_instance("tg-403", baseUrl=platform.url)
    platform.fail_next(403)
    message = outcome(db, server.send(instance_id, "1004"))
    assert message["status"] == "failed" and message["attempts"] == 1
    assert message["error"].startswith("permanent: Telegram 403") and "bot was blocked" in message["error"]
    assert [a.status for a in platform.attempts] == [403] and platform.sends == []
    assert TG_TOKEN not in message["error"]


class ReplyingAgent(JsonServer):
    """Acknowledges the notification, then replies through the send API with its correlation id."""

    def __init__(self, api_url: str) -> None:
        super().__init__(self.notified)
        self.api_url = api_url

    def notified(self, path, body, headers):
        threading.Thread(target=self.reply, args=(body,), daemon=True).start()
        return 200, {"accepted": True}

    def reply(self, note) -> None:
        request = {"instanceId": note["instanceId"], "to": note["chatId"], "text": "re"}
        request["correlationId"] = note["correlationId"]
        httpx.post(f"{self.api_url}/api/v2/messages/send", json=request, headers={"X-API-Key": API_KEY}, timeout=15)


def test_refused_reply_abandons_the_journey_and_the_next_one_still_gets_through(hub, platform):
    server, db = hub
    with ReplyingAgent(server.url) as agent:
        instance_id = server.create_instance("tg-round-trip", baseUrl=platform.url, agentUrl=agent.url)
        chat = next(_chats)
        platform.fail_next(403)
        webhook = server.webhook_url(instance_id)
        assert post_update(webhook, telegram_update(chat, 1)).status_code == 200
        cid = wait_until(lambda: db.message(external_id(chat, 1)), 20, what="stored")["correlationId"]
        refused = server.journey_when(cid, lambda j: j["status"] != "active")
        assert post_update(webhook, telegram_update(chat, 2)).status_code == 200
        next_cid = wait_until(lambda: db.message(external_id(chat, 2)), 20, what="stored")["correlationId"]
        delivered = server.journey_when(next_cid, lambda j: j["status"] != "active")
    assert refused["status"] == "abandoned" and refused["abandonReason"].startswith("platform send failed: permanent")
    assert delivered["status"] == "completed" and delivered["path"] == "replied"
    sql = "SELECT status FROM messaging_message WHERE direction = 'outbound' AND correlation_id = %s"
    assert db.query(sql, [cid]) == [("failed",)]
    assert [s["chat_id"] for s in platform.sends] == [str(chat)]


def publish_late(nats_url: str, instance_id: str, message_id: str, chat_id: str) -> None:
    """A `message.sent` for this outbound message reaching JetStream now (as a publish the send API gave up
    waiting for, or a redelivery would)."""
    from messaging.events import MESSAGE_SENT, Event, EventMetadata, subject_for

    metadata = EventMetadata(f"evt-late-{message_id}", instance_id, "telegram", sampled=False)
    event = Event(MESSAGE_SENT, {"messageId": message_id, "chatId": chat_id, "text": "again"}, metadata)

    async def publish() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().publish(subject_for(MESSAGE_SENT, "telegram", instance_id), event.to_json())
        finally:
            await nc.close()

    asyncio.run(publish())


def test_a_send_answered_503_is_never_delivered_later_and_a_sent_one_is_not_sent_twice(serve, nats, server_db):
    with TelegramSandbox(token=TG_TOKEN) as platform:
        server = serve().start()
        instance_id = server.create_instance("tg-once", baseUrl=platform.url)
        nats.stop()
        server.wait_nats(False)
        refused = server.api("POST", "messages/send", json={"instanceId": instance_id, "to": "2001", "text": "x"})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "NATS_UNAVAILABLE"
        nats.start()
        server.wait_nats(True)
        sql = "SELECT external_id, error FROM messaging_message WHERE direction = 'outbound' AND status = 'failed'"
        [(refused_id, error)] = server_db.query(sql)
        assert error.startswith("not queued")
        sent_id = server.send(instance_id, "2002", "once")
        assert outcome(server_db, sent_id)["status"] == "sent"

        publish_late(nats.url, instance_id, refused_id, "2001")  # the agent was told 503 and will ask again
        publish_late(nats.url, instance_id, sent_id, "2002")  # a redelivery after the send went out
        marker = server.send(instance_id, "2003", "after")
        assert outcome(server_db, marker)["status"] == "sent"
        time.sleep(1.0)  # room for a wrong send to show up
    assert [s["chat_id"] for s in platform.sends] == ["2002", "2003"]
    assert server_db.message(refused_id, "outbound")["status"] == "failed"
    assert server.log().count("is no longer queued; not sending it") == 2
