"""`journey show` and `summary` over a journey the running pipeline recorded itself: a Telegram Update from
the sandbox to the live webhook, NATS, the database, an agent's reply, and sendMessage back to the sandbox."""

from __future__ import annotations

import re

import pytest

from channels_plugins.telegram.sandbox import TelegramSandbox
from journeys.stages import INTERNAL_STAGES, LATENCY_LABELS
from messaging.models import Instance, Message
from tests.pipeline import wait_for
from tests.plugins import Agent, journey_when

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TOKEN = "123456:ABC-sandbox"
SECRET = "tg-webhook-secret-1"


def test_show_and_summary_render_a_journey_recorded_by_the_running_pipeline(runtime, live_server, journey_command):
    with (
        TelegramSandbox(token=TOKEN, hub_url=live_server.url, secret=SECRET) as sandbox,
        Agent(live_server.url) as agent,
    ):
        instance = Instance.objects.create(
            name="tg",
            channel_type="telegram",
            token=TOKEN,
            webhook_secret=SECRET,
            base_url=sandbox.url,
            agent_url=agent.url,
        )
        sandbox.instance_id = str(instance.pk)
        assert sandbox.post(sandbox.update("ping")).status_code == 200
        message = wait_for(Message.objects.filter(direction=Message.INBOUND).first)
        journey_when(live_server, message.correlation_id, lambda j: j["status"] == "completed")

    show = journey_command("show", message.correlation_id)
    summary = journey_command("summary")

    stage_rows = re.findall(r"^  ([✓✗·]) .+? (T\d+)\s", show, flags=re.MULTILINE)
    assert stage_rows == [("✓", s) for s in ("T0", "T1", "T2", "T3", "T4", "T5", "T7", "T8", "T9", "T10", "T11")]
    assert "Status: completed · path: replied" in show
    assert re.search(r"^  Bottleneck: .+ \(T\d+→T\d+\) took \S+ms — \d+% of internal processing$", show, re.MULTILINE)
    assert "(T0 has 1 s precision on Telegram)" in show
    assert "Journeys: 1 tracked · 1 completed · 0 active · 0 abandoned" in summary
    ranked = re.findall(r"^    [123]\. (.+?): avg ", summary, flags=re.MULTILINE)
    assert len(ranked) == 3 and set(ranked) <= {LATENCY_LABELS[key] for key in INTERNAL_STAGES}
