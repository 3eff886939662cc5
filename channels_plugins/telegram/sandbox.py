"""A local stand-in for the Telegram Bot API, for tests, demos and the baseline.

It answers `sendMessage` (and `getMe`) at `/bot<token>/<method>` the way the Bot API does, with a
configurable latency and failure rate (429 with `parameters.retry_after`, or 500), and it emits
inbound Updates by POSTing them to the hub's webhook with the secret token header.

    python -m channels_plugins.telegram.sandbox --port 8081 --hub-url http://127.0.0.1:8000 \\
        --instance-id <id> --secret <webhook secret> --emit 3

From Python: `with TelegramSandbox(hub_url=..., instance_id=..., secret=...) as sandbox: sandbox.emit(3)`;
`sandbox.url` is the instance's `baseUrl`, `sandbox.sends` the accepted sendMessage bodies.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qsl

import httpx

from channels_plugins.sandbox_http import (
    Attempt,
    JsonHandler,
    WebhookSandbox,
    add_webhook_options,
    cli_parser,
    serve_until_interrupted,
    webhook_options,
)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 (the sandbox's made-up bot token)
_ROUTE = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)/?$")


class TelegramSandbox(WebhookSandbox):
    """A Bot API server on loopback, run in a background thread by `start()` / `stop()`."""

    def __init__(
        self,
        *,
        token: str = SANDBOX_TOKEN,
        hub_url: str | None = None,
        instance_id: str | None = None,
        secret: str | None = None,
        latency_ms: float = 0.0,
        failure_rate: float = 0.0,
        failure_statuses: tuple[int, ...] = (429, 500),
        retry_after_s: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.token = token
        self.hub_url = hub_url
        self.instance_id = instance_id
        self.secret = secret
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self.failure_statuses = failure_statuses
        self.retry_after_s = retry_after_s
        self.blocked_chats: set[str] = set()
        self.sends: list[dict[str, Any]] = []  # accepted sendMessage requests
        self.attempts: list[Attempt] = []  # every sendMessage call, failed ones included
        self._forced: deque[int] = deque()
        self._random = random.Random(seed)
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(int(time.time()) % 1_000_000 * 1000)
        self._lock = threading.Lock()
        # socketserver's default listen backlog is 5: a hub sending 50 replies at once would see its
        # connections dropped and retried by TCP after a second, timing the sandbox instead of the hub.
        super().__init__(_handler(self), host=host, port=port, name="telegram-sandbox", backlog=1024, http=http)

    def fail_next(self, status: int, count: int = 1) -> None:
        """Answer the next `count` sendMessage calls with this error status (429, 403, 500...)."""
        with self._lock:
            self._forced.extend([status] * count)

    # --- the Bot API side ----------------------------------------------------------------------------

    def handle(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        route = _ROUTE.match(path)
        if route is None:
            return 404, _error(404, "Not Found")
        if route["token"] != self.token:
            return 401, _error(401, "Unauthorized")
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if route["method"] == "getMe":
            return 200, {"ok": True, "result": _BOT}
        if route["method"] != "sendMessage":
            return 404, _error(404, "Not Found: method not found")
        status, answer = self._send_message(body)
        with self._lock:
            self.attempts.append(Attempt(status, path, body, time.time()))
            if status == 200:
                self.sends.append(body)
        return status, answer

    def _send_message(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id, text = body.get("chat_id"), body.get("text")
        if chat_id in (None, ""):
            return 400, _error(400, "Bad Request: chat_id is empty")
        if not text:
            return 400, _error(400, "Bad Request: message text is empty")
        with self._lock:
            forced = self._forced.popleft() if self._forced else None
            if forced is None and self.failure_rate and self._random.random() < self.failure_rate:
                forced = self._random.choice(self.failure_statuses)
        if str(chat_id) in self.blocked_chats:
            forced = 403
        if forced == 429:
            answer = _error(429, f"Too Many Requests: retry after {self.retry_after_s}")
            return 429, {**answer, "parameters": {"retry_after": self.retry_after_s}}
        if forced == 403:
            return 403, _error(403, "Forbidden: bot was blocked by the user")
        if forced is not None:
            return forced, _error(forced, "Internal Server Error" if forced >= 500 else "Bad Request")
        result = {
            "message_id": next(self._ids),
            "from": _BOT,
            "chat": {"id": _chat_id(chat_id), "type": "private"},
            "date": int(time.time()),
            "text": str(text),
        }
        return 200, {"ok": True, "result": result}

    # --- the inbound side: Updates POSTed to the hub -------------------------------------------------

    @property
    def webhook_url(self) -> str:
        if not (self.hub_url and self.instance_id):
            raise ValueError("the sandbox needs hub_url and instance_id to emit updates")
        return f"{self.hub_url.rstrip('/')}/api/v2/webhooks/telegram/{self.instance_id}"

    def update(
        self, text: str = "hello", *, chat_id: int = 424242, update_type: str = "message", date: Any = None
    ) -> dict[str, Any]:
        """One Update as Telegram sends it (`date` defaults to now, in seconds)."""
        message_id = next(self._ids)
        now = int(time.time())
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": now if date is None else date,
            "chat": {"id": chat_id, "type": "channel" if update_type == "channel_post" else "private"},
            "text": text,
        }
        if update_type == "channel_post":
            message["chat"]["title"] = "Sandbox channel"
        else:
            message["from"] = {"id": chat_id, "is_bot": False, "first_name": "Sandy", "username": "sandy"}
            message["chat"].update(first_name="Sandy", username="sandy")
        if update_type == "edited_message":
            message["edit_date"] = now
        return {"update_id": next(self._update_ids), update_type: message}

    def post(self, update: Any, *, secret: str | None = None, raw: bytes | None = None) -> httpx.Response:
        """POST one Update (or `raw` bytes) to the hub's webhook with the secret token header."""
        headers = {"Content-Type": "application/json"}
        token = self.secret if secret is None else secret
        if token:
            headers[SECRET_HEADER] = token
        content = raw if raw is not None else json.dumps(update).encode()
        return self._request("POST", self.webhook_url, content=content, headers=headers)

    def emit(self, count: int = 1, *, text: str = "hello {n}", chat_id: int = 424242) -> list[httpx.Response]:
        """POST `count` text messages, one Update each; returns the hub's answers."""
        return [self.post(self.update(text.format(n=n), chat_id=chat_id)) for n in range(1, count + 1)]


