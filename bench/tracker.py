"""The journey tracker against its targets (issue 2), measured side by side in one run.

(a) `record_checkpoint` median cost per call, next to an OpenTelemetry SDK span start+end (no-op exporter)
    and a plain dict-based tracker: median of 50 batches of 10,000 calls, contenders interleaved batch by
    batch so that machine noise hits them alike. Target: tracker <= 0.1 x span.
(b) Memory of 50,000 completed journeys (T0..T11 minus T6, "evt-<uuid4>" ids, instance, channel and chat
    context) with tracemalloc, everything the tracker holds counted (ids included). Target: <= 25 MB.
(c) `get_summary()` over those 50,000 journeys, unfiltered and with `since`: median ms. Target: <= 25 ms.

Figures are printed with PASS/FAIL against the targets; nothing here asserts on time.
"""

from __future__ import annotations

import gc
import random
import statistics
import threading
import time
import tracemalloc
import uuid
from collections import OrderedDict
from typing import Any

from django.conf import settings

from journeys.stages import JOURNEY_STAGES
from journeys.tracker import JourneyTracker, now_ms

BATCHES = 50
BATCH_CALLS = 10_000
WARMUP_BATCHES = 3
JOURNEYS = 50_000
SUMMARY_RUNS = 30
INTERLEAVE = 64  # journeys in flight at once in the call stream

SPAN_RATIO_TARGET = 0.1
MEMORY_TARGET_MB = 25.0
SUMMARY_TARGET_MS = 25.0

# T0..T11 without T6 (there is none) and without the optional T12: 11 checkpoints per journey.
RECORDED = [(stage, name) for stage, name in JOURNEY_STAGES.items() if stage != "T12"]
CHANNELS = ("telegram", "whatsapp", "discord")
# Typical gaps (ms) after the previous stage, T0 first: second-precision platform clock, then our code.
GAPS = {
    "T1": (0.0, 900.0), "T2": (0.05, 0.4), "T3": (0.1, 1.5), "T4": (0.5, 8.0), "T5": (0.2, 3.0),
    "T7": (300.0, 4000.0), "T8": (0.5, 6.0), "T9": (0.05, 0.4), "T10": (0.1, 1.5), "T11": (80.0, 600.0),
}  # fmt: skip


