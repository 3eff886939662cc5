"""The dashboard's pages over this process's tracker: access, the summary, the lists, filters, the waterfall."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from journeys.tracker import get_journey_tracker, now_ms
from tests.conftest import API_KEY

STAGES = ("T0", "T1", "T2", "T3", "T4", "T5", "T7", "T8", "T9", "T10", "T11")


def make_journey(cid: str, *, steps=(1000.0, 2, 3, 10, 4, 900, 30, 2, 3, 150), stages=STAGES, channel="telegram",
                 instance="inst-1", precision=1000.0, complete=True) -> None:  # fmt: skip
    """A journey recorded at real checkpoints: T0 now, then each stage `steps[i]` ms after the one before."""
    tracker = get_journey_tracker()
    t = now_ms() - 5000
    for i, stage in enumerate(stages):
        from journeys.stages import JOURNEY_STAGES

        tracker.record_checkpoint(cid, stage, JOURNEY_STAGES[stage], t)
        if i < len(steps):
            t += steps[i]
    tracker.set_context(cid, instance_id=instance, channel_type=channel, chat_id="42", has_agent="T5" in stages,
                        t0_precision_ms=precision if "T0" in stages else None)  # fmt: skip
    if complete and "T11" not in stages:
        tracker.complete(cid)


@pytest.fixture
def key_client(db) -> Client:
    client = Client()
    response = client.post("/journeys/login/", {"api_key": API_KEY})
    assert response.status_code == 302
    return client


def bars(html: str) -> list[str]:
    return re.findall(r'class="wf-bar wf-bar--(\w+)', html)


def test_pages_need_a_login_and_send_back_to_the_page_asked_for(db):
    client = Client()
    response = client.get("/journeys/?channel=telegram")
    assert response.status_code == 302
    assert response["Location"] == "/journeys/login/?next=%2Fjourneys%2F%3Fchannel%3Dtelegram"
    assert client.get("/journeys/some-id/").status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200 and b'id="login-key"' in page.content and b'id="login-user"' in page.content
    answer = client.post("/journeys/login/", {"api_key": API_KEY, "next": "/journeys/?channel=telegram"})
    assert answer.status_code == 302 and answer["Location"] == "/journeys/?channel=telegram"
    assert client.get("/journeys/").status_code == 200


def test_a_wrong_key_or_a_non_staff_user_is_refused(db):
    client = Client()
    response = client.post("/journeys/login/", {"api_key": "not-the-key"})
    assert response.status_code == 401 and b"login-error" in response.content
    get_user_model().objects.create_user("plain", password="pw-123456")
    response = client.post("/journeys/login/", {"username": "plain", "password": "pw-123456"})
    assert response.status_code == 401
    assert client.get("/journeys/").status_code == 302


def test_a_staff_user_logs_in_and_an_offsite_next_is_ignored(db):
    get_user_model().objects.create_user("ops", password="pw-123456", is_staff=True)
    client = Client()
    response = client.post(
        "/journeys/login/", {"username": "ops", "password": "pw-123456", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/journeys/"
    assert client.get("/journeys/").status_code == 200


def test_the_api_key_header_opens_the_pages_without_a_session(db):
    assert Client(headers={"X-API-Key": API_KEY}).get("/journeys/").status_code == 200
    assert Client(headers={"X-API-Key": "wrong"}).get("/journeys/").status_code == 302


def test_rotating_the_api_key_ends_sessions_opened_with_the_old_one(key_client, settings):
    settings.OMNI_API_KEY = "a-new-key"
    assert key_client.get("/journeys/").status_code == 302


def test_logout_ends_the_session(key_client):
    assert key_client.post("/journeys/logout/").status_code == 302
    assert key_client.get("/journeys/").status_code == 302


def test_the_summary_shows_counts_percentiles_bars_and_bottlenecks(key_client):
    for i in range(20):
        make_journey(f"cid-{i}", steps=(1000.0, 2, 3, 10 + i, 4, 900, 30, 2, 3, 150))
    make_journey("cid-noagent", stages=STAGES[:5], steps=(1000.0, 2, 3, 10))
    make_journey("cid-active", stages=STAGES[:6], complete=False)
    html = key_client.get("/journeys/").content.decode()
    assert re.search(r'id="count-total">22<', html)
    assert re.search(r'id="count-completed">21<', html)
    assert re.search(r'id="count-active">1<', html)
    row = re.search(r'<tr data-key="dbWrite".*?</tr>', html, re.S).group(0)
    db_writes = [10 + i for i in range(20)] + [10, 10]  # 20 replied journeys, the no-agent and the active one
    assert f'class="num p50">{np.percentile(db_writes, 50):.1f}ms<' in row
    assert "stat-bar__fill" in row and "grade--acceptable" in row
    assert re.search(r'<li data-key="apiProcessing">', html)  # 30 ms: the top internal stage at p95
    assert html.count('class="journey-row') == 22 + 10  # recent (22 of 25) and slowest by round trip (10 of 20)


def test_the_lists_filter_by_channel_instance_status_and_sort_by_the_chosen_key(key_client):
    make_journey("tg-1", channel="telegram", instance="a", steps=(1000.0, 2, 3, 50, 4, 900, 30, 2, 3, 150))
    make_journey("wa-1", channel="whatsapp", instance="b", steps=(1000.0, 2, 3, 5, 4, 900, 30, 2, 3, 150))
    make_journey("wa-2", channel="whatsapp", instance="b", steps=(1000.0, 2, 3, 80, 4, 900, 30, 2, 3, 150))
    make_journey("wa-active", channel="whatsapp", instance="b", stages=STAGES[:6], complete=False)

    def ids(query: str, table: str) -> list[str]:
        html = key_client.get(f"/journeys/{query}").content.decode()
        section = re.search(rf'<table id="{table}".*?</table>', html, re.S).group(0)
        return re.findall(r'data-correlation-id="([^"]+)"', section)

    assert set(ids("?channel=whatsapp", "recent")) == {"wa-1", "wa-2", "wa-active"}
    assert set(ids("?instanceId=a", "recent")) == {"tg-1"}
    assert set(ids("?status=active", "recent")) == {"wa-active"}
    # An active journey already has its dbWrite (10 ms): it ranks too.
    assert ids("?slowest=dbWrite", "slowest") == ["wa-2", "tg-1", "wa-active", "wa-1"]


@pytest.mark.parametrize("query", ["?channel=sms", "?status=done", "?slowest=fast"])
def test_an_unknown_filter_value_is_a_400_that_says_what_is_allowed(key_client, query):
    response = key_client.get(f"/journeys/{query}")
    assert response.status_code == 400
    assert b"must be one of" in response.content


def test_the_waterfall_has_one_bar_per_recorded_stage_of_the_right_kind(key_client):
    make_journey("cid-full")
    html = key_client.get("/journeys/cid-full/").content.decode()
    assert bars(html) == ["platform", "internal", "internal", "internal", "internal", "external",
                          "internal", "internal", "internal", "platform"]  # fmt: skip
    assert "wf-row--missing" not in html
    # The axis runs from T0 to T11 (2104 ms): T0's 1 s band is 47.5 % of it, the agent's 900 ms from T5 (1019 ms).
    assert 'class="wf-precision-band" style="left: 0.0%; width: 47.5285%"' in html
    agent = r'wf-bar--external" data-stage="T5" data-ms="([\d.]+)" style="left: ([\d.]+)%; width: ([\d.]+)%"'
    ms, left, width = map(float, re.search(agent, html).groups())
    assert ms == 900.0
    assert left == pytest.approx(1019 / 2104 * 100, abs=1e-3) and width == pytest.approx(900 / 2104 * 100, abs=1e-3)


def test_missing_stages_are_marked_and_a_receipt_adds_its_bar(key_client):
    make_journey("cid-hole", stages=("T0", "T1", "T2", "T4", "T5"), steps=(1000.0, 2, 13, 4), complete=False)
    html = key_client.get("/journeys/cid-hole/").content.decode()
    assert len(bars(html)) == 3  # channelProcessing, eventPublish, agentNotification
    missing = re.findall(r'wf-row--missing" data-key="(\w+)"', html)
    assert missing[:2] == ["natsDelivery", "dbWrite"] and "agentRoundTrip" in missing
    assert "not yet recorded (T3)" in html
    make_journey("cid-receipt", stages=(*STAGES, "T12"), steps=(1000.0, 2, 3, 10, 4, 900, 30, 2, 3, 150, 400))
    html = key_client.get("/journeys/cid-receipt/").content.decode()
    assert len(bars(html)) == 11 and 'data-key="deliveryReceipt"' in html


def test_a_no_agent_journey_says_why_the_outbound_stages_are_empty(key_client):
    make_journey("cid-no-agent", stages=STAGES[:5], steps=(0.0, 2, 3, 10), precision=1.0)
    html = key_client.get("/journeys/cid-no-agent/").content.decode()
    assert len(bars(html)) == 4
    assert html.count("no agent on this instance") == 6


def test_an_unknown_journey_is_a_404_page(key_client):
    response = key_client.get("/journeys/nope/")
    assert response.status_code == 404 and b"No journey" in response.content
