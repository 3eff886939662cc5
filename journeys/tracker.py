"""The in-memory journey tracker (CONTRACT §1, §3, §4, §7).

Layout: journeys live in fixed-width columns (Python `array`s indexed by a slot number) instead of one
dict per journey. That keeps `record_checkpoint` to a dict lookup and two array accesses under a lock
(O(1), no allocation on the hot path), keeps 50,000 journeys in a few MB, and lets summaries copy the
columns into numpy and compute every latency key for every journey in a handful of vectorised passes.

Recency is an OrderedDict of correlation id -> slot: recording and `get_journey` move a journey to the
end, eviction pops the front. TTL counts from the local time of a journey's first record; expired
journeys are invisible to reads at once and are removed by `cleanup()`, which works in small batches so
that recording never waits for a whole sweep.
"""

from __future__ import annotations

import math
import random
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
from django.conf import settings

from journeys.stages import (
    COMPOSITE_LATENCIES,
    JOURNEY_STAGES,
    LATENCY_KEYS,
    SIMPLE_LATENCIES,
    STAGE_COLUMN,
    STAGE_ORDER,
)

__all__ = [
    "JOURNEY_STAGES",
    "JourneyTracker",
    "get_journey_tracker",
    "now_ms",
    "reset_journey_tracker",
]

Journey = dict[str, Any]
CompletionCallback = Callable[[Journey], None]

_WIDTH = len(STAGE_ORDER)
# Stage -> (column, checkpoint name): one dict lookup validates a checkpoint and finds its column.
_CHECKPOINTS = {stage: (STAGE_COLUMN[stage], name) for stage, name in JOURNEY_STAGES.items()}
_NAN = math.nan
_NAN_ROW = array("d", [_NAN] * _WIDTH)
_T5, _T7, _T11 = STAGE_COLUMN["T5"], STAGE_COLUMN["T7"], STAGE_COLUMN["T11"]

# Slot states.
_FREE, _ACTIVE, _COMPLETED, _ABANDONED = 0, 1, 2, 3
_STATUS_NAMES = {_ACTIVE: "active", _COMPLETED: "completed", _ABANDONED: "abandoned"}
_STATUS_CODES = {name: code for code, name in _STATUS_NAMES.items()}
PATHS = ("no-agent", "agent", "replied")
EVICTED_REASON = "evicted: JOURNEY_MAX_ENTRIES reached"
STATUSES = tuple(_STATUS_CODES)

# Latency keys as column pairs, for the vectorised summary and the per-journey view alike.
_SIMPLE_COLS = [(key, STAGE_COLUMN[end], STAGE_COLUMN[start]) for key, (end, start) in SIMPLE_LATENCIES.items()]
_COMPOSITE_COLS = [
    (key, (STAGE_COLUMN[a_end], STAGE_COLUMN[a_start]), (STAGE_COLUMN[b_end], STAGE_COLUMN[b_start]))
    for key, ((a_end, a_start), (b_end, b_start)) in COMPOSITE_LATENCIES.items()
]
_CLEANUP_BATCH = 256


def now_ms() -> float:
    """The current Unix time in milliseconds, as a float with microsecond resolution."""
    return time.time_ns() / 1e6


def _round(value: float) -> float:
    return round(value, 3)


