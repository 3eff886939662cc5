"""Discord end to end in a running server: sandbox Gateway -> plugin -> NATS -> database -> agent -> send API
-> NATS -> plugin -> sandbox REST. Real parts only: the test run's nats-server, the test database, the live
HTTP server, the sandbox's WebSocket and HTTP servers and a local agent."""

from __future__ import annotations

import itertools
import threading
import time
import uuid

import httpx
import pytest

from channels_plugins.discord.parsing import DEFAULT_INTENTS, discord_t0
from channels_plugins.discord.sandbox import DiscordSandbox
from channels_plugins.registry import forget_plugins, start_connection
from messaging.instances import forget_instances, get_instance_config
from messaging.models import Instance, Message, TriggerLog
from messaging.runtime import start_runtime, stop_runtime
from tests.conftest import API_KEY
from tests.http_peers import JsonServer
from tests.nats_server import NatsServer
from tests.pipeline import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TOKEN = "discord-bot-token"
CHANNEL = "1100000000000000007"


@pytest.fixture
def sandbox():
    with DiscordSandbox(token=TOKEN, heartbeat_interval_ms=200) as server:
        yield server


def connect(sandbox: DiscordSandbox, agent_url: str = "", config: dict | None = None, sessions: int = 1) -> Instance:
    """An instance on the sandbox, created while the runtime runs: its gateway connects by itself."""
    instance = Instance.objects.create(
        name="discord",
        channel_type="discord",
        base_url=sandbox.rest_url,
        token=TOKEN,
        agent_url=agent_url,
        config={"gatewayUrl": sandbox.gateway_url} if config is None else config,
    )
    wait_for(lambda: sandbox.live_sessions == sessions)
    return instance


def inbound(external_id: str) -> Message:
    return wait_for(lambda: Message.objects.filter(direction=Message.INBOUND, external_id=external_id).first())


def api_journey(live_server, correlation_id: str) -> dict | None:
    response = httpx.get(f"{live_server.url}/api/v2/journeys/{correlation_id}", headers={"X-API-Key": API_KEY})
    return response.json() if response.status_code == 200 else None


def completed(live_server, correlation_id: str) -> dict:
    def check():
        journey = api_journey(live_server, correlation_id)
        return journey if journey and journey["status"] == "completed" else None

    return wait_for(check)


def stamps(journey: dict) -> dict[str, float]:
    return {c["stage"]: c["timestamp"] for c in journey["checkpoints"]}


def assert_ordered(journey: dict, stages: list[str]) -> None:
    times = stamps(journey)
    assert set(stages) <= set(times), f"missing stages: {set(stages) - set(times)}"
    for earlier, later in itertools.pairwise(stages):
        assert times[later] >= times[earlier], f"{later} before {earlier}: {journey}"


def send_via_api(live_server, instance: Instance, text: str = "reply", to: str = CHANNEL) -> httpx.Response:
    body = {"instanceId": str(instance.pk), "to": to, "text": text}
    return httpx.post(f"{live_server.url}/api/v2/messages/send", json=body, headers={"X-API-Key": API_KEY})


def outbound_row(status: str) -> Message:
    return wait_for(lambda: Message.objects.filter(direction=Message.OUTBOUND, status=status).first())


