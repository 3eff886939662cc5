"""A local stand-in for the WhatsApp Cloud API (Graph API), for tests, demos and the baseline.

It answers `POST /{version}/{phone_number_id}/messages` the way the Cloud API does, with a configurable
latency and failure rate (429 rate limit or 500), POSTs a signed `delivered` status webhook to the hub
for every accepted message after `deliver_after_ms`, and emits inbound message webhooks, signed with
the app secret (`X-Hub-Signature-256`), to the hub's webhook URL.

    python -m channels_plugins.whatsapp.sandbox --port 8082 --hub-url http://127.0.0.1:8000 \\
        --instance-id <id> --secret <app secret> --emit 3

From Python: `with WhatsAppSandbox(hub_url=..., instance_id=..., app_secret=...) as sandbox: sandbox.emit(3)`;
`sandbox.url` is the instance's `baseUrl`, `sandbox.sends` the accepted send bodies, `sandbox.receipts`
the delivered statuses it posted and the hub's answer to each.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import urlencode

import httpx

SIGNATURE_HEADER = "X-Hub-Signature-256"
WABA_ID = "102290129340398"
SANDBOX_ACCESS_TOKEN = "sandbox-access-token"  # noqa: S105 (the sandbox's made-up access token)
_ROUTE = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<phone>[^/]+)/messages/?$")
_ERRORS = {
    429: (130429, "(#130429) Rate limit hit"),
    500: (131000, "Something went wrong"),
    400: (131026, "Message undeliverable"),
}


class Attempt(NamedTuple):
    """One send call the sandbox answered."""

    status: int
    path: str
    body: dict[str, Any]
    at: float  # epoch seconds


class WhatsAppSandbox:
    """A Cloud API server on loopback, run in a background thread by `start()` / `stop()`."""

    def __init__(
        self,
        *,
        access_token: str = SANDBOX_ACCESS_TOKEN,
        phone_number_id: str = "100000000000001",
        hub_url: str | None = None,
        instance_id: str | None = None,
        app_secret: str | None = None,
        verify_token: str | None = None,
        latency_ms: float = 0.0,
        failure_rate: float = 0.0,
        failure_statuses: tuple[int, ...] = (429, 500),
        retry_after_s: float | None = None,
        deliver_after_ms: float | None = 1000.0,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
    ) -> None:
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.hub_url = hub_url
        self.instance_id = instance_id
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self.failure_statuses = failure_statuses
        self.retry_after_s = retry_after_s
        # None: post no delivery receipts. A second or more keeps T12 (whole seconds) after T11.
        self.deliver_after_ms = deliver_after_ms
        self.undeliverable: set[str] = set()  # recipients answered 400 (#131026)
        self.sends: list[dict[str, Any]] = []  # accepted send bodies, with their "wamid"
        self.attempts: list[Attempt] = []  # every send call, failed ones included
        self.receipts: list[tuple[str, int | str]] = []  # (wamid, the hub's status or the error)
        self._forced: deque[int] = deque()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> WhatsAppSandbox:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="whatsapp-sandbox", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> WhatsAppSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, status: int, count: int = 1) -> None:
        """Answer the next `count` sends with this error status (429, 500, 400 undeliverable...)."""
        with self._lock:
            self._forced.extend([status] * count)

    # --- the Graph API side -----------------------------------------------------------------------

    def handle(self, path: str, authorization: str, body: Any) -> tuple[int, dict[str, Any]]:
        route = _ROUTE.match(path)
        if route is None:
            return 404, _error(100, "Unknown path components", "OAuthException")
        if authorization != f"Bearer {self.access_token}":
            return 401, _error(190, "Invalid OAuth access token - Cannot parse access token", "OAuthException")
        if route["phone"] != self.phone_number_id:
            return 400, _error(100, f"Unsupported post request. Object with ID '{route['phone']}' does not exist")
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        body = body if isinstance(body, dict) else {}
        status, answer = self._send(body)
        with self._lock:
            self.attempts.append(Attempt(status, path, body, time.time()))
            if status == 200:
                self.sends.append({**body, "wamid": answer["messages"][0]["id"]})
        return status, answer

    def _send(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        to, content = body.get("to"), body.get("text")
        text = content.get("body") if isinstance(content, dict) else None
        if body.get("messaging_product") != "whatsapp" or not to or body.get("type") != "text" or not text:
            return 400, _error(100, "(#100) Invalid parameter")
        with self._lock:
            forced = self._forced.popleft() if self._forced else None
            if forced is None and self.failure_rate and self._random.random() < self.failure_rate:
                forced = self._random.choice(self.failure_statuses)
        if str(to) in self.undeliverable:
            forced = 400
        if forced is not None:
            code, message = _ERRORS.get(forced, (131000, "Something went wrong"))
            return forced, _error(code, message)
        wamid = "wamid." + base64.b64encode(os.urandom(27)).decode()
        self._schedule_delivery(wamid, str(to))
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": str(to), "wa_id": str(to)}],
            "messages": [{"id": wamid}],
        }

    def _schedule_delivery(self, wamid: str, recipient: str) -> None:
        if self.deliver_after_ms is None or not (self.hub_url and self.instance_id):
            return

        def deliver() -> None:
            with self._lock:
                self._timers.discard(timer)
            try:
                outcome: int | str = self.post(self.status_webhook(wamid, recipient)).status_code
            except httpx.HTTPError as exc:
                outcome = repr(exc)
            with self._lock:
                self.receipts.append((wamid, outcome))

        timer = threading.Timer(self.deliver_after_ms / 1000, deliver)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    # --- the webhook side: what Meta POSTs to the hub -------------------------------------------------

    @property
    def webhook_url(self) -> str:
        if not (self.hub_url and self.instance_id):
            raise ValueError("the sandbox needs hub_url and instance_id to post webhooks")
        return f"{self.hub_url.rstrip('/')}/api/v2/webhooks/whatsapp/{self.instance_id}"

    def _webhook(self, value: dict[str, Any]) -> dict[str, Any]:
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": self.phone_number_id},
            **value,
        }
        change = {"value": value, "field": "messages"}
        return {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [change]}]}

    def message_webhook(
        self, text: str = "hello", *, wa_id: str = "15551234567", kind: str = "text", timestamp: Any = None
    ) -> dict[str, Any]:
        """A webhook with one inbound message (`timestamp` defaults to now, string seconds)."""
        message: dict[str, Any] = {
            "from": wa_id,
            "id": "wamid." + base64.b64encode(os.urandom(27)).decode(),
            "timestamp": str(int(time.time())) if timestamp is None else timestamp,
            "type": kind,
        }
        if kind == "text":
            message["text"] = {"body": text}
        else:
            message[kind] = {"id": str(random.randint(10**14, 10**15)), "mime_type": "application/octet-stream"}
        contacts = [{"profile": {"name": "Sandy"}, "wa_id": wa_id}]
        return self._webhook({"contacts": contacts, "messages": [message]})

    def status_webhook(
        self, wamid: str, recipient: str, *, status: str = "delivered", timestamp: Any = None
    ) -> dict[str, Any]:
        """A webhook with one status of a message we sent (`timestamp` defaults to now, string seconds)."""
        entry = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())) if timestamp is None else timestamp,
            "recipient_id": recipient,
            "conversation": {"id": "CONVERSATION_ID", "origin": {"type": "service"}},
            "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"},
        }
        return self._webhook({"statuses": [entry]})

    def sign(self, raw: bytes, secret: str | None = None) -> str:
        key = (self.app_secret if secret is None else secret) or ""
        return "sha256=" + hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()

    def post(
        self, payload: Any, *, secret: str | None = None, signature: str | None = None, raw: bytes | None = None
    ) -> httpx.Response:
        """POST a webhook (or `raw` bytes) to the hub, signed with the app secret unless `signature` is given."""
        content = raw if raw is not None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature or self.sign(content, secret)}
        return httpx.post(self.webhook_url, content=content, headers=headers, timeout=30)

    def emit(self, count: int = 1, *, text: str = "hello {n}", wa_id: str = "15551234567") -> list[httpx.Response]:
        """POST `count` text messages, one webhook each; returns the hub's answers."""
        return [self.post(self.message_webhook(text.format(n=n), wa_id=wa_id)) for n in range(1, count + 1)]

    def subscribe(self, challenge: str = "1158201444", verify_token: str | None = None) -> httpx.Response:
        """The verification GET Meta makes when the webhook is configured."""
        token = self.verify_token if verify_token is None else verify_token
        query = urlencode({"hub.mode": "subscribe", "hub.verify_token": token or "", "hub.challenge": challenge})
        return httpx.get(f"{self.webhook_url}?{query}", timeout=30)


