"""The runtime: the one object that owns this process's long-lived work.

It runs an asyncio loop on a dedicated thread holding the NATS connection, the consumers
(persistence, outbound dispatch per channel), agent notifications, the plugins' connections and
the tracker's cleanup. Request handlers, sync or async, reach it through `publish()` /
`publish_sync()`, which hop onto that loop. The serving commands (`runserver`, `serve`) start it
exactly once per process and stop it on SIGTERM/SIGINT: stop fetching, finish what is in hand,
drain NATS, close.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
from django.conf import settings
from django.db import connections

from journeys.tracker import Journey, get_journey_tracker
from messaging.bus import Bus, BusUnavailable
from messaging.events import JOURNEY_COMPLETE, Event, EventMetadata
from messaging.metrics import record_finished

log = logging.getLogger(__name__)
T = TypeVar("T")


class Runtime:
    def __init__(self, nats_url: str | None = None, stream: str | None = None, durable_prefix: str | None = None):
        conf = settings.NATS
        self.bus = Bus(nats_url or conf["URL"], stream or conf["STREAM"], durable_prefix or conf["DURABLE_PREFIX"])
        self.loop = asyncio.new_event_loop()
        self.stopping = asyncio.Event()
        self.http: httpx.AsyncClient | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()
        self._consumers: list[asyncio.Task] = []
        self._started = threading.Event()
        self._finished: list[Journey] = []
        self._finished_lock = threading.Lock()
        self._flush_scheduled = False
        self.tracker = get_journey_tracker()

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop thread, connect (retrying in the background) and start the consumers."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run_loop, name="omni-runtime", daemon=True)
        self._thread.start()
        self._started.wait()
        self.call(self._start(), timeout=10)

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        self.loop.run_forever()

    async def _start(self) -> None:
        from messaging.consumers import OutboundDispatcher, PersistenceConsumer

        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), limits=httpx.Limits(max_connections=200))
        self.tracker.on_complete = self._journey_finished
        self.tracker.start_cleanup()
        self.spawn(self.bus.connect())
        persistence = PersistenceConsumer(self)
        self._consumers.append(self.loop.create_task(persistence.run(), name="persistence"))
        for channel, _label in _channel_types():
            dispatcher = OutboundDispatcher(self, channel)
            self._consumers.append(self.loop.create_task(dispatcher.run(), name=f"outbound-{channel}"))
        from channels_plugins.registry import start_connections

        self.spawn(start_connections(self))

    def stop(self, timeout_s: float = 15.0) -> None:
        """Drain and stop: no new fetches, in-flight batches and notifications finish, NATS drains."""
        if self._thread is None:
            return
        try:
            self.call(self._stop(timeout_s), timeout=timeout_s + 5)
        except Exception as exc:
            log.warning("runtime stop: %r", exc)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self._thread = None
        if not self.loop.is_running():
            self.loop.close()
        if self.tracker.on_complete == self._journey_finished:
            self.tracker.on_complete = None
        self.tracker.close()

    async def _stop(self, timeout_s: float) -> None:
        self.stopping.set()
        from channels_plugins.registry import stop_connections

        await stop_connections()
        if self._consumers:
            await asyncio.wait(self._consumers, timeout=timeout_s)
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _done, late = await asyncio.wait(pending, timeout=timeout_s)
            for task in late:
                task.cancel()
        await self.bus.close()
        if self.http is not None:
            await self.http.aclose()
        await self._close_worker_connections()
        await self.loop.shutdown_default_executor()
        for task in asyncio.all_tasks(self.loop):
            if task is not asyncio.current_task():
                task.cancel()

    async def _close_worker_connections(self) -> None:
        """Close the database connection each worker thread holds (they are thread-local, so each
        thread must close its own; the barrier puts one closing call on every thread)."""
        executor = getattr(self.loop, "_default_executor", None)
        threads = len(getattr(executor, "_threads", ()))
        if not threads:
            return
        barrier = threading.Barrier(threads, timeout=5)

        def close_here() -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
            connections.close_all()

        await asyncio.gather(*(self.loop.run_in_executor(None, close_here) for _ in range(threads)))

    @property
    def running(self) -> bool:
        return self._thread is not None and not self.stopping.is_set()

    # --- bridges from request threads and other loops ----------------------------------------------

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the runtime loop from another thread and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Start a background task on the runtime loop (call from the loop) that stop() waits for."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def publish(self, subject: str, event: Event) -> int:
        """Publish from any event loop; returns once JetStream has acknowledged. Raises BusUnavailable."""
        if _current_loop() is self.loop:
            return await self.bus.publish(subject, event)
        return await asyncio.wrap_future(self.submit(self.bus.publish(subject, event)))

    def publish_sync(self, subject: str, event: Event) -> int:
        """Publish from a request thread; returns once JetStream has acknowledged. Raises BusUnavailable."""
        future = self.submit(self.bus.publish(subject, event))
        try:
            return future.result(timeout=self.bus.publish_timeout_s + 1)
        except concurrent.futures.TimeoutError as exc:
            # The caller is told "not published": a publish still waiting for the loop must not go out later.
            future.cancel()
            raise BusUnavailable("NATS did not acknowledge in time") from exc

    # --- journey completion -> system.journey.complete -------------------------------------------

    def _journey_finished(self, journey: Journey) -> None:
        # Called by the tracker from whichever thread finished the journey, the loop's included.
        # Journeys queue up and one flush per loop iteration publishes them all: no task, no wake-up
        # of the loop per journey.
        with self._finished_lock:
            self._finished.append(journey)
            if self._flush_scheduled:
                return
            self._flush_scheduled = True
        self.loop.call_soon_threadsafe(self._flush_finished)

    def _flush_finished(self) -> None:
        with self._finished_lock:
            journeys, self._finished = self._finished, []
            self._flush_scheduled = False
        self.spawn(self._publish_journeys(journeys))

    async def _publish_journeys(self, journeys: list[Journey]) -> None:
        # Telemetry, not a message: published without waiting for JetStream's ack (the stream still
        # stores it), so completing a journey costs the pipeline no round trip.
        record_finished(journeys)
        for journey in journeys:
            metadata = EventMetadata(
                correlation_id=journey["correlationId"],
                instance_id=journey.get("instanceId"),
                channel_type=journey.get("channelType"),
                sampled=True,
            )
            await self.bus.publish_nowait(JOURNEY_COMPLETE, Event(JOURNEY_COMPLETE, journey, metadata))


def _channel_types() -> list[tuple[str, str]]:
    from messaging.models import CHANNEL_TYPES

    return CHANNEL_TYPES


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> Runtime | None:
    """The process's runtime, or None when this process does not serve (management commands)."""
    return _runtime


def start_runtime(**kwargs: Any) -> Runtime:
    """Start the process's runtime; a second call returns the running one."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            runtime = Runtime(**kwargs)
            runtime.start()
            _runtime = runtime
        return _runtime


def stop_runtime() -> None:
    global _runtime
    with _runtime_lock:
        runtime, _runtime = _runtime, None
    if runtime is not None:
        runtime.stop()


def require_runtime() -> Runtime:
    runtime = get_runtime()
    if runtime is None or not runtime.running:
        raise BusUnavailable("the runtime is not running in this process (start it with runserver or serve)")
    return runtime
