"""`make demo`: the hub on 127.0.0.1:8000 wired to local Telegram, WhatsApp and Discord sandboxes and a
simulated agent, with a message every 2 s (round-robin across the platforms) so that journeys appear.

Like `make run`: the SQLite database (migrated) unless DATABASE_URL says otherwise, a local nats-server
when NATS_URL does not answer, DEBUG on, and the development API key in var/dev-api-key. It prints the
URLs and a `manage.py journey show <id>` to try, and runs until Ctrl-C (or SIGTERM), then stops the
traffic, deletes its instances, and stops the sandboxes, the agent, the server and the nats-server it
started. The driving code is the baseline's (channels_plugins/simulation.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dev_run import dev_api_key  # noqa: E402  (scripts/dev_run.py, beside this file: the same key as `make run`)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--every-s", type=float, default=2.0, help="seconds between messages (default 2)")
    parser.add_argument("--think-ms", type=float, default=300.0, help="the agent's think time (default 300)")
    parser.add_argument(
        "--platform-latency-ms", type=float, default=40.0, help="the sandboxes' send API latency (default 40)"
    )
    args = parser.parse_args(argv)

    (ROOT / "var").mkdir(exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni_project.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the URLs and the status lines, not every request
    if not os.environ.get("OMNI_API_KEY"):
        os.environ["OMNI_API_KEY"] = dev_api_key()
    api_key = os.environ["OMNI_API_KEY"]

    import django

    django.setup()
    from django.core.management import call_command
    from django.urls import Resolver404, resolve

    from channels_plugins.simulation import HubProcess, Simulation, SimulationConfig, SimulationError

    logging.getLogger("websockets").setLevel(logging.WARNING)
    call_command("migrate", interactive=False, verbosity=0)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    config = SimulationConfig(think_ms=args.think_ms, platform_latency_ms=args.platform_latency_ms, name_prefix="demo")
    # The server's own warnings and errors go to this terminal.
    hub = HubProcess(api_key, port=args.port, output=sys.stderr.fileno())
    try:
        hub.start()
    except SimulationError as exc:
        print(f"demo: {exc} (is `make run` or another demo already on port {args.port}?)", file=sys.stderr)
        return 1
    try:
        with Simulation(hub.url, api_key, config) as sim:
            nats = "a local nats-server started for the demo" if hub.started_nats else hub.nats_url
            print()
            print(f"  Omni demo on {hub.url}  (NATS: {nats})")
            print(
                f"  Sandboxes: Telegram {sim.telegram.url}, WhatsApp {sim.whatsapp.url}, Discord {sim.discord.rest_url}"
            )
            print(f"  Agent:     {sim.agent.url} (replies after {args.think_ms:g} ms)")
            print(f"  API key (development): {api_key}")
            print()
            print(f"  API docs:         {hub.url}/api/v2/docs")
            print(f"  Journeys:         {hub.url}/api/v2/journeys")
            print(f"  Summary:          {hub.url}/api/v2/journeys/summary")
            try:
                resolve("/journeys/")
                print(f"  Journeys (web):   {hub.url}/journeys/")
            except Resolver404:
                pass
            print(f"  curl -H 'X-API-Key: {api_key}' {hub.url}/api/v2/journeys/summary")
            print()
            print(f"  A message every {args.every_s:g} s, round-robin Telegram -> WhatsApp -> Discord. Ctrl-C stops.")
            print(flush=True)
            _trickle(sim, hub.url, api_key, args.every_s, stop)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping...", flush=True)
        hub.stop()
    print("demo stopped")
    return 0


def _trickle(sim, url: str, api_key: str, every_s: float, stop: threading.Event) -> None:
    """Send until `stop`; print a `journey show` to try once the first journey has ended, then a status
    line every ten messages."""
    sent = 0
    shown = False
    started = time.time() * 1000
    while True:
        sim.send()
        sent += 1
        if not shown:
            shown = _show_first_journey(sim, url, api_key, started)
        if sent % 10 == 0:
            summary = sim.summary(started)
            print(
                f"  {sent} messages sent; {summary['completedJourneys']} journeys completed, "
                f"{summary['activeJourneys']} active, {summary['abandonedJourneys']} abandoned",
                flush=True,
            )
        if stop.wait(every_s):
            return


def _show_first_journey(sim, url: str, api_key: str, since_ms: float) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        summary = sim.summary(since_ms)
        if summary["completedJourneys"]:
            correlation_id = sim.latest_correlation_id()
            if correlation_id:
                env = f"OMNI_API_KEY={api_key}" + ("" if url == "http://127.0.0.1:8000" else f" OMNI_API_URL={url}")
                manage = f"{env} {_python()} manage.py"
                print("  Try (in another terminal):")
                print(f"    {manage} journey show {correlation_id}")
                print(f"    {manage} journey summary --since 10m")
                print(f"    {manage} journey list --slowest internalProcessing")
                print(flush=True)
                return True
        time.sleep(0.2)
    return False


def _python() -> str:
    """This interpreter as the user would type it from the project root (.venv/bin/python)."""
    try:
        return str(Path(sys.executable).relative_to(ROOT))
    except ValueError:
        return sys.executable


if __name__ == "__main__":
    sys.exit(main())
