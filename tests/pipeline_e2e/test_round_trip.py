"""The whole chain in a running server: plugin -> NATS -> database -> agent -> send API -> NATS -> plugin.

Real parts only: the nats-server the tests start, the test database, the live HTTP server, and local
HTTP peers for the agent and the platform.
"""

from __future__ import annotations

import itertools
import json
import threading
import time

import httpx
import pytest

from channels_plugins.base import InboundMessage
from channels_plugins.registry import get_plugin
from journeys.tracker import get_journey_tracker, now_ms
from messaging.instances import get_instance_config
from messaging.models import Instance, Message, TriggerLog
from tests.conftest import API_KEY
from tests.http_peers import JsonServer
from tests.pipeline import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

INBOUND = ["T1", "T2", "T3", "T4", "T5"]
OUTBOUND = ["T7", "T8", "T9", "T10", "T11"]


@pytest.fixture(autouse=True)
def loopback_plugins(settings):
    settings.CHANNEL_PLUGINS = {**settings.CHANNEL_PLUGINS, "telegram": "tests.loopback_plugin.LoopbackPlugin"}


@pytest.fixture
def platform():
    with JsonServer(lambda path, body, headers: (200, {"ok": True, "id": f"p-{body.get('id')}"})) as server:
        yield server


class Agent:
    """A local agent: answers the notification, then replies through the send API from its own thread."""

    def __init__(self, api_url: str, *, with_correlation_id: bool, replies: int = 1) -> None:
        self.api_url = api_url
        self.with_correlation_id = with_correlation_id
        self.replies = replies
        self.answers: list[httpx.Response] = []
        self.server = JsonServer(self.on_notification)

    def on_notification(self, path, body, headers):
        threading.Thread(target=self.reply, args=(body,), daemon=True).start()
        return 200, {"accepted": True}

    def reply(self, notification):
        time.sleep(0.01)  # the agent "thinks"
        for n in range(self.replies):
            request = {"instanceId": notification["instanceId"], "to": notification["chatId"], "text": f"reply {n}"}
            if self.with_correlation_id:
                request["correlationId"] = notification["correlationId"]
            self.answers.append(
                httpx.post(f"{self.api_url}/api/v2/messages/send", json=request, headers={"X-API-Key": API_KEY})
            )


def make_instance(platform_url: str, agent_url: str = "") -> Instance:
    return Instance.objects.create(
        name="loopback", channel_type="telegram", base_url=platform_url, token="t0ken", agent_url=agent_url
    )


def inbound(runtime, instance: Instance, external_id: str = "m-1", chat_id: str = "chat-1"):
    plugin = get_plugin(get_instance_config(str(instance.pk)), runtime)
    t1 = now_ms()
    message = InboundMessage(
        external_id=external_id,
        chat_id=chat_id,
        sender="user-1",
        text="hello",
        platform_timestamp_ms=float(int(time.time()) * 1000),
        precision_ms=1000,
    )
    return runtime.call(plugin.publish_inbound(message, t1), timeout=10)


def api_journey(live_server, correlation_id: str) -> dict | None:
    response = httpx.get(f"{live_server.url}/api/v2/journeys/{correlation_id}", headers={"X-API-Key": API_KEY})
    return response.json() if response.status_code == 200 else None


def completed(live_server, correlation_id):
    def check():
        journey = api_journey(live_server, correlation_id)
        return journey if journey and journey["status"] == "completed" else None

    return wait_for(check)


def subscribe_completions(runtime) -> list[dict]:
    seen: list[dict] = []

    async def subscribe():
        async def on_message(msg):
            seen.append(json.loads(msg.data))

        await runtime.bus.nc.subscribe("system.journey.complete", cb=on_message)

    runtime.call(subscribe())
    return seen


def assert_ordered(journey: dict, stages: list[str]) -> None:
    times = {c["stage"]: c["timestamp"] for c in journey["checkpoints"]}
    assert set(stages) <= set(times), f"missing stages: {set(stages) - set(times)}"
    for earlier, later in itertools.pairwise(stages):
        assert times[later] - times[earlier] >= 0, f"{later} before {earlier}: {journey}"


