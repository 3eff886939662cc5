"""`manage.py serve` as a real process: it starts the runtime, reports health, drains on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.nats_server import free_port

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path, nats_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        NATS_URL=nats_url,
        OMNI_API_KEY="serve-key",
        SECRET_KEY="x" * 50,
        DEBUG="false",
        NATS_DURABLE_PREFIX="serve-test",
    )
    return env


def test_serve_runs_the_runtime_reports_health_and_exits_cleanly_on_sigterm(tmp_path, nats_server):
    env = _env(tmp_path, nats_server.url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        health = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v2/health", timeout=1)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert health is not None and health.status_code == 200, health and health.text
        body = health.json()
        assert body["nats"]["ok"] and body["database"]["ok"] and body["runtime"]["running"]
        assert httpx.get(f"http://127.0.0.1:{port}/api/v2/journeys/summary").status_code == 401
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output.decode()
    assert b"stopped" in output


def _wait_healthy(port: int, timeout_s: float = 30) -> httpx.Response | None:
    health = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/api/v2/health", timeout=1)
            if health.status_code == 200:
                return health
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return health


@pytest.mark.parametrize("reload", [True, False], ids=["autoreloader", "noreload"])
def test_runserver_starts_the_runtime_in_the_serving_process(tmp_path, nats_server, reload):
    env = {**_env(tmp_path, nats_server.url), "DEBUG": "true"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    args = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", *([] if reload else ["--noreload"])]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        health = _wait_healthy(port)
        assert health is not None and health.status_code == 200, health and health.text
        assert health.json()["runtime"]["running"] and health.json()["nats"]["ok"]
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert b"Traceback" not in output, output.decode()


def test_serve_refuses_to_start_without_secret_key_when_debug_is_off(tmp_path):
    env = _env(tmp_path, "nats://127.0.0.1:1")
    del env["SECRET_KEY"]
    result = subprocess.run([sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert result.returncode != 0
    assert b"SECRET_KEY" in result.stderr


@pytest.mark.parametrize("command", [["check"], ["showmigrations", "messaging"]])
def test_other_commands_do_not_start_the_runtime(tmp_path, command):
    # NATS_URL points nowhere: a command that tried to connect would log the retry or hang.
    env = _env(tmp_path, "nats://127.0.0.1:1")
    result = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert b"NATS" not in result.stderr
