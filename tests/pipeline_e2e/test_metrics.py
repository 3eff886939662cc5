"""`/api/v2/metrics` after real traffic through the running pipeline."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from messaging.metrics import LATENCIES
from tests.conftest import API_KEY
from tests.pipeline import wait_for
from tests.pipeline_e2e.test_round_trip import completed, inbound, make_instance

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def loopback_plugins(settings):
    settings.CHANNEL_PLUGINS = {**settings.CHANNEL_PLUGINS, "telegram": "tests.loopback_plugin.LoopbackPlugin"}
    LATENCIES.reset()


def scrape(live_server) -> dict[tuple[str, tuple], float]:
    response = httpx.get(f"{live_server.url}/api/v2/metrics", headers={"X-API-Key": API_KEY})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_count_messages_and_histogram_finished_journeys(runtime, live_server):
    before = scrape(live_server)
    instance = make_instance("http://127.0.0.1:9")
    for n in range(3):
        completed(live_server, inbound(runtime, instance, external_id=f"m-{n}").metadata.correlation_id)
    inbound(runtime, instance, external_id="m-0")  # a duplicate

    def received():
        samples = scrape(live_server)
        key = ("omni_messages_received_total", (("channel", "telegram"),))
        grown = samples.get(key, 0) - before.get(key, 0)
        return samples if grown == 3 and samples.get(("omni_duplicate_messages_total", ()), 0) >= 1 else None

    samples = wait_for(received)
    db_write = wait_for(lambda: scrape(live_server).get(("omni_journey_latency_ms_count", (("key", "dbWrite"),))))
    assert db_write == 3
    assert samples[("omni_journey_latency_ms_bucket", (("key", "dbWrite"), ("le", "+Inf")))] >= 3
    assert samples[("omni_journeys_finished_total", (("path", "no-agent"), ("status", "completed")))] >= 3
    assert ("omni_journeys_tracked", ()) in samples


def test_webhook_rejections_are_counted(runtime, live_server):
    import uuid

    url = f"{live_server.url}/api/v2/webhooks/telegram/{uuid.uuid4()}"
    assert httpx.post(url, json={"update_id": 1}).status_code == 404
    samples = scrape(live_server)
    assert samples[("omni_webhook_rejections_total", (("channel", "telegram"), ("code", "INSTANCE_NOT_FOUND")))] >= 1


def test_metrics_require_the_api_key(live_server):
    assert httpx.get(f"{live_server.url}/api/v2/metrics").status_code == 401
