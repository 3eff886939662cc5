"""The database unavailable for a few seconds under a stream of webhooks: the persistence consumer does not
ack what it could not store, JetStream redelivers, and every message ends up stored exactly once."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest

from tests.reliability.harness import ServerDatabase, WebhookStream, external_id, postgres_base_url, wait_until

CHAT = 520001
TOTAL = 400
RATE_PER_S = 100
OUTAGE_S = 3.0


@contextlib.contextmanager
def table_renamed(db: ServerDatabase) -> Iterator[None]:
    """Every read and write of the messages table fails ("no such table" / "relation does not exist")."""
    with contextlib.closing(db.connect()) as conn:
        conn.execute("ALTER TABLE messaging_message RENAME TO messaging_message_away")
        try:
            yield
        finally:
            conn.execute("ALTER TABLE messaging_message_away RENAME TO messaging_message")


@contextlib.contextmanager
def table_locked(db: ServerDatabase) -> Iterator[None]:
    """PostgreSQL: the messages table locked by another transaction; writers wait for it."""
    with contextlib.closing(db.connect()) as conn:
        conn.execute("BEGIN")
        conn.execute("LOCK TABLE messaging_message IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.execute("COMMIT")


@contextlib.contextmanager
def connections_refused(db: ServerDatabase) -> Iterator[None]:
    """PostgreSQL: the database accepts no connection and the server's open ones are terminated."""
    with db.admin() as admin:
        admin.execute(f'ALTER DATABASE "{db.name}" WITH ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [db.name],
            )
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{db.name}" WITH ALLOW_CONNECTIONS true')


# Whether a mode makes the consumer's writes fail (then it naks and JetStream redelivers) or only wait.
OUTAGES = {"renamed-table": (table_renamed, True)}
if postgres_base_url():
    OUTAGES |= {"locked-table": (table_locked, False), "connections-refused": (connections_refused, True)}


@pytest.mark.parametrize("mode", list(OUTAGES))
def test_database_outage_is_redelivered_and_nothing_is_lost_or_duplicated(serve, server_db, mode):
    outage, writes_fail = OUTAGES[mode]
    server = serve().start()
    instance_id = server.create_instance(f"db-{mode}")
    stream = WebhookStream(server.webhook_url(instance_id), CHAT, range(1, TOTAL + 1), rate_per_s=RATE_PER_S)
    stream.start()
    wait_until(lambda: stream.answered >= 80, 30, interval_s=0.01, what="80 answers")
    with outage(server_db):
        began = time.monotonic()
        time.sleep(OUTAGE_S)
        ended = time.monotonic()
    answers = stream.join(60)

    # The webhooks only need NATS: they are all accepted, during the outage too.
    assert len(answers) == TOTAL and all(a.accepted for a in answers), {(a.status, a.code) for a in answers}
    during = [a for a in answers if a.started >= began and a.finished <= ended]
    assert during  # webhooks kept being accepted while the database was down

    everything = {external_id(CHAT, n) for n in range(1, TOTAL + 1)}
    stored = wait_until(
        lambda: (rows := server_db.count_inbound(instance_id)) and rows.keys() == everything and rows,
        30,
        what="all messages stored",
    )
    assert set(stored.values()) == {1}
    time.sleep(1.5)  # room for a wrong second delivery to show up
    assert server_db.count_inbound(instance_id) == stored

    redelivered = server.metric("omni_redeliveries_total", 'consumer="persistence"')
    if writes_fail:
        assert "will be redelivered" in server.log()  # the consumer naked what it could not store ...
        assert redelivered > 0  # ... and JetStream delivered it again
    # Each journey was stored once: completed with one T4.
    journeys = server.journeys(instance_id)
    finished = [j for j in journeys.values() if j["status"] == "completed"]
    assert len(finished) == TOTAL
    assert all([c["stage"] for c in j["checkpoints"]].count("T4") == 1 for j in finished)
    print(
        f"\nDB outage ({mode}, {server_db.vendor}, {OUTAGE_S:.0f} s): {TOTAL} webhooks accepted ({len(during)} during "
        f"the outage), {len(stored)} stored once, {redelivered:.0f} redeliveries, lost 0, duplicates 0"
    )
