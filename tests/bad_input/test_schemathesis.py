"""The API fuzzed from its own schema on a real server: no generated request gets a 5xx (issue 6).

A real `manage.py serve` process (uvicorn, ASGI) on its own SQLite database and its own nats-server, so
that `/messages/send` can really queue; schemathesis's CLI generates requests from docs/openapi.yaml (the
committed schema) with the API key, and the only check is `not_a_server_error`. The same server then takes
oversized bodies at Django's real default limit, and its own log output is searched for every secret.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.nats_server import NatsServer, free_port

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA = ROOT / "docs" / "openapi.yaml"
KEY = "schemathesis-api-key-0123456789"
TG_SECRET = "st-telegram-webhook-secret"
TG_TOKEN = "800001:AAH-schemathesis-bot-token"
WA_SECRET = "st-whatsapp-app-secret"
WA_VERIFY = "st-whatsapp-verify-token"
MAX_EXAMPLES = 30
SEED = 20261203
RUN_TIMEOUT_S = 420
ONE_MIB = 1024 * 1024

pytestmark = pytest.mark.e2e


def st_binary() -> str:
    beside = Path(sys.executable).parent / "st"
    found = str(beside) if beside.exists() else shutil.which("st")
    if not found:
        pytest.fail("schemathesis is not installed: pip install -r requirements-dev.txt")
    return found


class Served:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log
        self.client = httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`manage.py serve` on a migrated SQLite file and a nats-server of its own; its output in a file."""
    tmp = tmp_path_factory.mktemp("served")
    nats = NatsServer()
    nats.start()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'served.sqlite3'}",
        "NATS_URL": nats.url,
        "NATS_DURABLE_PREFIX": "schemathesis",
        "OMNI_API_KEY": KEY,
        "SECRET_KEY": "s" * 50,
        "DEBUG": "false",
        "LOG_LEVEL": "DEBUG",  # the most a deployment would log: secrets must not be in it either
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    port = free_port()
    log = tmp / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            # uvicorn's own level stays at serve's default (warning): at info its access log would record
            # query strings, and Meta sends hub.verify_token in one.
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/v2/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"serve did not become healthy:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield Served(url, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        nats.close()


def create_instances(served: Served) -> None:
    """Instances for the fuzzer to find (list, retrieve) and for the webhooks below to refuse requests to."""
    whatsapp_config = {"verifyToken": WA_VERIFY, "phoneNumberId": "1065"}
    for body in (
        {"name": "tg", "channelType": "telegram", "token": TG_TOKEN, "webhookSecret": TG_SECRET},
        {
            "name": "wa",
            "channelType": "whatsapp",
            "token": "EAAG-st",
            "webhookSecret": WA_SECRET,
            "config": whatsapp_config,
        },
    ):
        response = served.client.post("/api/v2/instances", json=body)
        assert response.status_code == 201, response.text


def test_no_generated_request_gets_a_server_error(served, tmp_path):
    create_instances(served)
    command = [
        st_binary(), "run", str(SCHEMA),
        "--url", served.url,
        "--header", f"X-API-Key: {KEY}",
        "--checks", "not_a_server_error",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--phases", "examples,coverage,fuzzing",
        "--request-timeout", "30",
        "--workers", "1",
        "--report", "junit",
        "--report-dir", str(tmp_path),
        "--no-color",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"schemathesis found failures:\n{output[-12000:]}"
    # It really exercised the API: every operation of the schema ran and every generated case passed.
    selected, total = map(int, re.search(r"Selected: (\d+)/(\d+)", output).groups())
    tested = int(re.search(r"Tested: (\d+)", output).group(1))
    generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", output).groups())
    assert selected == total == tested >= 12, output[-4000:]
    assert generated == passed >= tested * 10, output[-4000:]
    # Nothing failed behind the answers either (the consumers, the dispatcher, the plugins' connections).
    log = served.log.read_text(errors="replace")
    assert "Traceback" not in log and " ERROR " not in log, log[-6000:]


def test_oversized_bodies_get_413_at_the_real_default_limit(served):
    create_instances(served)
    instance_id = served.client.get("/api/v2/instances").json()[0]["id"]
    big = b'{"instanceId": "%s", "to": "1", "text": "' % instance_id.encode() + b"x" * ONE_MIB + b'"}'
    for path in ("/api/v2/messages/send", "/api/v2/instances"):
        response = served.client.post(path, content=big, headers={"Content-Type": "application/json"})
        assert response.status_code == 413, (path, response.status_code, response.text[:300])
        assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    # A chunked body declares no length: the webhook measures what it read.
    response = httpx.post(
        f"{served.url}/api/v2/webhooks/whatsapp/{instance_id}",
        content=iter([big[:ONE_MIB], big[ONE_MIB:]]),
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64},
        timeout=30,
    )
    assert response.status_code in (404, 413), response.text[:300]  # 404 when instance_id is the Telegram one


def test_the_server_log_holds_no_secret_after_refused_requests(served):
    create_instances(served)
    instances = {i["channelType"]: i["id"] for i in served.client.get("/api/v2/instances").json()}
    tg, wa = instances["telegram"], instances["whatsapp"]
    body = b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "date": 1733200000}}'
    json_type = {"Content-Type": "application/json"}
    httpx.get(f"{served.url}/api/v2/journeys", headers={"X-API-Key": KEY + "-wrong"})
    wrong_secret = {**json_type, "X-Telegram-Bot-Api-Secret-Token": TG_SECRET + "x"}
    httpx.post(f"{served.url}/api/v2/webhooks/telegram/{tg}", content=body, headers=wrong_secret)
    wrong_signature = {**json_type, "X-Hub-Signature-256": "sha256=" + "1" * 64}
    httpx.post(f"{served.url}/api/v2/webhooks/whatsapp/{wa}", content=body, headers=wrong_signature)
    verification = {"hub.mode": "subscribe", "hub.verify_token": WA_VERIFY, "hub.challenge": "1"}
    httpx.get(f"{served.url}/api/v2/webhooks/whatsapp/{wa}", params=verification)
    # A send the platform never receives: the real api.telegram.org is unreachable here, or refuses the token.
    served.client.post("/api/v2/messages/send", json={"instanceId": tg, "to": "1", "text": "x"})
    time.sleep(2)
    log = served.log.read_text(errors="replace")
    assert "WARNING" in log or "INFO" in log, "the server logged nothing: the check below would be vacuous"
    for secret in (KEY, TG_SECRET, TG_TOKEN, WA_SECRET, WA_VERIFY, TG_TOKEN.split(":")[1]):
        assert secret not in log, f"{secret!r} appears in the server's log"