def _error(code: int, message: str, kind: str = "OAuthException") -> dict[str, Any]:
    trace = base64.b64encode(os.urandom(9)).decode()
    return {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": trace}}


def _handler(sandbox: WhatsAppSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._answer(400, _error(100, "(#100) The parameter messaging_product is required."))
                return
            self._answer(*sandbox.handle(self.path.partition("?")[0], self.headers.get("Authorization") or "", body))

        def _answer(self, status: int, answer: dict[str, Any]) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429 and sandbox.retry_after_s is not None:
                self.send_header("Retry-After", f"{sandbox.retry_after_s:g}")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--access-token", default=SANDBOX_ACCESS_TOKEN, help="the instance's token")
    parser.add_argument("--phone-number-id", default="100000000000001", help="the instance's config.phoneNumberId")
    parser.add_argument("--hub-url", default="http://127.0.0.1:8000")
    parser.add_argument("--instance-id", help="the hub's WhatsApp instance (needed for webhooks)")
    parser.add_argument("--secret", help="the app secret the webhooks are signed with (the instance's webhookSecret)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--failure-rate", type=float, default=0.0, help="fraction of sends answered 429 or 500")
    parser.add_argument("--deliver-after-ms", type=float, default=1000.0, help="delay of the delivered status")
    parser.add_argument("--emit", type=int, default=0, metavar="N", help="POST N messages, then keep serving")
    args = parser.parse_args(argv)
    sandbox = WhatsAppSandbox(
        access_token=args.access_token,
        phone_number_id=args.phone_number_id,
        hub_url=args.hub_url,
        instance_id=args.instance_id,
        app_secret=args.secret,
        latency_ms=args.latency_ms,
        failure_rate=args.failure_rate,
        deliver_after_ms=args.deliver_after_ms,
        host=args.host,
        port=args.port,
    ).start()
    print(f"WhatsApp sandbox on {sandbox.url} (phone number id {args.phone_number_id})", flush=True)
    try:
        if args.emit:
            if not (args.instance_id and args.secret):
                parser.error("--emit needs --instance-id and --secret")
            for n, response in enumerate(sandbox.emit(args.emit), start=1):
                print(f"message {n}: {response.status_code} {response.text}", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