class JourneyTracker:
    """Holds the journeys of one process, bounded by a TTL and an LRU cap, with sampling.

    All public methods are thread-safe. `record_checkpoint` is the hot path; everything that computes
    (latencies, summaries, lists) does so when read.
    """

    def __init__(
        self,
        ttl_ms: int,
        sample_rate: float,
        max_entries: int,
        cleanup_interval_ms: int,
        clock: Callable[[], float] | None = None,
        on_complete: CompletionCallback | None = None,
    ) -> None:
        if ttl_ms <= 0 or max_entries <= 0 or cleanup_interval_ms <= 0:
            raise ValueError("ttl_ms, max_entries and cleanup_interval_ms must be positive")
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError("sample_rate must be between 0 and 1")
        self.ttl_ms = ttl_ms
        self.sample_rate = sample_rate
        self.max_entries = max_entries
        self.cleanup_interval_ms = cleanup_interval_ms
        self._clock = clock or now_ms
        self._injected_clock = clock  # None: the hot path reads time.time_ns() itself (no extra call)
        self.on_complete = on_complete
        self._lock = threading.Lock()
        self._index: OrderedDict[str, int] = OrderedDict()
        self._free: list[int] = []
        self._capacity = 0
        # Columns, one entry per slot (times: _WIDTH entries per slot).
        self._times = array("d")
        self._started = array("d")
        self._completed = array("d")
        self._state = array("b")
        self._has_agent = array("b")
        self._channel = array("i")
        self._instance = array("i")
        self._precision = array("d")
        self._extra = array("i")
        self._ids: list[str | None] = []
        self._chats: list[str | None] = []
        self._reasons: dict[int, str] = {}
        # Channel types and instance ids are few: store them as codes so filters are vectorised.
        self._codes: dict[str, int] = {"": 0}
        self._names: list[str] = [""]
        self.evicted = 0
        # Active journeys pushed out by the cap, finished as abandoned, handed to on_complete outside the lock.
        self._evicted_active: list[Journey] = []
        self._stop = threading.Event()
        self._cleaner: threading.Thread | None = None

    # --- recording (hot path) -------------------------------------------------------------------

    def record_checkpoint(self, correlation_id: str, stage: str, name: str, timestamp: float | None = None) -> bool:
        """Record `stage` (e.g. "T3", "eventConsumedAt") for a journey, starting it if needed.

        Returns True when stored, False when the stage already had a value (the first one is kept).
        Raises ValueError for an unknown stage or a name that does not match it.
        """
        checkpoint = _CHECKPOINTS.get(stage)
        if checkpoint is None or checkpoint[1] != name:
            raise ValueError(f"unknown checkpoint {stage!r}/{name!r}")
        col = checkpoint[0]
        clock = self._injected_clock
        now = time.time_ns() / 1e6 if clock is None else clock()
        if timestamp is None:
            timestamp = now
        expired = finished = None
        evicted: list[Journey] | tuple[()] = ()
        lock = self._lock
        lock.acquire()  # try/finally: measurably cheaper than `with` on this path
        try:
            slot = self._index.get(correlation_id)
            if slot is None:
                slot = self._open(correlation_id, now)
            elif now - self._started[slot] > self.ttl_ms:
                expired = self._expire(correlation_id, slot, now)
                slot = self._open(correlation_id, now)
            else:
                self._index.move_to_end(correlation_id)
            i = slot * _WIDTH + col
            times = self._times
            if times[i] == times[i]:  # not NaN: a repeated stage keeps its first value
                stored = False
            else:
                times[i] = timestamp
                stored = True
                if col == _T11 and self._state[slot] == _ACTIVE:
                    finished = self._finish(slot, _COMPLETED, now, None)
            evicted = self._evicted_active
            if evicted:
                self._evicted_active = []
        finally:
            lock.release()
        on_complete = self.on_complete
        if on_complete is not None:
            for journey in evicted:
                on_complete(journey)
            if expired is not None:  # the old journey under this id ran out before this record
                on_complete(expired)
            if finished is not None:
                on_complete(finished)
        return stored

    def should_sample(self) -> bool:
        """Decide, once per message at T1, whether its journey is tracked."""
        rate = self.sample_rate
        return rate >= 1.0 or (rate > 0.0 and random.random() < rate)

    def set_context(
        self,
        correlation_id: str,
        *,
        instance_id: str | None = None,
        channel_type: str | None = None,
        chat_id: str | None = None,
        has_agent: bool | None = None,
        t0_precision_ms: float | None = None,
    ) -> None:
        """Describe a tracked journey (which instance and chat, whether an agent will answer).

        Does nothing for a journey that is not tracked: context never starts a journey.
        """
        with self._lock:
            slot = self._live_slot(correlation_id, self._clock())
            if slot is None:
                return
            if instance_id is not None:
                self._instance[slot] = self._code(str(instance_id))
            if channel_type is not None:
                self._channel[slot] = self._code(channel_type)
            if chat_id is not None:
                self._chats[slot] = str(chat_id)
            if has_agent is not None:
                self._has_agent[slot] = 1 if has_agent else 0
            if t0_precision_ms is not None:
                self._precision[slot] = float(t0_precision_ms)

    def complete(self, correlation_id: str) -> bool:
        """Mark an active journey completed (the no-agent path ends at T4). Returns True if it was."""
        return self._transition(correlation_id, _COMPLETED, None, awaiting_reply_only=False)

    def abandon(self, correlation_id: str, reason: str, *, awaiting_reply_only: bool = False) -> bool:
        """Mark an active journey abandoned with a reason; with `awaiting_reply_only`, only if it has
        T5 and no T7 (an agent reply timeout). Returns True if the journey changed."""
        return self._transition(correlation_id, _ABANDONED, reason, awaiting_reply_only=awaiting_reply_only)

    def count_extra_reply(self, correlation_id: str) -> None:
        """Count a reply after the first one: its checkpoints do not belong to the journey."""
        with self._lock:
            slot = self._live_slot(correlation_id, self._clock())
            if slot is not None:
                self._extra[slot] += 1

    # --- reading ---------------------------------------------------------------------------------

    def get_journey(self, correlation_id: str) -> Journey | None:
        """The journey as CONTRACT §5 JSON, or None when unknown or expired. Refreshes recency."""
        with self._lock:
            slot = self._live_slot(correlation_id, self._clock())
            if slot is None:
                return None
            self._index.move_to_end(correlation_id)
            return self._snapshot(slot)

    def is_tracking(self, correlation_id: str) -> bool:
        """Whether a live (unexpired) journey exists. Does not refresh recency."""
        with self._lock:
            return self._live_slot(correlation_id, self._clock()) is not None

    def __len__(self) -> int:
        return len(self._index)

    def get_summary(
        self,
        since: float | None = None,
        *,
        channel: str | None = None,
        instance_id: str | None = None,
        path: str | None = None,
    ) -> dict[str, Any]:
        """Counts and per-latency-key statistics over live journeys started at or after `since` (epoch ms).

        Statistics skip negative values, which are counted under `negative`. Percentiles interpolate
        linearly between closest ranks (numpy's default).
        """
        view = self._columns(since=since, channel=channel, instance_id=instance_id, path=path)
        state = view["state"]
        summary: dict[str, Any] = {
            "totalTracked": int(state.size),
            "completedJourneys": int(np.count_nonzero(state == _COMPLETED)),
            "activeJourneys": int(np.count_nonzero(state == _ACTIVE)),
            "abandonedJourneys": int(np.count_nonzero(state == _ABANDONED)),
            "since": since,
            "stages": {},
        }
        stage_rows = view["stages"]
        for k, key in enumerate(LATENCY_KEYS):
            row = _latency_row(stage_rows, k)  # NaN where an end is missing: neither counted nor negative
            negative = int(np.count_nonzero(row < 0.0))
            summary["stages"][key] = _stats(row[row >= 0.0], negative)
        return summary

    def list_journeys(
        self,
        *,
        limit: int = 50,
        status: str | None = None,
        channel: str | None = None,
        instance_id: str | None = None,
        slowest: str | None = None,
        since: float | None = None,
    ) -> list[Journey]:
        """Live journeys, newest first, or slowest first by the latency key `slowest`."""
        view = self._columns(since=since, channel=channel, instance_id=instance_id, status=status, with_ids=True)
        slots = view["slots"]
        if slowest is not None:
            k = LATENCY_KEYS.index(slowest)  # ValueError for an unknown key
            values = _latency_row(view["stages"], k)
            keep = ~np.isnan(values)
            slots, values = slots[keep], values[keep]
            order = np.argsort(-values, kind="stable")
        else:
            order = np.argsort(-view["started"], kind="stable")
        chosen = slots[order[: max(0, limit)]]
        ids = view["ids"]
        out: list[Journey] = []
        with self._lock:
            for slot in chosen.tolist():
                if self._ids[slot] == ids[slot] and self._state[slot] != _FREE:
                    out.append(self._snapshot(slot))
        return out

    # --- housekeeping ----------------------------------------------------------------------------

    def cleanup(self) -> int:
        """Remove expired journeys, publishing unfinished ones as abandoned. Returns how many went.

        Works in batches so a sweep never holds the lock for long.
        """
        now = self._clock()
        with self._lock:
            n = self._capacity
            started = np.frombuffer(self._started, dtype=np.float64, count=n).copy()
            state = np.frombuffer(self._state, dtype=np.int8, count=n).copy()
        candidates = np.flatnonzero((state != _FREE) & (now - started > self.ttl_ms)).tolist()
        removed = 0
        for start in range(0, len(candidates), _CLEANUP_BATCH):
            finished: list[Journey] = []
            with self._lock:
                for slot in candidates[start : start + _CLEANUP_BATCH]:
                    cid = self._ids[slot]
                    if cid is None or now - self._started[slot] <= self.ttl_ms:
                        continue  # reused by a newer journey since the copy
                    journey = self._expire(cid, slot, now)
                    if journey is not None:
                        finished.append(journey)
                    removed += 1
            if self.on_complete is not None:
                for journey in finished:
                    self.on_complete(journey)
        return removed

    def start_cleanup(self) -> None:
        """Run `cleanup()` every `cleanup_interval_ms` on a daemon thread until `close()`."""
        if self._cleaner is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(self.cleanup_interval_ms / 1000):
                self.cleanup()

        self._cleaner = threading.Thread(target=loop, name="journey-cleanup", daemon=True)
        self._cleaner.start()

    def clear(self) -> None:
        """Forget every journey."""
        with self._lock:
            for slot in self._index.values():
                self._release(slot)
            self._index.clear()

    def close(self) -> None:
        """Stop the cleanup thread (if started). The tracker stays readable."""
        self._stop.set()
        if self._cleaner is not None:
            self._cleaner.join(timeout=5)
            self._cleaner = None

    # --- internals (call with the lock held) -----------------------------------------------------

    def _live_slot(self, correlation_id: str, now: float) -> int | None:
        slot = self._index.get(correlation_id)
        if slot is None or now - self._started[slot] > self.ttl_ms:
            return None
        return slot

    def _open(self, correlation_id: str, now: float) -> int:
        if len(self._index) >= self.max_entries:
            _, oldest = self._index.popitem(last=False)
            if self._state[oldest] == _ACTIVE and self.on_complete is not None:
                # Never silently: an unfinished journey pushed out is reported, like one that ran out of TTL.
                self._evicted_active.append(self._finish(oldest, _ABANDONED, now, EVICTED_REASON))
            self._release(oldest)
            self.evicted += 1
        slot = self._free.pop() if self._free else self._grow()
        self._index[correlation_id] = slot
        self._ids[slot] = correlation_id
        self._started[slot] = now
        self._state[slot] = _ACTIVE
        return slot

    def _grow(self) -> int:
        old = self._capacity
        new = min(max(1024, old * 2), self.max_entries)
        if new <= old:  # unreachable while the cap holds; a clear error beats a silent overwrite
            raise RuntimeError("journey tracker has no free slot")
        extra = new - old
        self._times.extend(_NAN_ROW * extra)
        for column, fill in (
            (self._started, 0.0),
            (self._completed, _NAN),
            (self._precision, _NAN),
        ):
            column.extend(array("d", [fill]) * extra)
        for column in (self._state, self._has_agent):
            column.extend(array("b", [0]) * extra)
        for column in (self._channel, self._instance, self._extra):
            column.extend(array("i", [0]) * extra)
        self._ids.extend([None] * extra)
        self._chats.extend([None] * extra)
        self._free.extend(range(new - 1, old, -1))
        self._capacity = new
        return old

    def _release(self, slot: int) -> None:
        base = slot * _WIDTH
        self._times[base : base + _WIDTH] = _NAN_ROW
        self._state[slot] = _FREE
        self._has_agent[slot] = 0
        self._channel[slot] = 0
        self._instance[slot] = 0
        self._extra[slot] = 0
        self._completed[slot] = _NAN
        self._precision[slot] = _NAN
        self._ids[slot] = None
        self._chats[slot] = None
        self._reasons.pop(slot, None)
        self._free.append(slot)

    def _expire(self, correlation_id: str, slot: int, now: float) -> Journey | None:
        """Drop an expired journey; return it as abandoned if it never finished."""
        journey = self._finish(slot, _ABANDONED, now, "ttl expired") if self._state[slot] == _ACTIVE else None
        del self._index[correlation_id]
        self._release(slot)
        return journey

    def _finish(self, slot: int, state: int, now: float, reason: str | None) -> Journey | None:
        self._state[slot] = state
        self._completed[slot] = now
        if reason is not None:
            self._reasons[slot] = reason
        return self._snapshot(slot) if self.on_complete is not None else None

    def _transition(self, correlation_id: str, state: int, reason: str | None, *, awaiting_reply_only: bool) -> bool:
        with self._lock:
            now = self._clock()
            slot = self._live_slot(correlation_id, now)
            if slot is None or self._state[slot] != _ACTIVE:
                return False
            if awaiting_reply_only:
                base = slot * _WIDTH
                t5, t7 = self._times[base + _T5], self._times[base + _T7]
                if t5 != t5 or t7 == t7:
                    return False
            finished = self._finish(slot, state, now, reason)
        if finished is not None and self.on_complete is not None:
            self.on_complete(finished)
        return True

    def _code(self, name: str) -> int:
        code = self._codes.get(name)
        if code is None:
            code = self._codes[name] = len(self._names)
            self._names.append(name)
        return code

    def _snapshot(self, slot: int) -> Journey:
        base = slot * _WIDTH
        row = self._times[base : base + _WIDTH]
        values = {stage: row[col] for col, stage in enumerate(STAGE_ORDER) if row[col] == row[col]}
        precision = self._precision[slot]
        checkpoints = []
        for stage, ts in values.items():
            checkpoint: dict[str, Any] = {"stage": stage, "name": JOURNEY_STAGES[stage], "timestamp": ts}
            if stage == "T0":
                checkpoint["precisionMs"] = precision if precision == precision else None
            checkpoints.append(checkpoint)
        completed = self._completed[slot]
        state = self._state[slot]
        return {
            "correlationId": self._ids[slot],
            "instanceId": self._names[self._instance[slot]] or None,
            "channelType": self._names[self._channel[slot]] or None,
            "chatId": self._chats[slot],
            "status": _STATUS_NAMES[state],
            "path": _path(self._has_agent[slot], "T5" in values, "T11" in values),
            "startedAt": self._started[slot],
            "completedAt": completed if completed == completed else None,
            "expiresAt": self._started[slot] + self.ttl_ms,
            "abandonReason": self._reasons.get(slot),
            "extraReplies": self._extra[slot],
            "checkpoints": checkpoints,
            "latencies": journey_latencies(values),
        }

    def _columns(
        self,
        *,
        since: float | None,
        channel: str | None,
        instance_id: str | None,
        path: str | None = None,
        status: str | None = None,
        with_ids: bool = False,
    ) -> dict[str, Any]:
        """Copy the live rows matching the filters out of the lock, as numpy arrays."""
        if path is not None and path not in PATHS:
            raise ValueError(f"unknown path {path!r}")
        if status is not None and status not in _STATUS_CODES:
            raise ValueError(f"unknown status {status!r}")
        now = self._clock()
        with self._lock:
            n = self._capacity
            state = np.frombuffer(self._state, dtype=np.int8, count=n).copy()
            started = np.frombuffer(self._started, dtype=np.float64, count=n).copy()
            mask = (state != _FREE) & (now - started <= self.ttl_ms)
            if since is not None:
                mask &= started >= since
            for value, column in ((channel, self._channel), (instance_id, self._instance)):
                if value is not None:
                    code = self._codes.get(str(value), -1)
                    mask &= np.frombuffer(column, dtype=np.int32, count=n) == code
            slots = np.flatnonzero(mask)
            # One contiguous row per stage, gathered in one pass: latency arithmetic is then row by row.
            stages = np.frombuffer(self._times, dtype=np.float64, count=n * _WIDTH).reshape(n, _WIDTH).T[:, slots]
            has_agent = np.frombuffer(self._has_agent, dtype=np.int8, count=n)[slots]
            ids = list(self._ids) if with_ids else None  # to tell a reused slot apart later
        state, started = state[slots], started[slots]
        keep = None
        if path is not None:
            replied = ~np.isnan(stages[_T11])
            agent = ~replied & ((has_agent == 1) | ~np.isnan(stages[_T5]))
            keep = {"replied": replied, "agent": agent, "no-agent": ~replied & ~agent}[path]
        if status is not None:
            by_status = state == _STATUS_CODES[status]
            keep = by_status if keep is None else keep & by_status
        if keep is not None:
            slots, stages, state, started = slots[keep], stages[:, keep], state[keep], started[keep]
        return {"slots": slots, "stages": stages, "state": state, "started": started, "ids": ids}