class DictTracker:
    """The reference design: one plain dict per journey, an OrderedDict for LRU, a lock."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._journeys: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def record_checkpoint(self, correlation_id: str, stage: str, name: str, timestamp: float | None = None) -> bool:
        if JOURNEY_STAGES.get(stage) != name:
            raise ValueError(f"unknown checkpoint {stage!r}/{name!r}")
        now = time.time_ns() / 1e6
        if timestamp is None:
            timestamp = now
        with self._lock:
            journey = self._journeys.get(correlation_id)
            if journey is None:
                if len(self._journeys) >= self.max_entries:
                    self._journeys.popitem(last=False)
                journey = self._journeys[correlation_id] = {"correlationId": correlation_id, "startedAt": now,
                                                            "status": "active", "timings": {}}  # fmt: skip
            else:
                self._journeys.move_to_end(correlation_id)
            timings = journey["timings"]
            if stage in timings:
                return False
            timings[stage] = timestamp
            if stage == "T11":
                journey["status"] = "completed"
                journey["completedAt"] = now
            return True

    def set_context(self, correlation_id: str, **context: Any) -> None:
        with self._lock:
            journey = self._journeys.get(correlation_id)
            if journey is not None:
                journey.update(context)


class FakeClock:
    """Epoch ms that the memory benchmark advances by hand, so `since` selects a known share."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _journey_timestamps(rng: random.Random, start: float) -> list[float]:
    t0 = float(int(start - rng.uniform(0.0, 900.0)) // 1000 * 1000)  # a second-precision platform clock
    out, t = [t0], start
    for stage, _name in RECORDED[1:]:
        low, high = GAPS[stage]
        t += rng.uniform(low, high) if stage != "T1" else 0.0
        out.append(t)
    return out


def _call_stream(n_calls: int, seed: int) -> list[tuple[str, str, str, float]]:
    """`n_calls` record_checkpoint arguments: INTERLEAVE journeys in flight, stage by stage, so about one
    call in 11 starts a journey and the rest add to existing ones."""
    rng = random.Random(seed)
    calls: list[tuple[str, str, str, float]] = []
    base = now_ms()
    while len(calls) < n_calls:
        group = [(f"evt-{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                  _journey_timestamps(rng, base + len(calls))) for _ in range(INTERLEAVE)]  # fmt: skip
        for k, (stage, name) in enumerate(RECORDED):
            for cid, stamps in group:
                calls.append((cid, stage, name, stamps[k]))
    return calls[:n_calls]


def _time_batch(record, calls) -> float:
    start = time.perf_counter_ns()
    for cid, stage, name, ts in calls:
        record(cid, stage, name, ts)
    return (time.perf_counter_ns() - start) / len(calls)


def _time_spans(tracer, calls, with_attributes: bool) -> float:
    start_span = tracer.start_span
    start = time.perf_counter_ns()
    if with_attributes:
        for cid, _stage, name, _ts in calls:
            start_span(name, attributes={"correlation.id": cid}).end()
    else:
        for _cid, _stage, name, _ts in calls:
            start_span(name).end()
    return (time.perf_counter_ns() - start) / len(calls)


def _time_loop(calls) -> float:
    def nothing(cid, stage, name, ts):
        return None

    return _time_batch(nothing, calls)


def _tracer():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class NoopExporter(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

        def shutdown(self):
            return None

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NoopExporter()))
    return provider.get_tracer("bench.tracker"), provider


def _status(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def bench_record() -> bool:
    conf = settings.JOURNEYS
    calls = _call_stream((WARMUP_BATCHES + BATCHES) * BATCH_CALLS, seed=1)
    batches = [calls[i : i + BATCH_CALLS] for i in range(0, len(calls), BATCH_CALLS)]
    tracker = JourneyTracker(conf["TTL_MS"], 1.0, conf["MAX_ENTRIES"], conf["CLEANUP_INTERVAL_MS"])
    reference = DictTracker(conf["MAX_ENTRIES"])
    tracer, provider = _tracer()
    results: dict[str, list[float]] = {"tracker": [], "dict": [], "span": [], "span+attr": [], "loop": []}
    for i, batch in enumerate(batches):
        figures = {
            "tracker": _time_batch(tracker.record_checkpoint, batch),
            "dict": _time_batch(reference.record_checkpoint, batch),
            "span": _time_spans(tracer, batch, with_attributes=False),
            "span+attr": _time_spans(tracer, batch, with_attributes=True),
            "loop": _time_loop(batch),
        }
        if i >= WARMUP_BATCHES:
            for key, value in figures.items():
                results[key].append(value)
    provider.shutdown()
    med = {key: statistics.median(values) / 1000.0 for key, values in results.items()}  # µs
    ratio = med["tracker"] / med["span"]
    print(f"(a) record_checkpoint: median of {BATCHES} batches x {BATCH_CALLS:,} calls, µs per call "
          f"(1 call in {len(RECORDED)} starts a journey)")  # fmt: skip
    print(f"    journey tracker            {med['tracker']:8.3f} µs")
    print(f"    plain dict tracker         {med['dict']:8.3f} µs   (reference)")
    print(f"    OpenTelemetry span         {med['span']:8.3f} µs   (start_span + end, no-op exporter)")
    print(f"    OpenTelemetry span + attr  {med['span+attr']:8.3f} µs   (the same with a correlation.id attribute)")
    print(f"    empty loop + call          {med['loop']:8.3f} µs   (included in every figure above)")
    ok = ratio <= SPAN_RATIO_TARGET
    print(f"    tracker / span             {ratio:8.3f}      target <= {SPAN_RATIO_TARGET}   {_status(ok)}")
    return ok


def _fill(tracker, clock: FakeClock | None, n: int, seed: int) -> None:
    rng = random.Random(seed)
    instances = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(8)]
    start = clock.now if clock is not None else now_ms()
    for j in range(n):
        if clock is not None:
            clock.now = start + j * 10.0  # one journey every 10 ms
        cid = f"evt-{uuid.uuid4()}"
        stamps = _journey_timestamps(rng, start + j * 10.0)
        tracker.record_checkpoint(cid, "T0", "platformReceivedAt", stamps[0])
        tracker.record_checkpoint(cid, "T1", "pluginReceivedAt", stamps[1])
        chat_id = str(rng.randrange(10**8, 10**10))
        tracker.set_context(cid, instance_id=instances[j % 8], channel_type=CHANNELS[j % 3], chat_id=chat_id,
                            has_agent=True, t0_precision_ms=1000.0)  # fmt: skip
        for k in range(2, len(RECORDED)):
            stage, name = RECORDED[k]
            tracker.record_checkpoint(cid, stage, name, stamps[k])


def _measure_memory(factory, n: int) -> tuple[Any, float, float]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracker = factory()
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return tracker, (current - before) / 1e6, (peak - before) / 1e6


def bench_memory_and_summary() -> bool:
    conf = settings.JOURNEYS
    max_entries = max(conf["MAX_ENTRIES"], JOURNEYS)
    clock = FakeClock(now_ms())
    start = clock.now

    def build_tracker() -> JourneyTracker:
        tracker = JourneyTracker(conf["TTL_MS"], 1.0, max_entries, conf["CLEANUP_INTERVAL_MS"], clock=clock)
        _fill(tracker, clock, JOURNEYS, seed=2)
        return tracker

    def build_dict() -> DictTracker:
        tracker = DictTracker(max_entries)
        _fill(tracker, None, JOURNEYS, seed=2)
        return tracker

    tracker, used, peak = _measure_memory(build_tracker, JOURNEYS)
    reference, ref_used, _ = _measure_memory(build_dict, JOURNEYS)
    del reference
    completed = tracker.get_summary()["completedJourneys"]
    memory_ok = used <= MEMORY_TARGET_MB and completed == JOURNEYS
    print(f"(b) memory of {JOURNEYS:,} completed journeys x {len(RECORDED)} checkpoints (tracemalloc)")
    print(f"    journey tracker            {used:8.2f} MB   (peak while filling {peak:.2f} MB; "
          f"{completed:,} completed)   target <= {MEMORY_TARGET_MB:g} MB   {_status(memory_ok)}")  # fmt: skip
    print(f"    plain dict tracker         {ref_used:8.2f} MB   (reference)")

    since = start + JOURNEYS * 10.0 / 2  # the newer half
    runs: dict[str, list[float]] = {"unfiltered": [], "since": []}
    counts = {"unfiltered": tracker.get_summary()["totalTracked"], "since": tracker.get_summary(since)["totalTracked"]}
    for _ in range(SUMMARY_RUNS):
        for label, arg in (("unfiltered", None), ("since", since)):
            t = time.perf_counter_ns()
            tracker.get_summary(arg)
            runs[label].append((time.perf_counter_ns() - t) / 1e6)
    print(f"(c) get_summary() over {JOURNEYS:,} journeys, median of {SUMMARY_RUNS} calls")
    summary_ok = True
    for label, values in runs.items():
        med = statistics.median(values)
        ok = med <= SUMMARY_TARGET_MS
        summary_ok = summary_ok and ok
        print(f"    {label:<26} {med:8.2f} ms   ({counts[label]:,} journeys)   "
              f"target <= {SUMMARY_TARGET_MS:g} ms   {_status(ok)}")  # fmt: skip
    return memory_ok and summary_ok


def run() -> bool:
    record_ok = bench_record()
    rest_ok = bench_memory_and_summary()
    return record_ok and rest_ok
