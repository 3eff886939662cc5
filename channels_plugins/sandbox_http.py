"""The HTTP plumbing the platform sandboxes (`channels_plugins/<platform>/sandbox.py`) have in common.

Each sandbox plays a real platform API on loopback: an HTTP server on a background thread that answers
JSON, and for Telegram and WhatsApp a client that POSTs webhooks to the hub, plus a small command line.
The wire formats stay in each platform's module; this one holds only what the three would otherwise each
repeat, so that a fix to how they serve, answer, post or stop is made once. The simulated agent of
`channels_plugins/simulation.py` serves and schedules its replies the same way, with the same pieces.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Self

import httpx


class Attempt(NamedTuple):
    """One send call a sandbox answered."""

    status: int
    path: str
    body: dict[str, Any]
    at: float  # epoch seconds


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that answers JSON and logs nothing: the sandboxes run inside tests and demos."""

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, answer: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class ServerThread:
    """A `ThreadingHTTPServer` bound at once (port 0: a free one), served on a daemon thread between
    `start()` and `stop()`."""

    def __init__(
        self, host: str, port: int, handler: type[BaseHTTPRequestHandler], *, name: str, backlog: int | None = None
    ) -> None:
        self.name = name
        # The backlog is read when the socket starts listening, so it has to be set between bind and listen.
        self._server = ThreadingHTTPServer((host, port), handler, bind_and_activate=False)
        self._server.daemon_threads = True
        if backlog is not None:
            self._server.request_queue_size = backlog
        try:
            self._server.server_bind()
            self._server.server_activate()
        except BaseException:
            self._server.server_close()
            raise
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


class Timers:
    """Calls run later on daemon threads, which `cancel()` calls off if they have not begun."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: set[threading.Timer] = set()

    def call_later(self, delay_s: float, call: Callable[[], object]) -> None:
        def run() -> None:
            try:
                call()
            finally:
                with self._lock:
                    self._pending.discard(timer)

        timer = threading.Timer(delay_s, run)
        timer.daemon = True
        with self._lock:  # started under the lock, so that `cancel()` never joins a thread not yet begun
            self._pending.add(timer)
            timer.start()

    def cancel(self, wait_s: float = 0.0) -> None:
        """Call off what has not begun; with `wait_s`, give each call already running that long to end."""
        with self._lock:
            timers, self._pending = self._pending, set()
        for timer in timers:
            timer.cancel()
        if wait_s:
            for timer in timers:
                timer.join(wait_s)


class WebhookSandbox:
    """The part of a sandbox that is no platform's: its API server on loopback and the client it POSTs
    webhooks to the hub with. The client is one per sandbox, so that its connections are reused: building
    one (its SSL context) costs tens of milliseconds of CPU, which under load would show up as the hub's
    latency. It is made on first use, as many sandboxes never post, and closed by `stop()`; a client
    passed in as `http` (shared by several sandboxes) is its owner's to close."""

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        *,
        host: str,
        port: int,
        name: str,
        backlog: int | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._server = ServerThread(host, port, handler, name=name, backlog=backlog)
        self._http = http
        self._owns_http = http is None
        self._http_lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        if self._owns_http:
            with self._http_lock:
                http, self._http = self._http, None
            if http is not None:
                http.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def emit(self, count: int = 1) -> list[httpx.Response]:
        """POST `count` inbound text messages to the hub; returns its answers."""
        raise NotImplementedError

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        with self._http_lock:
            if self._http is None:
                self._http = httpx.Client(timeout=30)
            http = self._http
        return http.request(method, url, **kwargs)


# --- the command line ---------------------------------------------------------------------------------------


def cli_parser(doc: str, *, port: int, port_help: str | None = None) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of the sandbox's docstring, with `--host` and `--port`."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port, help=port_help)
    return parser


def add_webhook_options(parser: argparse.ArgumentParser, *, instance_help: str, auth_help: str) -> None:
    """The options of a sandbox that POSTs webhooks, in the keywords `webhook_options(args)` passes on."""
    parser.add_argument("--hub-url", default="http://127.0.0.1:8000")
    parser.add_argument("--instance-id", help=instance_help)
    parser.add_argument("--secret", help=auth_help)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--failure-rate", type=float, default=0.0, help="fraction of sends answered 429 or 500")


def webhook_options(args: argparse.Namespace) -> dict[str, Any]:
    """The sandbox's keywords for what `cli_parser` and `add_webhook_options` asked (the secret aside: its
    keyword is the platform's)."""
    return {
        "hub_url": args.hub_url,
        "instance_id": args.instance_id,
        "latency_ms": args.latency_ms,
        "failure_rate": args.failure_rate,
        "host": args.host,
        "port": args.port,
    }


def serve_until_interrupted(
    parser: argparse.ArgumentParser,
    sandbox: WebhookSandbox,
    banner: str,
    *,
    emit: int,
    label: str,
    emit_error: str | None,
) -> None:
    """Print `banner`, POST `emit` messages (each answer printed as `<label> <n>`; `emit_error`, if any,
    refuses them), then serve until Ctrl-C and stop the sandbox."""
    print(banner, flush=True)
    try:
        if emit:
            if emit_error:
                parser.error(emit_error)
            for n, response in enumerate(sandbox.emit(emit), start=1):
                print(f"{label} {n}: {response.status_code} {response.text}", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