@pytest.mark.parametrize("with_correlation_id", [False, True], ids=["chat-context", "body-correlation-id"])
def test_round_trip_records_every_stage_in_order(runtime, live_server, platform, with_correlation_id):
    agent = Agent(live_server.url, with_correlation_id=with_correlation_id)
    with agent.server:
        instance = make_instance(platform.url, agent.server.url)
        completions = subscribe_completions(runtime)
        event = inbound(runtime, instance)
        journey = completed(live_server, event.metadata.correlation_id)

    assert journey["path"] == "replied"
    assert journey["channelType"] == "telegram" and journey["instanceId"] == str(instance.pk)
    assert_ordered(journey, INBOUND)
    assert_ordered(journey, OUTBOUND)
    assert_ordered(journey, ["T5", "T7"])
    t0 = journey["checkpoints"][0]
    assert t0["stage"] == "T0" and t0["precisionMs"] == 1000
    for key in ("eventPublish", "natsDelivery", "dbWrite", "agentNotification", "agentRoundTrip",
                "apiProcessing", "outboundEventPublish", "outboundNatsDelivery", "platformSend"):  # fmt: skip
        assert journey["latencies"][key] >= 0, key
    assert agent.answers[0].status_code == 202
    assert agent.answers[0].json()["correlationId"] == event.metadata.correlation_id
    # The agent was notified with the contract's fields and header.
    _path, notification, headers = agent.server.requests[0]
    assert headers["x-correlation-id"] == event.metadata.correlation_id
    assert {
        "correlationId",
        "instanceId",
        "channelType",
        "chatId",
        "messageId",
        "text",
        "sender",
        "triggerLogId",
    } <= set(notification)
    # The platform got the reply; the outbound row says sent; the trigger says replied.
    assert platform.requests[0][1]["text"] == "reply 0"
    outbound = Message.objects.get(direction=Message.OUTBOUND)
    wait_for(lambda: Message.objects.get(pk=outbound.pk).status == Message.SENT)
    assert TriggerLog.objects.get().status == TriggerLog.REPLIED
    wait_for(lambda: completions)
    time.sleep(0.2)
    assert [c["payload"]["correlationId"] for c in completions] == [event.metadata.correlation_id]
    assert completions[0]["payload"]["status"] == "completed"


def test_without_agent_the_journey_completes_at_t4(runtime, live_server, platform):
    instance = make_instance(platform.url)
    completions = subscribe_completions(runtime)
    event = inbound(runtime, instance)
    journey = completed(live_server, event.metadata.correlation_id)
    assert journey["path"] == "no-agent"
    assert [c["stage"] for c in journey["checkpoints"]] == ["T0", "T1", "T2", "T3", "T4"]
    assert_ordered(journey, ["T1", "T2", "T3", "T4"])
    assert not TriggerLog.objects.exists()
    wait_for(lambda: completions)
    assert completions[0]["payload"]["path"] == "no-agent"


def test_duplicate_delivery_stores_one_message(runtime, live_server, platform):
    instance = make_instance(platform.url)
    first = inbound(runtime, instance, external_id="dup-1")
    second = inbound(runtime, instance, external_id="dup-1")  # the platform retried its webhook
    completed(live_server, first.metadata.correlation_id)
    time.sleep(0.3)
    assert Message.objects.filter(external_id="dup-1").count() == 1
    stored = Message.objects.get(external_id="dup-1")
    assert stored.correlation_id == first.metadata.correlation_id
    # The duplicate recorded nothing past its own hand-off.
    dup = get_journey_tracker().get_journey(second.metadata.correlation_id)
    assert dup is not None and {c["stage"] for c in dup["checkpoints"]} <= {"T0", "T1", "T2"}


def test_sampled_out_message_has_no_journey_and_no_timings(runtime, live_server, platform):
    get_journey_tracker().sample_rate = 0.0
    instance = make_instance(platform.url)
    event = inbound(runtime, instance, external_id="quiet-1")
    assert event.metadata.sampled is False and event.metadata.timings is None
    wait_for(lambda: Message.objects.filter(external_id="quiet-1").exists())
    assert api_journey(live_server, event.metadata.correlation_id) is None
    assert len(get_journey_tracker()) == 0


def test_second_reply_counts_as_extra_reply(runtime, live_server, platform):
    # Chat-context linking only finds a journey still awaiting its reply, so the agent names it.
    agent = Agent(live_server.url, with_correlation_id=True, replies=2)
    with agent.server:
        instance = make_instance(platform.url, agent.server.url)
        event = inbound(runtime, instance)
        journey = completed(live_server, event.metadata.correlation_id)
        wait_for(lambda: len(agent.answers) == 2)
    wait_for(lambda: api_journey(live_server, event.metadata.correlation_id)["extraReplies"] == 1)
    assert [a.status_code for a in agent.answers] == [202, 202]
    assert {a.json()["correlationId"] for a in agent.answers} == {event.metadata.correlation_id}
    wait_for(lambda: Message.objects.filter(direction=Message.OUTBOUND, status=Message.SENT).count() == 2)
    assert journey["path"] == "replied"
