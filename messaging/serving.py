"""Start and stop the runtime around a serving command, draining on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager

from messaging.runtime import start_runtime, stop_runtime

log = logging.getLogger(__name__)


@contextmanager
def serving_runtime():
    """The runtime for the duration of a serving command: started once, stopped (drained) on exit."""
    start_runtime()
    try:
        yield
    finally:
        log.info("draining the runtime")
        stop_runtime()


def sigterm_as_keyboard_interrupt() -> None:
    """Make SIGTERM take the same orderly exit as Ctrl-C (the dev server only handles the latter).

    Only possible in the main thread: under the autoreloader the server runs in a worker thread of the
    child process, and the durable consumers make an abrupt stop there safe (nothing acked is lost).
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
