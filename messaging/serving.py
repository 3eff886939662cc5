"""Start and stop the runtime around a serving command, draining on SIGTERM/SIGINT; the ASGI server both use."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager

import uvicorn

from messaging.runtime import start_runtime, stop_runtime

log = logging.getLogger(__name__)

ASGI_APP = "omni_project.asgi:application"


@contextmanager
def serving_runtime():
    """The runtime for the duration of a serving command: started once, stopped (drained) on exit."""
    start_runtime()
    try:
        yield
    finally:
        log.info("draining the runtime")
        stop_runtime()


def run_asgi_server(host: str, port: int, *, log_level: str = "warning") -> bool:
    """Serve HTTP and WebSockets (the dashboard's live feed) with uvicorn until SIGTERM/SIGINT.

    Returns whether the server started (False: the port could not be bound). In the main thread uvicorn
    handles SIGTERM/SIGINT gracefully (stop accepting, finish requests), then re-raises the signal through
    the handler that was there before; a no-op one lets the caller drain the runtime and exit 0. Elsewhere
    (under the autoreloader) signals belong to the main thread and uvicorn leaves them alone.
    """
    config = uvicorn.Config(
        ASGI_APP, host=host, port=port, log_level=log_level, lifespan="off", timeout_graceful_shutdown=10
    )
    server = uvicorn.Server(config)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: None)
    server.run()
    return server.started
