"""Headless Chromium and the real hub the dashboard tests look at.

The browser: Debian's `/usr/bin/chromium` driven by Playwright's sync API (the Python package ships its driver;
no browser is ever downloaded). Without the background-networking flags Chromium keeps calling Google services,
which on a closed network means a flood of failing connections.

The hub: `manage.py serve` (uvicorn: the API, the dashboard pages and the `/ws/journeys/` WebSocket) on a
nats-server and a database of its own (tests/reliability/harness.py), a staff user in that database, the
Telegram Bot API sandbox on the platform side and a local agent that replies through
`POST /api/v2/messages/send`. Every journey the pages show comes from a real Update the sandbox POSTed to the
hub's webhook, through NATS, the database, the agent and sendMessage back to the sandbox.

Playwright's sync API keeps its event loop marked as running on the main thread while it is started, so
`asyncio.run` and async_to_sync fail there meanwhile: the fixtures that hold it (conftest.py) are module-scoped,
never session- or package-scoped, so that the other tests (asyncio scenarios among them) run after it stopped.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from channels_plugins.telegram.sandbox import TelegramSandbox
from tests.http_peers import JsonServer
from tests.reliability.harness import (
    API_KEY,
    ROOT,
    TG_SECRET,
    TG_TOKEN,
    ServeProcess,
    ServerDatabase,
    served,
    wait_until,
)

# --- the browser -------------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 15_000  # Playwright's default for every wait and action of these tests
SCREENSHOTS = ROOT / "docs" / "dashboard"


def require_chromium() -> None:
    """Skip (fail with REQUIRE_BROWSER=1, as in CI) when Debian's chromium is not installed."""
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} not found: apt-get install -y chromium chromium-driver (.ci/run does)"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def launch(playwright) -> Any:
    """A headless Chromium on the system binary."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def screenshots_wanted() -> bool:
    return os.environ.get("DASHBOARD_SCREENSHOTS") == "1"


def save_screenshot(page, name: str) -> Path:
    """A full-page PNG under docs/dashboard/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


# --- logging in (the two forms of /journeys/login/) -------------------------------------------------------


def open_login(page, base_url: str, next_path: str) -> None:
    url = f"{base_url}/journeys/login/?next={quote(next_path)}"
    response = page.goto(url)
    assert response is not None and response.ok, f"GET {url}: HTTP {response and response.status}"


def login_with_key(page, base_url: str, api_key: str = API_KEY, next_path: str = "/journeys/") -> None:
    """Log in through `form#login-key`; on success the browser lands on `next_path`."""
    open_login(page, base_url, next_path)
    page.fill("form#login-key input[name=api_key]", api_key)
    with page.expect_navigation():
        page.click("form#login-key button[type=submit]")


def login_with_user(page, base_url: str, username: str, password: str, next_path: str = "/journeys/") -> None:
    """Log in through `form#login-user` (a Django user)."""
    open_login(page, base_url, next_path)
    page.fill("form#login-user input[name=username]", username)
    page.fill("form#login-user input[name=password]", password)
    with page.expect_navigation():
        page.click("form#login-user button[type=submit]")


_DURATION = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*(µs|us|ms|s)\s*$")
_UNIT_MS = {"µs": 0.001, "us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_duration(text: str) -> tuple[float, float] | None:
    """A latency as the page prints it ("12.3 ms", "1.24 s", "850 µs") -> (ms, half its last digit in ms), the
    second being how far the shown figure may be from the exact one by rounding. None when it is no duration."""
    match = _DURATION.match(text)
    if match is None:
        return None
    number, unit = match[1].replace(",", "."), match[2]
    decimals = len(number.partition(".")[2])
    factor = _UNIT_MS[unit]
    return float(number) * factor, 0.5 * 10**-decimals * factor


# --- the hub -------------------------------------------------------------------------------------------

STAFF_USER = "dash-admin"
STAFF_PASSWORD = "dash-admin-password-0123"


class ReplyingAgent:
    """An agent on loopback: acknowledges each notification at once, then, after a think time, replies through
    `POST /api/v2/messages/send` naming the journey's correlationId (the explicit link, CONTRACT §4)."""

    def __init__(self, think_ms: tuple[float, float] = (40.0, 250.0), seed: int = 7) -> None:
        self.api_url = ""
        self.think_ms = think_ms
        self.notifications: list[dict[str, Any]] = []
        self.replies: dict[str, httpx.Response] = {}
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.server = JsonServer(self.on_notification)

    @property
    def url(self) -> str:
        return self.server.url

    def on_notification(self, path: str, body: dict[str, Any], headers: dict[str, str]):
        with self._lock:
            self.notifications.append(body)
            delay = self._random.uniform(*self.think_ms) / 1000
        threading.Thread(target=self.reply, args=(body, delay), daemon=True).start()
        return 200, {"accepted": True}

    def reply(self, notification: dict[str, Any], delay_s: float) -> None:
        time.sleep(delay_s)  # the agent "thinking": the external block of the waterfall
        request = {
            "instanceId": notification["instanceId"],
            "to": notification["chatId"],
            "text": f"re: {notification.get('text', '')}",
            "correlationId": notification["correlationId"],
        }
        response = httpx.post(
            f"{self.api_url}/api/v2/messages/send", json=request, headers={"X-API-Key": API_KEY}, timeout=15
        )
        with self._lock:
            self.replies[notification["correlationId"]] = response

    def __enter__(self) -> ReplyingAgent:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)


