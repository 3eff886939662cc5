"""NATS stopped and restarted in the middle of 1,000 inbound webhooks, against a real `manage.py serve`."""

from __future__ import annotations

import time

from tests.reliability.harness import WebhookStream, external_id, wait_until

CHAT = 510001
TOTAL = 1000
RATE_PER_S = 150  # ~2 s of stream before the outage, ~2.5 s of outage, the rest after the restart


def test_nats_restart_mid_stream_stores_every_accepted_webhook_exactly_once(serve, nats, server_db):
    server = serve().start()
    instance_id = server.create_instance("nats-outage")
    stream = WebhookStream(server.webhook_url(instance_id), CHAT, range(1, TOTAL + 1), rate_per_s=RATE_PER_S)
    stream.start()
    wait_until(lambda: stream.answered >= 300, 30, interval_s=0.01, what="300 answers")
    nats.stop()
    server.wait_nats(False)
    outage_seen = time.monotonic()
    time.sleep(2.0)  # the outage: webhooks keep arriving
    restarting = time.monotonic()
    nats.start()  # same port, same JetStream store
    server.wait_nats(True)
    reconnected = time.monotonic()
    answers = stream.join(120)

    assert len(answers) == TOTAL
    refused = [a for a in answers if not a.accepted]
    # Every answer is a 2xx or a 503 NATS_UNAVAILABLE: no 500, no dropped connection, no hang.
    assert {(a.status, a.code) for a in refused} == {(503, "NATS_UNAVAILABLE")}
    during = [a for a in answers if a.started >= outage_seen and a.finished <= restarting]
    assert during and all(a.status == 503 for a in during)
    after = [a for a in answers if a.started >= reconnected]
    assert after and all(a.accepted for a in after)

    accepted = {external_id(CHAT, a.number) for a in answers if a.accepted}
    stored = wait_until(
        lambda: (rows := server_db.count_inbound(instance_id)) and accepted <= rows.keys() and rows,
        30,
        what="every accepted webhook stored",
    )
    assert all(count == 1 for count in stored.values()), {k: v for k, v in stored.items() if v > 1}

    # The platform retries what was refused (Telegram does): in the end all 1,000 are stored exactly once.
    retried = WebhookStream(server.webhook_url(instance_id), CHAT, [a.number for a in refused]).run(60)
    assert all(a.accepted for a in retried)
    everything = {external_id(CHAT, n) for n in range(1, TOTAL + 1)}
    stored = wait_until(
        lambda: (rows := server_db.count_inbound(instance_id)) and rows.keys() == everything and rows,
        30,
        what="all 1,000 stored",
    )
    assert set(stored.values()) == {1}

    # Journeys of the messages accepted after the restart complete (no agent: complete at T4).
    cids = server_db.correlation_ids(instance_id)
    wanted = {cids[external_id(CHAT, a.number)] for a in after}
    journeys = wait_until(
        lambda: (
            (found := server.journeys(instance_id))
            and all(cid in found and found[cid]["status"] != "active" for cid in wanted)
            and found
        ),
        15,
        what="the journeys after the restart finished",
    )
    for cid in wanted:
        journey = journeys[cid]
        assert journey["status"] == "completed" and journey["path"] == "no-agent", journey
        assert journey["checkpoints"][-1]["stage"] == "T4"
    print(
        f"\nNATS restart: {TOTAL} webhooks, {TOTAL - len(refused)} accepted, {len(refused)} answered 503 "
        f"({len(during)} during the outage), {len(after)} after the restart; retried {len(refused)}: all accepted; "
        f"stored {len(stored)}, duplicates 0, lost 0"
    )