_BOT = {"id": 700000001, "is_bot": True, "first_name": "Sandbox", "username": "omni_sandbox_bot"}


def _error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


def _chat_id(value: Any) -> int | str:
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)  # "@channelusername"


def _handler(sandbox: TelegramSandbox) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_POST(self) -> None:
            raw = self.read_body()
            # The Bot API takes JSON, form fields or query parameters alike.
            body: dict[str, Any] = dict(parse_qsl(self.path.partition("?")[2]))
            try:
                if "json" in (self.headers.get("Content-Type") or ""):
                    body.update(json.loads(raw or b"{}"))
                else:
                    body.update(parse_qsl(raw.decode()))
            except (ValueError, TypeError):
                self._answer(400, _error(400, "Bad Request: can't parse JSON object"))
                return
            self._answer(*sandbox.handle(self.path.partition("?")[0], body))

        do_GET = do_POST

        def _answer(self, status: int, answer: dict[str, Any]) -> None:
            self.send_json(status, answer, {"Retry-After": str(sandbox.retry_after_s)} if status == 429 else None)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = cli_parser(__doc__, port=8081)
    parser.add_argument("--token", default=SANDBOX_TOKEN, help="the bot token the hub's instance uses")
    add_webhook_options(
        parser,
        instance_help="the hub's Telegram instance (needed for --emit)",
        auth_help="the instance's webhook secret token",
    )
    parser.add_argument("--retry-after", type=int, default=1, help="seconds, in 429 answers")
    parser.add_argument("--emit", type=int, default=0, metavar="N", help="POST N updates to the hub, then keep serving")
    args = parser.parse_args(argv)
    options = webhook_options(args)
    sandbox = TelegramSandbox(token=args.token, secret=args.secret, retry_after_s=args.retry_after, **options).start()
    serve_until_interrupted(
        parser,
        sandbox,
        f"Telegram sandbox on {sandbox.url} (token {args.token!r})",
        emit=args.emit,
        label="update",
        emit_error=None if args.instance_id else "--emit needs --instance-id",
    )


if __name__ == "__main__":
    main()
