"""Inbound events through NATS into the database (T2 -> T4), the real runtime end to end.

A real nats-server (started here), the configured database engine (a fresh test database), and the
process's runtime with its persistence consumer. Two measurements:

- throughput: 10,000 messages offered at once by a publisher process (bench/publisher.py, as the
  plugins publish them), sampling 1.0 against 0.0 (alternating rounds, best of each), persisted
  messages per second from the first stored row to the last;
- latency: messages offered at a steady 1,000/s with sampling 1.0; T4 - T2 percentiles per journey.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection
from django.test.utils import setup_databases, teardown_databases

from journeys.tracker import get_journey_tracker, now_ms, reset_journey_tracker
from messaging.models import Instance, Message
from messaging.runtime import Runtime, start_runtime, stop_runtime
from tests.nats_server import NatsServer

MESSAGES = 10_000
PACED_RATE_PER_S = 1_000
PACED_SECONDS = 10
ROUNDS = 2
TARGET_RATE = 1_000.0
TARGET_P99_MS = 50.0
TARGET_OVERHEAD = 0.03


ROOT = Path(__file__).resolve().parent.parent


def _start(nats_url: str) -> tuple[Runtime, str]:
    settings.NATS = {**settings.NATS, "URL": nats_url, "STREAM": "BENCH", "DURABLE_PREFIX": uuid.uuid4().hex[:8]}
    reset_journey_tracker()
    runtime = start_runtime()
    if not runtime.call(runtime.bus.wait_ready(10)):
        raise RuntimeError("runtime did not connect to NATS")
    instance = Instance.objects.create(name="bench", channel_type="telegram")
    return runtime, str(instance.pk)


def _stop(runtime: Runtime) -> None:
    runtime.call(runtime.bus.delete_stream())
    stop_runtime()
    Instance.objects.all().delete()


def _offer(nats_url: str, instance_id: str, count: int, rate: float, sample_rate: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.publisher", nats_url, instance_id, str(count), str(rate), str(sample_rate)],
        cwd=ROOT,
    )


def _wait_stored(count: int, timeout_s: float = 180.0) -> float:
    deadline = time.monotonic() + timeout_s
    while Message.objects.count() < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {Message.objects.count()} of {count} messages stored")
        time.sleep(0.05)  # the poll itself competes with the consumer for the GIL: keep it rare
    return now_ms()


def _first_stored() -> float:
    while not Message.objects.exists():
        time.sleep(0.002)
    return now_ms()


def throughput(nats_url: str, sample_rate: float) -> float:
    """Messages persisted per second, from the first stored row to the last, with the load offered
    at once (so the consumer, not the publisher, sets the pace)."""
    runtime, instance_id = _start(nats_url)
    try:
        publisher = _offer(nats_url, instance_id, MESSAGES, 0, sample_rate)
        publisher.wait(timeout=300)
        started = _first_stored()
        finished = _wait_stored(MESSAGES)
        return (MESSAGES - 1) / ((finished - started) / 1000)
    finally:
        _stop(runtime)


def paced_latency(nats_url: str) -> np.ndarray:
    runtime, instance_id = _start(nats_url)
    total = PACED_RATE_PER_S * PACED_SECONDS
    try:
        publisher = _offer(nats_url, instance_id, total, PACED_RATE_PER_S, 1.0)
        publisher.wait(timeout=PACED_SECONDS * 10)
        _wait_stored(total)
        time.sleep(0.2)
        spans = []
        for journey in get_journey_tracker().list_journeys(limit=total):
            times = {c["stage"]: c["timestamp"] for c in journey["checkpoints"]}
            if "T2" in times and "T4" in times:
                spans.append(times["T4"] - times["T2"])
        return np.array(spans)
    finally:
        _stop(runtime)


def run() -> bool:
    server = NatsServer()
    server.start()
    # Its own database (kept between runs, emptied per round), apart from the test suite's.
    test_settings = settings.DATABASES["default"].setdefault("TEST", {})
    test_settings["NAME"] = "omni_bench" if connection.vendor == "postgresql" else str(ROOT / "var" / "bench.sqlite3")
    (ROOT / "var").mkdir(exist_ok=True)
    old_config = setup_databases(verbosity=0, interactive=False, keepdb=True)
    Message.objects.all().delete()
    try:
        engine = f"{connection.vendor} {'.'.join(map(str, connection.Database.version_info if hasattr(connection.Database, 'version_info') else ()))}"  # noqa: E501
        print(f"database: {connection.vendor} ({engine.strip()}), {MESSAGES} messages per round, {ROUNDS} rounds")
        rates: dict[float, list[float]] = {1.0: [], 0.0: []}
        for _ in range(ROUNDS):
            for sample_rate in (1.0, 0.0):
                rate = throughput(server.url, sample_rate)
                rates[sample_rate].append(rate)
                print(f"  sampling {sample_rate:.1f}: {rate:,.0f} messages/s persisted", flush=True)
        traced, untraced = max(rates[1.0]), max(rates[0.0])
        overhead = 1 - traced / untraced
        spans = paced_latency(server.url)
        p50, p95, p99 = (float(np.percentile(spans, q)) for q in (50, 95, 99))
        met_rate = traced >= TARGET_RATE
        met_p99 = p99 <= TARGET_P99_MS
        met_overhead = overhead <= TARGET_OVERHEAD
        print(f"throughput (best, sampling 1.0): {traced:,.0f}/s  target >= {TARGET_RATE:,.0f}/s  "
              f"{'PASS' if met_rate else 'FAIL'}")  # fmt: skip
        print(f"throughput (best, sampling 0.0): {untraced:,.0f}/s")
        print(f"tracing overhead: {overhead * 100:.1f} %  target <= {TARGET_OVERHEAD * 100:.0f} %  "
              f"{'PASS' if met_overhead else 'FAIL'}")  # fmt: skip
        print(f"T2->T4 at {PACED_RATE_PER_S}/s offered ({spans.size} journeys): p50 {p50:.3f} ms, p95 {p95:.3f} ms, "
              f"p99 {p99:.3f} ms  target p99 <= {TARGET_P99_MS:.0f} ms  {'PASS' if met_p99 else 'FAIL'}")  # fmt: skip
        return met_rate and met_p99 and met_overhead
    finally:
        teardown_databases(old_config, verbosity=0, keepdb=True)
        server.close()
