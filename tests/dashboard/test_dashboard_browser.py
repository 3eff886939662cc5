"""The journey dashboard in headless Chromium, against `manage.py serve` fed with real messages.

Every journey on these pages went the whole way: a Telegram Update POSTed by the sandbox to the hub's webhook,
NATS, the database, the agent's notification, its reply through POST /api/v2/messages/send and sendMessage
back to the sandbox (or, for the instance without agent, up to T4). The pages are compared with what the API
answers for the same journeys. With DASHBOARD_SCREENSHOTS=1 the summary and waterfall tests also save
docs/dashboard/summary.png and docs/dashboard/journey.png, once their assertions passed.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlparse

import pytest

from journeys.stages import INTERNAL_STAGES
from tests.dashboard.browser import (
    API_KEY,
    STAFF_PASSWORD,
    STAFF_USER,
    login_with_key,
    login_with_user,
    parse_duration,
    save_screenshot,
    screenshots_wanted,
)

pytestmark = pytest.mark.e2e

# The waterfall's segments, in order (DOM contract): latency key -> (start stage, end stage, bar kind).
SEGMENTS = {
    "channelProcessing": ("T0", "T1", "platform"),
    "eventPublish": ("T1", "T2", "internal"),
    "natsDelivery": ("T2", "T3", "internal"),
    "dbWrite": ("T3", "T4", "internal"),
    "agentNotification": ("T4", "T5", "internal"),
    "agentRoundTrip": ("T5", "T7", "external"),
    "apiProcessing": ("T7", "T8", "internal"),
    "outboundEventPublish": ("T8", "T9", "internal"),
    "outboundNatsDelivery": ("T9", "T10", "internal"),
    "platformSend": ("T10", "T11", "platform"),
}
RECEIPT = ("deliveryReceipt", ("T11", "T12", "platform"))
# Keys every summary of replied journeys has a figure for (channelProcessing may be all negative: Telegram's
# date is in whole seconds, so T0 often lies after T1, and negative values are left out of the statistics).
SUMMARY_KEYS = [key for key in SEGMENTS if key != "channelProcessing"]
BAR_KINDS = ("internal", "platform", "external")


def count(page, selector: str) -> int:
    text = page.locator(selector).inner_text().strip()
    assert re.fullmatch(r"\d+", text), f"{selector}: {text!r} is no integer"
    return int(text)


def expected_segments(journey: dict) -> dict[str, tuple[str, str, str]]:
    segments = dict(SEGMENTS)
    if any(c["stage"] == "T12" for c in journey["checkpoints"]):
        segments[RECEIPT[0]] = RECEIPT[1]
    return segments


def test_summary_renders_counts_stage_percentiles_and_bottlenecks_of_real_journeys(hub, page, script_errors):
    login_with_key(page, hub.url)
    assert urlparse(page.url).path == "/journeys/"
    page.wait_for_selector("#summary-stages tr[data-key]")
    api = hub.summary("1h")  # the page shows the last hour; nothing else runs meanwhile

    assert count(page, "#count-total") == api["totalTracked"] >= sum(len(ids) for ids in hub.seeded.values())
    assert count(page, "#count-completed") == api["completedJourneys"] > 0
    assert count(page, "#count-active") == api["activeJourneys"]
    assert count(page, "#count-abandoned") == api["abandonedJourneys"]

    for key in SUMMARY_KEYS:
        row = page.locator(f"#summary-stages tr[data-key='{key}']")
        assert row.count() == 1, f"no summary row for {key}"
        assert row.locator(".stat-bar").count() >= 1, f"{key}: no .stat-bar"
        for percentile in ("p50", "p95", "p99"):
            text = row.locator(f"td.{percentile}").inner_text()
            shown = parse_duration(text)
            assert shown is not None, f"{key} {percentile}: {text!r} is no duration"
            value, rounding = shown
            exact = api["stages"][key][percentile]
            assert abs(value - exact) <= rounding + 1e-6, f"{key} {percentile}: page {text!r}, API {exact}"
        p50, p95, p99 = (parse_duration(row.locator(f"td.{p}").inner_text())[0] for p in ("p50", "p95", "p99"))
        assert 0 <= p50 <= p95 <= p99, (key, p50, p95, p99)

    bottlenecks = page.locator("#bottlenecks li[data-key]")
    assert bottlenecks.count() >= 1
    ranked = [bottlenecks.nth(i).get_attribute("data-key") for i in range(bottlenecks.count())]
    assert set(ranked) <= set(INTERNAL_STAGES), f"bottlenecks outside the internal stages: {ranked}"
    by_p95 = sorted(set(INTERNAL_STAGES) & set(api["stages"]), key=lambda k: api["stages"][k]["p95"], reverse=True)
    assert ranked == by_p95[: len(ranked)], f"page {ranked}, API's internal stages by p95 {by_p95}"

    recent = page.locator("table#recent tbody tr.journey-row[data-correlation-id]")
    assert recent.count() >= 1
    first = recent.first
    assert first.locator(f"a[href$='/journeys/{first.get_attribute('data-correlation-id')}/']").count() == 1
    assert page.locator("table#slowest tbody tr.journey-row[data-correlation-id]").count() >= 1
    page.wait_for_selector("#live-status[data-state='open']")
    assert script_errors == []
    if screenshots_wanted():
        save_screenshot(page, "summary.png")


def test_filters_narrow_the_lists_to_the_chosen_status_and_instance(hub, page):
    login_with_key(page, hub.url)
    page.select_option("form#filters select[name=status]", "completed")
    page.fill("form#filters input[name=instanceId]", hub.plain_instance)
    with page.expect_navigation():
        page.locator("form#filters").evaluate("form => form.requestSubmit()")
    query = parse_qs(urlparse(page.url).query)
    assert query["instanceId"] == [hub.plain_instance] and query["status"] == ["completed"], page.url
    rows = page.locator("table#recent tbody tr.journey-row")
    shown = {rows.nth(i).get_attribute("data-correlation-id") for i in range(rows.count())}
    assert shown == set(hub.seeded["no-agent"]), shown

    page.goto("/journeys/")
    page.select_option("form#filters select[name=slowest]", "dbWrite")
    with page.expect_navigation():
        page.locator("form#filters").evaluate("form => form.requestSubmit()")
    assert parse_qs(urlparse(page.url).query)["slowest"] == ["dbWrite"], page.url
    rows = page.locator("table#slowest tbody tr.journey-row")
    slowest = [rows.nth(i).get_attribute("data-correlation-id") for i in range(rows.count())]
    api = hub.server.api("GET", "journeys", params={"slowest": "dbWrite", "limit": len(slowest)}).json()
    assert slowest and slowest == [journey["correlationId"] for journey in api["results"]]


def test_an_unknown_journey_is_a_404_page_that_says_so(hub, page):
    login_with_key(page, hub.url)
    response = page.goto("/journeys/evt-never-seen/")
    assert response.status == 404
    assert "evt-never-seen" in page.locator("main, body").first.inner_text()
    assert page.locator("#waterfall").count() == 0


@pytest.mark.parametrize("kind", ["replied", "no-agent", "no-t0"])
def test_waterfall_has_one_bar_per_recorded_stage_and_marks_the_missing_ones(hub, page, script_errors, kind):
    correlation_id = hub.seeded[kind][0]
    login_with_user(page, hub.url, STAFF_USER, STAFF_PASSWORD, next_path=f"/journeys/{correlation_id}/")
    assert urlparse(page.url).path == f"/journeys/{correlation_id}/"
    page.wait_for_selector("#waterfall .wf-row")
    journey = hub.journey(correlation_id)
    stages = {c["stage"] for c in journey["checkpoints"]}
    segments = expected_segments(journey)

    rows = page.locator("#waterfall .wf-row[data-key]")
    assert [rows.nth(i).get_attribute("data-key") for i in range(rows.count())] == list(segments)
    recorded = 0
    for key, (start, end, kind_of_bar) in segments.items():
        row = page.locator(f"#waterfall .wf-row[data-key='{key}']")
        bars = row.locator(".wf-bar")
        classes = row.get_attribute("class").split()
        if start in stages and end in stages:
            recorded += 1
            assert "wf-row--missing" not in classes, f"{key}: both ends recorded, marked missing"
            assert bars.count() == 1, f"{key}: {bars.count()} bars"
            bar_classes = bars.first.get_attribute("class").split()
            assert f"wf-bar--{kind_of_bar}" in bar_classes, f"{key}: {bar_classes}"
            assert [k for k in BAR_KINDS if f"wf-bar--{k}" in bar_classes] == [kind_of_bar], bar_classes
        else:
            assert "wf-row--missing" in classes, f"{key}: {start}/{end} not both recorded, not marked missing"
            assert bars.count() == 0, f"{key}: a bar for a missing segment"
    assert page.locator("#waterfall .wf-bar").count() == recorded
    assert page.locator("#waterfall .wf-precision-band").count() == (1 if "T0" in stages else 0)
    assert script_errors == []
    if kind == "replied" and screenshots_wanted():
        save_screenshot(page, "journey.png")


def test_pages_carry_the_data_attributes_of_the_contract(hub, page):
    """CONTRACT §10: each summary row `data-latency-key`, each waterfall bar `data-stage` (its start stage) and
    `data-ms` (its length), each journey row `data-correlation-id`, so that scripts can read the pages."""
    login_with_key(page, hub.url)
    keys = page.locator("#summary-stages tr[data-latency-key]")
    missing = set(SUMMARY_KEYS) - {keys.nth(i).get_attribute("data-latency-key") for i in range(keys.count())}
    assert not missing, f"no #summary-stages tr[data-latency-key] for {sorted(missing)}"
    assert page.locator("tr.journey-row[data-correlation-id]").count() >= 1

    correlation_id = hub.seeded["replied"][0]
    journey = hub.journey(correlation_id)
    page.goto(f"/journeys/{correlation_id}/")
    for key, (start, _end, _kind) in SEGMENTS.items():
        bar = page.locator(f"#waterfall .wf-row[data-key='{key}'] .wf-bar")
        assert bar.get_attribute("data-stage") == start, f"{key}: .wf-bar has no data-stage={start!r}"
        shown = bar.get_attribute("data-ms")
        assert shown is not None, f"{key}: .wf-bar has no data-ms"
        assert float(shown) == pytest.approx(journey["latencies"][key], abs=1.1e-3), (key, shown)


def test_a_message_sent_through_the_sandbox_appears_live_without_a_reload(hub, page, script_errors):
    login_with_key(page, hub.url)
    page.wait_for_selector("#live-status[data-state='open']")
    marker = secrets.token_hex(8)
    page.evaluate("marker => { window.__loadedAt = marker; }", marker)
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)

    correlation_id = hub.send("live one")  # sandbox -> webhook -> ... -> agent reply -> sendMessage
    page.wait_for_selector(f"table#recent tr.journey-row[data-correlation-id='{correlation_id}']", timeout=30_000)

    assert page.evaluate("() => window.__loadedAt") == marker, "the page was reloaded"
    assert navigations == []
    assert hub.journey(correlation_id)["status"] == "completed"
    row = page.locator(f"table#recent tr.journey-row[data-correlation-id='{correlation_id}']")
    assert row.locator(f"a[href$='/journeys/{correlation_id}/']").count() == 1
    assert page.locator("#live-status").get_attribute("data-state") == "open"
    assert script_errors == []


def test_without_javascript_the_summary_and_the_waterfall_still_render(hub, nojs_page):
    page = nojs_page
    login_with_key(page, hub.url)  # a plain form POST
    assert urlparse(page.url).path == "/journeys/"
    assert page.locator("#live-status").get_attribute("data-state") != "open"  # no script ran
    assert count(page, "#count-completed") > 0
    for key in SUMMARY_KEYS:
        text = page.locator(f"#summary-stages tr[data-key='{key}'] td.p50").inner_text()
        assert parse_duration(text) is not None, f"{key}: {text!r}"
    assert page.locator("table#recent tbody tr.journey-row").count() >= 1

    correlation_id = hub.seeded["replied"][0]
    page.goto(f"/journeys/{correlation_id}/")
    bars = page.locator("#waterfall .wf-bar")
    assert bars.count() == len(SEGMENTS)
    for i in range(bars.count()):
        assert bars.nth(i).is_visible(), f"bar {i} ({bars.nth(i).get_attribute('data-stage')}) is not drawn"


def test_unauthenticated_pages_redirect_to_the_login_and_a_wrong_key_gets_an_error(hub, page):
    for path in ("/journeys/", f"/journeys/{hub.seeded['replied'][0]}/"):
        page.goto(path)
        landed = urlparse(page.url)
        assert landed.path == "/journeys/login/", page.url
        assert parse_qs(landed.query).get("next") == [path], page.url

    # A WebSocket without a session gets no journey: closed with 4401 (accepted first, so that the page can
    # tell "log in again" from a network fault), or refused outright.
    outcome = page.evaluate(
        """() => new Promise(resolve => {
            const ws = new WebSocket(`ws://${location.host}/ws/journeys/`);
            const messages = [];
            ws.onmessage = event => messages.push(event.data);
            ws.onclose = event => resolve({code: event.code, messages});
            setTimeout(() => { ws.close(); resolve({code: "still open", messages}); }, 10000);
        })"""
    )
    assert outcome["messages"] == [] and outcome["code"] in (4401, 1006), outcome

    login_with_key(page, hub.url, api_key=API_KEY + "-wrong")
    assert urlparse(page.url).path == "/journeys/login/"
    assert page.locator(".login-error").first.is_visible()
    assert page.locator(".login-error").first.inner_text().strip()
    assert page.locator("#summary-stages").count() == 0

    login_with_user(page, hub.url, STAFF_USER, STAFF_PASSWORD + "-wrong")
    assert urlparse(page.url).path == "/journeys/login/"
    assert page.locator(".login-error").first.inner_text().strip()

    page.goto("/journeys/")
    assert urlparse(page.url).path == "/journeys/login/", "a failed login granted access"
