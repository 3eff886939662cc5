"""The app server killed (SIGKILL) or stopped (SIGTERM) in the middle of a stream of webhooks, then started
again on the same database, NATS store and durable consumer names."""

from __future__ import annotations

import time

from tests.reliability.harness import Answer, WebhookStream, external_id, wait_until

TOTAL = 600
RATE_PER_S = 150
# A batch the killed process had fetched but not acked comes back after the consumer's ack_wait (30 s).
REDELIVERY_S = 45


def accepted_ids(chat: int, answers: list[Answer]) -> set[str]:
    return {external_id(chat, a.number) for a in answers if a.accepted}


def test_sigkill_mid_stream_then_restart_resumes_and_stores_every_accepted_webhook_once(serve, server_db):
    chat = 530001
    server = serve()
    server.start()
    instance_id = server.create_instance("sigkill")
    stream = WebhookStream(server.webhook_url(instance_id), chat, range(1, TOTAL + 1), rate_per_s=RATE_PER_S)
    stream.start()
    wait_until(lambda: stream.answered >= 200, 30, interval_s=0.01, what="200 answers")
    server.kill()
    accepted_before = accepted_ids(chat, list(stream.answers))
    stored_at_kill = set(server_db.count_inbound(instance_id))
    server.start()  # same port, database, NATS and NATS_DURABLE_PREFIX
    answers = stream.join(60)

    # Whatever got no 2xx (refused while down, cut by the kill) is sent again, as a platform would.
    retried = WebhookStream(server.webhook_url(instance_id), chat, [a.number for a in answers if not a.accepted])
    assert all(a.accepted for a in retried.run(60))
    everything = {external_id(chat, n) for n in range(1, TOTAL + 1)}
    stored = wait_until(
        lambda: (rows := server_db.count_inbound(instance_id)) and rows.keys() == everything and rows,
        REDELIVERY_S,
        what="every accepted webhook stored",
    )
    assert set(stored.values()) == {1}
    assert accepted_before <= stored.keys()
    # The durable consumer resumed where the killed process stopped: it did not start the stream over.
    duplicates = server.metric("omni_duplicate_messages_total")
    assert duplicates < len(stored_at_kill) or not stored_at_kill
    backlog = accepted_before - stored_at_kill
    print(
        f"\nSIGKILL: {len(accepted_before)} accepted before the kill, {len(stored_at_kill)} stored at the kill "
        f"({len(backlog)} accepted but not yet stored), {sum(not a.accepted for a in answers)} refused while down "
        f"and retried; after the restart {len(stored)} stored once, {duplicates:.0f} redelivered duplicates "
        "skipped, lost 0"
    )


def test_sigterm_mid_stream_drains_so_every_accepted_webhook_is_stored_before_exit(serve, server_db):
    chat = 530002
    server = serve()
    server.start()
    instance_id = server.create_instance("sigterm")
    stream = WebhookStream(server.webhook_url(instance_id), chat, range(1, TOTAL + 1), rate_per_s=RATE_PER_S)
    stream.start()
    wait_until(lambda: stream.answered >= 250, 30, interval_s=0.01, what="250 answers")
    began = time.monotonic()
    assert server.terminate() == 0
    drained_s = time.monotonic() - began
    answers = stream.join(60)

    # The process is gone: what is in the database now is what it finished before exiting.
    accepted = accepted_ids(chat, answers)
    stored = server_db.count_inbound(instance_id)
    assert accepted and stored.keys() == accepted
    assert set(stored.values()) == {1}
    assert "stopped" in server.log()

    server.start()
    retried = WebhookStream(server.webhook_url(instance_id), chat, [a.number for a in answers if not a.accepted])
    assert all(a.accepted for a in retried.run(60))
    everything = {external_id(chat, n) for n in range(1, TOTAL + 1)}
    stored = wait_until(
        lambda: (rows := server_db.count_inbound(instance_id)) and rows.keys() == everything and rows,
        20,
        what="all stored after the restart",
    )
    assert set(stored.values()) == {1}
    print(
        f"\nSIGTERM: drained and exited 0 in {drained_s:.1f} s; {len(accepted)} accepted, all {len(accepted)} "
        f"stored before exit; {TOTAL - len(accepted)} refused and retried after the restart: {len(stored)} stored "
        "once, lost 0"
    )