def _path(has_agent: int, has_t5: bool, has_t11: bool) -> str:
    if has_t11:
        return "replied"
    return "agent" if has_agent or has_t5 else "no-agent"


def journey_latencies(values: dict[str, float]) -> dict[str, float]:
    """Latency keys (CONTRACT §3) for one journey's stage -> timestamp map; a key needs both ends."""
    out: dict[str, float] = {}
    for key, (end, start) in SIMPLE_LATENCIES.items():
        if end in values and start in values:
            out[key] = _round(values[end] - values[start])
    for key, ((a_end, a_start), (b_end, b_start)) in COMPOSITE_LATENCIES.items():
        if a_end in values and a_start in values:
            total = values[a_end] - values[a_start]
            if b_end in values and b_start in values:
                total += values[b_end] - values[b_start]
            out[key] = _round(total)
    return out


def _latency_row(stage_rows: np.ndarray, k: int) -> np.ndarray:
    """The latency key `LATENCY_KEYS[k]` for every journey (NaN where an end is missing), a new array.

    `stage_rows` holds one row of timestamps per stage (stages x journeys)."""
    if k < len(_SIMPLE_COLS):
        _key, end, start = _SIMPLE_COLS[k]
        return stage_rows[end] - stage_rows[start]
    _key, (a_end, a_start), (b_end, b_start) = _COMPOSITE_COLS[k - len(_SIMPLE_COLS)]
    row = stage_rows[a_end] - stage_rows[a_start]
    outbound = stage_rows[b_end] - stage_rows[b_start]
    np.add(row, outbound, out=row, where=~np.isnan(outbound))  # the outbound span counts when both ends exist
    return row


