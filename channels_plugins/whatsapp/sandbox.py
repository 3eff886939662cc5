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
from typing import Any
from urllib.parse import urlencode

import httpx

from channels_plugins.sandbox_http import (
    Attempt,
    JsonHandler,
    Timers,
    WebhookSandbox,
    add_webhook_options,
    cli_parser,
    serve_until_interrupted,
    webhook_options,
)

SIGNATURE_HEADER = "X-Hub-Signature-256"
WABA_ID = "102290129340398"
SANDBOX_ACCESS_TOKEN = "sandbox-access-token"  # noqa: S105 (the sandbox's made-up access token)
_ROUTE = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<phone>[^/]+)/messages/?$")
_ERRORS = {
    429: (130429, "(#130429) Rate limit hit"),
    500: (131000, "Something went wrong"),
    400: (131026, "Message undeliverable"),
}


class WhatsAppSandbox(WebhookSandbox):
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
        http: httpx.Client | None = None,
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
        self._deliveries = Timers()
        super().__init__(_handler(self), host=host, port=port, name="whatsapp-sandbox", http=http)

    def stop(self) -> None:
        # A receipt already being posted ends before the client it is posted with is closed.
        self._deliveries.cancel(wait_s=5)
        super().stop()

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
            try:
                outcome: int | str = self.post(self.status_webhook(wamid, recipient)).status_code
            except httpx.HTTPError as exc:
                outcome = repr(exc)
            with self._lock:
                self.receipts.append((wamid, outcome))

        self._deliveries.call_later(self.deliver_after_ms / 1000, deliver)

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
        return self._request("POST", self.webhook_url, content=content, headers=headers)

    def emit(self, count: int = 1, *, text: str = "hello {n}", wa_id: str = "15551234567") -> list[httpx.Response]:
        """POST `count` text messages, one webhook each; returns the hub's answers."""
        return [self.post(self.message_webhook(text.format(n=n), wa_id=wa_id)) for n in range(1, count + 1)]

    def subscribe(self, challenge: str = "1158201444", verify_token: str | None = None) -> httpx.Response:
        """The verification GET Meta makes when the webhook is configured."""
        token = self.verify_token if verify_token is None else verify_token
        query = urlencode({"hub.mode": "subscribe", "hub.verify_token": token or "", "hub.challenge": challenge})
        return self._request("GET", f"{self.webhook_url}?{query}")


def _error(code: int, message: str, kind: str = "OAuthException") -> dict[str, Any]:
    trace = base64.b64encode(os.urandom(9)).decode()
    return {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": trace}}


def _handler(sandbox: WhatsAppSandbox) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_POST(self) -> None:
            try:
                body = json.loads(self.read_body() or b"{}")
            except ValueError:
                self._answer(400, _error(100, "(#100) The parameter messaging_product is required."))
                return
            self._answer(*sandbox.handle(self.path.partition("?")[0], self.headers.get("Authorization") or "", body))

        def _answer(self, status: int, answer: dict[str, Any]) -> None:
            retry_after = status == 429 and sandbox.retry_after_s is not None
            self.send_json(status, answer, {"Retry-After": f"{sandbox.retry_after_s:g}"} if retry_after else None)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = cli_parser(__doc__, port=8082)
    parser.add_argument("--access-token", default=SANDBOX_ACCESS_TOKEN, help="the instance's token")
    parser.add_argument("--phone-number-id", default="100000000000001", help="the instance's config.phoneNumberId")
    add_webhook_options(
        parser,
        instance_help="the hub's WhatsApp instance (needed for webhooks)",
        auth_help="the app secret the webhooks are signed with (the instance's webhookSecret)",
    )
    parser.add_argument("--deliver-after-ms", type=float, default=1000.0, help="delay of the delivered status")
    parser.add_argument("--emit", type=int, default=0, metavar="N", help="POST N messages, then keep serving")
    args = parser.parse_args(argv)
    sandbox = WhatsAppSandbox(
        access_token=args.access_token,
        phone_number_id=args.phone_number_id,
        app_secret=args.secret,
        deliver_after_ms=args.deliver_after_ms,
        **webhook_options(args),
    ).start()
    serve_until_interrupted(
        parser,
        sandbox,
        f"WhatsApp sandbox on {sandbox.url} (phone number id {args.phone_number_id})",
        emit=args.emit,
        label="message",
        emit_error=None if args.instance_id and args.secret else "--emit needs --instance-id and --secret",
    )


if __name__ == "__main__":
    main()
