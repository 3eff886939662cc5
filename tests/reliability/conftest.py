"""Fixtures of the fault tests: a nats-server and a database of the test's own, and `manage.py serve` on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.nats_server import NatsServer
from tests.reliability.harness import ServeProcess, ServerDatabase, postgres_base_url

pytestmark = pytest.mark.e2e


@pytest.fixture
def server_db(tmp_path) -> Iterator[ServerDatabase]:
    """The served process's database: SQLite in tmp_path, or omni_fault_<hex> when DATABASE_URL is PostgreSQL."""
    db = ServerDatabase(tmp_path, postgres_base_url())
    yield db
    db.close()


@pytest.fixture
def nats() -> Iterator[NatsServer]:
    """A nats-server of this test's own (it may be stopped and restarted; the store dir persists)."""
    server = NatsServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def serve(server_db, nats, tmp_path) -> Iterator[Callable[..., ServeProcess]]:
    """`serve(**extra_env)`: a ServeProcess on this test's database and NATS (not started yet)."""
    made: list[ServeProcess] = []

    def make(**extra_env: str) -> ServeProcess:
        process = ServeProcess(server_db, nats.url, tmp_path / f"serve-{len(made)}.log", extra_env=extra_env)
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()