_QUANTILES = (99.0, 95.0, 50.0)  # descending: each rank is searched for below the previous one


def _stats(values: np.ndarray, negative: int) -> dict[str, Any]:
    """Statistics of non-negative values (a scratch array: reordered in place)."""
    n = int(values.size)
    if n == 0:
        return {"count": 0, "negative": negative, "avg": None, "min": None, "max": None,
                "p50": None, "p95": None, "p99": None}  # fmt: skip
    avg, low, high = float(values.mean()), float(values.min()), float(values.max())
    p99, p95, p50 = _linear_percentiles(values, _QUANTILES)
    return {
        "count": n,
        "negative": negative,
        "avg": _round(avg),
        "min": _round(low),
        "max": _round(high),
        "p50": _round(p50),
        "p95": _round(p95),
        "p99": _round(p99),
    }


def _linear_percentiles(values: np.ndarray, quantiles: tuple[float, ...]) -> list[float]:
    """numpy's default ("linear") percentiles, exact, without sorting: `quantiles` in descending order.

    `values` (no NaN) is reordered in place. Each rank is found by a single-kth partition of the part
    still below the previous rank (numpy's fast path), and the rank just above it is the minimum of
    the values between the two. The interpolation is numpy's own `_lerp`.
    """
    n = values.size
    out: list[float] = []
    bound = n  # values[:bound] are the `bound` smallest values; values[bound] (if any) has rank `bound`
    previous: tuple[int, float, float] | None = None
    for q in quantiles:
        position = (q / 100.0) * (n - 1)
        lower = math.floor(position)
        gamma = position - lower
        if previous is not None and previous[0] == lower:
            below, above = previous[1], previous[2]
        else:
            values[:bound].partition(lower)
            below = float(values[lower])
            upper = lower + 1
            if upper >= n:
                above = below
            elif upper < bound:
                above = float(values[upper:bound].min())
            else:
                above = float(values[bound])
            bound = lower
            previous = (lower, below, above)
        diff = above - below
        out.append(above - diff * (1.0 - gamma) if gamma >= 0.5 else below + diff * gamma)
    return out


_tracker: JourneyTracker | None = None
_tracker_lock = threading.Lock()


def get_journey_tracker() -> JourneyTracker:
    """The process's tracker, built on first use from settings.JOURNEYS."""
    global _tracker
    if _tracker is None:
        with _tracker_lock:
            if _tracker is None:
                conf = settings.JOURNEYS
                _tracker = JourneyTracker(
                    ttl_ms=conf["TTL_MS"],
                    sample_rate=conf["SAMPLE_RATE"],
                    max_entries=conf["MAX_ENTRIES"],
                    cleanup_interval_ms=conf["CLEANUP_INTERVAL_MS"],
                )
    return _tracker


def reset_journey_tracker() -> None:
    """Close and forget the process's tracker (tests; settings changes)."""
    global _tracker
    with _tracker_lock:
        if _tracker is not None:
            _tracker.close()
        _tracker = None