class Agent:
    """A local agent: acknowledges the notification, then replies through the send API from its own thread."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.answers: list[httpx.Response] = []
        self.server = JsonServer(self.on_notification)

    def on_notification(self, path, body, headers):
        threading.Thread(target=self.reply, args=(body,), daemon=True).start()
        return 200, {"accepted": True}

    def reply(self, notification):
        request = {"instanceId": notification["instanceId"], "to": notification["chatId"], "text": "pong"}
        self.answers.append(
            httpx.post(f"{self.api_url}/api/v2/messages/send", json=request, headers={"X-API-Key": API_KEY})
        )


def test_a_gateway_message_is_stored_with_a_millisecond_t0(sandbox, runtime, live_server):
    connect(sandbox)
    assert sandbox.identifies[0]["intents"] & DEFAULT_INTENTS == DEFAULT_INTENTS
    [sent] = sandbox.emit(1, channel_id=CHANNEL, content="hello hub")
    stored = inbound(sent["id"])
    assert (stored.chat_id, stored.sender, stored.text) == (CHANNEL, sent["author"]["id"], "hello hub")

    journey = completed(live_server, stored.correlation_id)
    assert journey["path"] == "no-agent" and journey["channelType"] == "discord"
    t0 = journey["checkpoints"][0]
    assert t0["stage"] == "T0" and t0["precisionMs"] == 1
    assert t0["timestamp"] == discord_t0(sent["timestamp"], None)
    assert [c["stage"] for c in journey["checkpoints"]] == ["T0", "T1", "T2", "T3", "T4"]
    assert_ordered(journey, ["T1", "T2", "T3", "T4"])


def test_a_reply_reaches_discord_and_completes_the_journey(sandbox, runtime, live_server):
    agent = Agent(live_server.url)
    with agent.server:
        instance = connect(sandbox, agent_url=agent.server.url)
        [sent] = sandbox.emit(1, channel_id=CHANNEL, content="ping")
        stored = inbound(sent["id"])
        journey = completed(live_server, stored.correlation_id)

    assert journey["path"] == "replied"
    assert_ordered(journey, ["T1", "T2", "T3", "T4", "T5", "T7", "T8", "T9", "T10", "T11"])
    assert {"T10", "T11"} <= set(stamps(journey))
    assert journey["latencies"]["platformSend"] >= 0
    assert agent.answers[0].status_code == 202
    [reply] = sandbox.sent
    assert reply["channel_id"] == CHANNEL and reply["content"] == "pong"
    outbound = outbound_row(Message.SENT)
    assert outbound.platform_message_id == reply["id"] and outbound.instance_id == instance.pk
    assert TriggerLog.objects.get().status == TriggerLog.REPLIED
    # Discord echoes our reply over the Gateway as our bot's message: it is not taken for a new one.
    wait_for(lambda: any(m["id"] == reply["id"] for m in sandbox.emitted))
    time.sleep(0.3)
    inbound_ids = Message.objects.filter(direction=Message.INBOUND).values_list("external_id", flat=True)
    assert list(inbound_ids) == [sent["id"]]


def test_own_and_other_bots_messages_are_ignored(sandbox, runtime, live_server):
    connect(sandbox)
    sandbox.emit(1, channel_id=CHANNEL, content="from us", author_id=sandbox.bot_user_id, bot=True)
    sandbox.emit(1, channel_id=CHANNEL, content="from another bot", author_id="4242", bot=True)
    [human] = sandbox.emit(1, channel_id=CHANNEL, content="from a human")
    inbound(human["id"])
    time.sleep(0.2)
    assert list(Message.objects.values_list("text", flat=True)) == ["from a human"]


def test_an_unacknowledged_heartbeat_resumes_and_later_messages_still_arrive(sandbox, runtime, live_server):
    connect(sandbox)
    sandbox.withhold_acks(1)
    wait_for(lambda: sandbox.resumes)
    assert 6 in sandbox.received_ops and len(sandbox.identifies) == 1
    wait_for(lambda: sandbox.live_sessions == 1)
    [later] = sandbox.emit(1, channel_id=CHANNEL, content="after the zombie")
    assert inbound(later["id"]).text == "after the zombie"


def test_a_dropped_socket_resumes_and_no_message_is_lost(sandbox, runtime, live_server):
    connect(sandbox)
    before = sandbox.emit(3, channel_id=CHANNEL, content="before {i}")
    missed = sandbox.emit_while_dropped(3, channel_id=CHANNEL, content="missed {i}")
    wait_for(lambda: sandbox.resumes and sandbox.live_sessions == 1)
    after = sandbox.emit(2, channel_id=CHANNEL, content="after {i}")
    ids = [m["id"] for m in before + missed + after]
    wait_for(lambda: Message.objects.filter(direction=Message.INBOUND).count() == len(ids))
    time.sleep(0.2)
    assert sorted(Message.objects.values_list("external_id", flat=True)) == sorted(ids)  # each once
    assert len(sandbox.identifies) == 1 and sandbox.replayed >= 3
    journey = completed(live_server, Message.objects.get(external_id=missed[0]["id"]).correlation_id)
    assert_ordered(journey, ["T1", "T2", "T3", "T4"])


def test_a_rate_limited_send_is_retried_after_retry_after_then_sent(sandbox, runtime, live_server):
    instance = connect(sandbox)
    sandbox.fail_next(429, retry_after_s=0.3)
    assert send_via_api(live_server, instance, "patience").status_code == 202
    outbound = outbound_row(Message.SENT)
    assert outbound.attempts == 2 and [m["content"] for m in sandbox.sent] == ["patience"]
    sends = [c for c in sandbox.calls if c.method == "POST"]
    assert [c.status for c in sends] == [429, 200]
    assert sends[1].at - sends[0].at >= 0.3  # Discord's retry_after was honoured


def test_a_forbidden_send_marks_the_outbound_message_failed(sandbox, runtime, live_server):
    instance = connect(sandbox)
    sandbox.forbidden_channels.add("1100000000000000666")
    assert send_via_api(live_server, instance, "nope", to="1100000000000000666").status_code == 202
    failed = outbound_row(Message.FAILED)
    assert "403" in failed.error and "Missing Access" in failed.error and "permanent" in failed.error
    assert failed.attempts == 1 and not sandbox.sent


def test_without_a_configured_gateway_url_the_plugin_asks_discord(sandbox, runtime, live_server):
    connect(sandbox, config={})
    gets = [c for c in sandbox.calls if c.method == "GET"]
    assert gets[0].path == "/api/v10/gateway/bot" and gets[0].headers["authorization"] == f"Bot {TOKEN}"
    [sent] = sandbox.emit(1, channel_id=CHANNEL)
    inbound(sent["id"])


def test_connections_follow_instances_created_changed_and_deleted(sandbox, runtime, live_server):
    instance = connect(sandbox)
    instance.name = "renamed"  # nothing the connection depends on: it stays
    instance.save()
    time.sleep(0.3)
    assert sandbox.connections == 1
    instance.token = "revoked-token"
    instance.save()  # reconnects with the new token, which Discord refuses: the client stops
    wait_for(lambda: any(i.get("refused") for i in sandbox.identifies))
    assert sandbox.live_sessions == 0
    instance.token = TOKEN
    instance.save()
    wait_for(lambda: sandbox.live_sessions == 1)
    instance.delete()
    wait_for(lambda: sandbox.live_sessions == 0)
    connections = sandbox.connections
    time.sleep(0.5)
    assert sandbox.connections == connections  # stopped, not reconnecting


def test_an_instance_started_explicitly_connects_once(sandbox, runtime, live_server):
    instance = connect(sandbox)
    runtime.call(start_connection(get_instance_config(str(instance.pk)), runtime), timeout=10)
    time.sleep(0.3)
    assert sandbox.connections == 1 and len(sandbox.identifies) == 1


@pytest.fixture
def own_nats():
    """A nats-server of this test's own, to stop and start (the session's one is shared)."""
    server = NatsServer()
    server.start()
    yield server
    server.close()


def test_a_message_arriving_while_nats_is_down_waits_and_is_published(sandbox, own_nats, settings, transactional_db):
    settings.NATS = {**settings.NATS, "URL": own_nats.url, "DURABLE_PREFIX": f"t{uuid.uuid4().hex[:8]}"}
    forget_instances()
    forget_plugins()
    runtime = start_runtime()
    try:
        assert runtime.call(runtime.bus.wait_ready(10))
        connect(sandbox)
        own_nats.stop()
        wait_for(lambda: not runtime.bus.connected)
        [sent] = sandbox.emit(1, channel_id=CHANNEL, content="during the outage")
        time.sleep(0.5)
        assert not Message.objects.exists()
        own_nats.start()
        stored = inbound(sent["id"])
        assert stored.text == "during the outage"
        journey = wait_for(lambda: runtime.tracker.get_journey(stored.correlation_id))
        times = stamps(journey)
        assert times["T2"] - times["T1"] >= 500  # T1 is the arrival, T2 the hand-off once NATS was back
    finally:
        stop_runtime()
        forget_plugins()
