from __future__ import annotations

import pytest

from journeys.tracker import reset_journey_tracker
from tests.nats_server import NatsServer

API_KEY = "test-api-key-0123456789"


@pytest.fixture(autouse=True)
def _fresh_tracker(settings):
    """No test sees another's journeys; every test has a known API key."""
    settings.OMNI_API_KEY = API_KEY
    reset_journey_tracker()
    yield
    reset_journey_tracker()


@pytest.fixture(scope="session")
def nats_server():
    """A real nats-server with JetStream for the whole run (tests may stop and restart it)."""
    server = NatsServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=API_KEY)
    return client


from tests.pipeline import runtime  # noqa: E402, F401  (the running-pipeline fixture)