@dataclass
class Hub:
    """A served hub wired to the Telegram sandbox: `agent_instance` replies through the agent, `plain_instance`
    has no agent (its journeys complete at T4). `send()` is one Update from the sandbox to the webhook."""

    server: ServeProcess
    db: ServerDatabase
    sandbox: TelegramSandbox  # the platform of agent_instance
    plain_sandbox: TelegramSandbox  # the platform of plain_instance
    agent: ReplyingAgent
    agent_instance: str
    plain_instance: str
    seeded: dict[str, list[str]] = field(default_factory=dict)  # kind -> correlation ids, all completed
    _chats: Iterator[int] = field(default_factory=lambda: itertools.count(610001))

    @property
    def url(self) -> str:
        return self.server.url

    def send(self, text: str = "hello", *, agent: bool = True, with_date: bool = True) -> str:
        """POST one Telegram Update through the sandbox to the hub's webhook; returns the message's
        correlation id, read from the served database once the message is stored. Each message has a chat
        of its own, so nothing but the correlation id links replies. `with_date=False` omits `message.date`:
        the journey has no T0."""
        sandbox = self.sandbox if agent else self.plain_sandbox
        chat = next(self._chats)
        update = sandbox.update(text, chat_id=chat)
        if not with_date:
            del update["message"]["date"]
        response = sandbox.post(update)
        assert response.status_code == 200, response.text
        external = f"{chat}:{update['message']['message_id']}"
        stored = wait_until(lambda: self.db.message(external), 20, interval_s=0.05, what=f"{external} stored")
        return stored["correlationId"]

    def completed(self, correlation_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """The journey (GET /api/v2/journeys/<id>) once it is completed; fails on an abandoned one."""
        journey = self.server.journey_when(correlation_id, lambda j: j["status"] != "active", timeout_s)
        assert journey["status"] == "completed", journey
        return journey

    def journey(self, correlation_id: str) -> dict[str, Any]:
        journey = self.server.journey(correlation_id)
        assert journey is not None, f"journey {correlation_id} not found"
        return journey

    def summary(self, since: str = "1h") -> dict[str, Any]:
        response = self.server.api("GET", "journeys/summary", params={"since": since})
        assert response.status_code == 200, response.text
        return response.json()

    def seed(self, replied: int = 16, plain: int = 3, without_t0: int = 1) -> None:
        """Drive messages of each kind and wait until all their journeys completed."""
        kinds = {
            "replied": [self.send(f"hello {n}") for n in range(replied)],
            "no-agent": [self.send(f"note {n}", agent=False) for n in range(plain)],
            "no-t0": [self.send(f"undated {n}", with_date=False) for n in range(without_t0)],
        }
        for ids in kinds.values():
            for correlation_id in ids:
                self.completed(correlation_id)
        self.seeded = kinds


def create_staff_user(server: ServeProcess, username: str = STAFF_USER, password: str = STAFF_PASSWORD) -> None:
    """A superuser in the served database, through `createsuperuser --noinput` in the server's environment."""
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            username,
            "--email",
            "admin@example.com",
        ],
        cwd=ROOT,
        env={**server.env, "DJANGO_SUPERUSER_PASSWORD": password},
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"createsuperuser failed ({done.returncode}):\n{done.stdout}{done.stderr}"


@contextmanager
def running_hub(directory: Path, **extra_env: str) -> Iterator[Hub]:
    """Everything of `Hub` started, stopped on exit (the server, its NATS and database, sandboxes, agent)."""
    with ExitStack() as stack:
        server, db, _nats = stack.enter_context(served(directory, **extra_env))
        create_staff_user(server)
        agent = stack.enter_context(ReplyingAgent())
        agent.api_url = server.url
        # The platform answers sendMessage after a few ms, like a real one on a good day: a visible platformSend.
        sandbox = stack.enter_context(TelegramSandbox(token=TG_TOKEN, hub_url=server.url, secret=TG_SECRET))
        sandbox.latency_ms = 15.0
        plain_sandbox = stack.enter_context(TelegramSandbox(token=TG_TOKEN, hub_url=server.url, secret=TG_SECRET))
        agent_instance = server.create_instance("dashboard-agent", baseUrl=sandbox.url, agentUrl=agent.url)
        plain_instance = server.create_instance("dashboard-plain", baseUrl=plain_sandbox.url)
        sandbox.instance_id, plain_sandbox.instance_id = agent_instance, plain_instance
        yield Hub(server, db, sandbox, plain_sandbox, agent, agent_instance, plain_instance)
