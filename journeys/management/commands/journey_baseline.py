"""`manage.py journey_baseline`: measure the journey of messages through the real pipeline and write the report.

Driving (the default, `--drive N`): starts the hub as production runs it, `manage.py serve` in a child
process (on this process's database, migrated if needed, and the configured NATS_URL, or a nats-server of
its own when NATS_URL does not answer); starts the Telegram, WhatsApp and Discord sandboxes and a
simulated agent here; creates an instance per platform through the hub's API; offers N messages
round-robin at a steady rate; waits (bounded) for their journeys to end; and reads the summaries over the
hub's HTTP API, as any client would. The peers stay out of the hub's process, so they take no CPU from
what is measured. `--from URL --since 1h` reads a live
server's summaries instead (API key from OMNI_API_KEY). Either way the report goes to `--output`
(docs/performance/journey-baseline.md) with its chart beside it (.svg).
"""

from __future__ import annotations

import logging
import secrets
import shlex
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from journeys.baseline.collect import database_description, environment, load_average, read_hub
from journeys.baseline.report import CHANNEL_NAMES, BaselineData, bottlenecks, write_report
from journeys.cli.client import ApiClientError, default_api_key
from journeys.stages import LATENCY_LABELS

DEFAULT_OUTPUT = Path("docs") / "performance" / "journey-baseline.md"


class _ConsoleFile:
    """The command's stdout as a file for rich (OutputWrapper appends a newline to every write)."""

    def __init__(self, out: OutputWrapper) -> None:
        self._out = out

    def write(self, text: str) -> int:
        self._out.write(text, ending="")
        return len(text)

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return self._out.isatty()


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Command(BaseCommand):
    help = (
        "Drive N messages across Telegram, WhatsApp and Discord sandboxes and a simulated agent through the real "
        "pipeline (or read a live server with --from), and write the journey baseline report and chart."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--drive", type=int, default=200, metavar="N", help="messages to drive (default 200)")
        parser.add_argument("--think-ms", type=float, default=300.0, help="the agent's think time (default 300)")
        # A latency baseline, not a capacity test: a rate the hub serves without queueing on a small machine.
        parser.add_argument("--rate", type=float, default=5.0, help="messages per second offered (default 5)")
        parser.add_argument(
            "--platform-latency-ms", type=float, default=0.0, help="added by each sandbox's send API (default 0)"
        )
        parser.add_argument(
            "--receipt-after-ms",
            type=float,
            default=1000.0,
            help="WhatsApp 'delivered' status after each send, for T12 (default 1000; 0: none)",
        )
        parser.add_argument(
            "--warmup",
            type=int,
            default=6,
            metavar="N",
            help="messages sent and waited for before the measured ones, left out of the report (default 6)",
        )
        parser.add_argument(
            "--timeout-s", type=float, default=120.0, help="longest wait for the journeys to end (default 120)"
        )
        parser.add_argument("--from", dest="from_url", metavar="URL", help="read this live server instead of driving")
        parser.add_argument("--since", default="1h", help="with --from: journeys started since (default 1h)")
        parser.add_argument("--output", type=Path, help=f"the report (default {DEFAULT_OUTPUT})")
        parser.add_argument("--chart", type=Path, help="the chart (default: the report's path with .svg)")

    def handle(self, *args: Any, **options: Any) -> None:
        output = options["output"] or Path(settings.BASE_DIR) / DEFAULT_OUTPUT
        data = self._read_live(options["from_url"], options["since"]) if options["from_url"] else self._drive(options)
        data["command"] = self._command_line(options)
        report, chart = write_report(data, output, options["chart"])
        self._print_outcome(data, report, chart)

    # --- reading a live server ---------------------------------------------------------------------------

    def _read_live(self, url: str, since: str) -> BaselineData:
        api_key = default_api_key()
        try:
            hub = read_hub(url, api_key, since)
        except ApiClientError as exc:
            raise CommandError(str(exc)) from None
        health = hub["health"] or {}
        database = (health.get("database") or {}).get("engine")
        nats = (health.get("nats") or {}).get("url")
        env = environment(
            database=f"{database} (as the server's /api/v2/health reports it; version not exposed)"
            if database
            else "not reported",
            nats=f"{nats} (as the server's /api/v2/health reports it; version not exposed)" if nats else "not reported",
            server=f"a live server at {url}",
        )
        return {
            "generatedAt": _iso(time.time() * 1000),
            "mode": "live",
            "source": url,
            "window": f"journeys started in the last {since}" if since[-1:] in "smhd" else f"journeys since {since}",
            "durationS": None,
            "environment": env,
            "simulation": None,
            "summary": hub["summary"],
            "channels": hub["channels"],
            "precisionMs": hub["precisionMs"],
        }

    # --- driving the pipeline ------------------------------------------------------------------------------

    def _drive(self, options: dict[str, Any]) -> BaselineData:
        count, rate, think_ms = options["drive"], options["rate"], options["think_ms"]
        if count < 1 or options["warmup"] < 0:
            raise CommandError("--drive needs at least 1 message (3 or more reach every platform); --warmup >= 0")
        if rate <= 0 or think_ms < 0 or options["platform_latency_ms"] < 0 or options["timeout_s"] <= 0:
            raise CommandError("--rate and --timeout-s must be positive; --think-ms and --platform-latency-ms >= 0")
        # Imported here: journeys is a library that imports neither messaging nor channels_plugins.
        import uvicorn
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from channels_plugins.simulation import HubProcess, Simulation, SimulationConfig, SimulationError

        # The sandboxes' WebSocket server and matplotlib log at INFO; the progress bar says enough.
        for name in ("websockets", "matplotlib"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._migrate_if_needed()
        if not settings.OMNI_API_KEY:
            # The hub needs a key to answer its API; without a configured one, the run makes up its own.
            settings.OMNI_API_KEY = secrets.token_urlsafe(24)
        api_key = settings.OMNI_API_KEY
        receipt_after = options["receipt_after_ms"] or None
        config = SimulationConfig(
            think_ms=think_ms,
            platform_latency_ms=options["platform_latency_ms"],
            receipt_after_ms=receipt_after,
            name_prefix="baseline",
        )
        console = Console(file=_ConsoleFile(self.stdout), highlight=False)  # type: ignore[arg-type]
        columns = (TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        load_before = load_average()
        hub_log = Path(settings.BASE_DIR) / "var" / "journey-baseline-hub.log"
        hub = HubProcess(api_key, log_path=hub_log)
        try:
            hub.start()
            nats = f"nats-server {hub.nats_version or '(version unknown)'}, JetStream, file storage; " + (
                "a local nats-server started for this run (NATS_URL did not answer)"
                if hub.started_nats
                else f"NATS_URL {hub.nats_url}"
            )
            self.stdout.write(f"hub on {hub.url} (NATS {hub.nats_url}); driving {count} messages at {rate:g}/s")
            with Simulation(hub.url, api_key, config) as sim:
                if options["warmup"] > 0:
                    # A fresh process pays for first requests, first connections, first queries: not measured.
                    warm_started_ms = time.time() * 1000
                    for _platform in sim.drive(options["warmup"], rate):
                        pass
                    for _ended in sim.wait_for_journeys(warm_started_ms, options["timeout_s"]):
                        pass
                    sim.begin_phase()
                started_ms = time.time() * 1000
                with Progress(*columns, console=console, transient=False) as progress:
                    sending = progress.add_task("messages sent", total=count)
                    ending = progress.add_task("journeys ended", total=count)
                    for _platform in sim.drive(count, rate):
                        progress.advance(sending)
                    ended = 0
                    for ended in sim.wait_for_journeys(started_ms, options["timeout_s"]):
                        progress.update(ending, completed=ended)
                finished_ms = time.time() * 1000
                accepted = sum(sim.sent.values())
                hub_data = read_hub(hub.url, api_key, _iso(started_ms))
                simulation = {
                    **sim.describe(),
                    "warmup": options["warmup"],
                    "messages": count,
                    "ratePerS": rate,
                    "timedOut": ended < accepted,
                }
        except SimulationError as exc:
            raise CommandError(str(exc)) from None
        except ApiClientError as exc:
            raise CommandError(f"reading the hub's summary: {exc}") from None
        finally:
            hub.stop()
        if simulation["timedOut"]:
            self.stderr.write(
                f"warning: {accepted - ended} of {accepted} journeys had not ended after --timeout-s "
                f"{options['timeout_s']:g}; the report says what the summary holds (the hub's log: {hub_log})"
            )
        for error in simulation.get("agentReplyErrors", []):
            self.stderr.write(f"warning: the hub refused an agent reply: {error}")
        env = environment(
            database=database_description(),
            nats=nats,
            load=f"{load_before}, just before the run" if load_before else None,
            server=f"`manage.py serve` in a process of its own: Django's ASGI app on uvicorn {uvicorn.__version__} "
            "with the runtime, on loopback",
        )
        return {
            "generatedAt": _iso(started_ms),
            "mode": "driven",
            "source": hub.url,
            "window": "the journeys of this run",
            "durationS": (finished_ms - started_ms) / 1000,
            "environment": env,
            "simulation": simulation,
            "summary": hub_data["summary"],
            "channels": hub_data["channels"],
            "precisionMs": hub_data["precisionMs"],
        }

    def _migrate_if_needed(self) -> None:
        from django.db import DEFAULT_DB_ALIAS, connections
        from django.db.migrations.executor import MigrationExecutor

        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            self.stdout.write(f"migrating the {connection.vendor} database")
            call_command("migrate", interactive=False, verbosity=0)

    # --- output --------------------------------------------------------------------------------------------

    def _command_line(self, options: dict[str, Any]) -> str:
        parts = ["python", "manage.py", "journey_baseline"]
        if options["from_url"]:
            parts += ["--from", options["from_url"], "--since", options["since"]]
        else:
            parts += ["--drive", str(options["drive"]), "--think-ms", f"{options['think_ms']:g}"]
            parts += ["--rate", f"{options['rate']:g}", "--warmup", str(options["warmup"])]
            if options["platform_latency_ms"]:
                parts += ["--platform-latency-ms", f"{options['platform_latency_ms']:g}"]
        line = " ".join(shlex.quote(p) for p in parts)
        database = settings.DATABASES["default"]
        if not options["from_url"] and "postgresql" in database["ENGINE"]:
            # The URL the run used, without its password.
            where = f"{database.get('USER') or ''}@{database.get('HOST') or 'localhost'}:{database.get('PORT') or 5432}"
            line = f"DATABASE_URL=postgres://{where}/{database['NAME']} {line}"
        return line

    def _print_outcome(self, data: BaselineData, report: Path, chart: Path | None) -> None:
        summary = data.get("summary", {})
        stages = summary.get("stages", {})
        internal = stages.get("internalProcessing") or {}
        self.stdout.write(
            f"{summary.get('completedJourneys', 0)} of {summary.get('totalTracked', 0)} journeys completed; "
            f"internal processing p50 {internal.get('p50')} ms, p95 {internal.get('p95')} ms"
        )
        for rank, b in enumerate(bottlenecks(summary), start=1):
            share = f"{b.share:.0%}" if b.share is not None else "-"
            self.stdout.write(f"  {rank}. {LATENCY_LABELS[b.latency_key]}: avg {b.value_ms:.3f} ms ({share})")
        for channel, channel_summary in data.get("channels", {}).items():
            self.stdout.write(
                f"  {CHANNEL_NAMES.get(channel, channel)}: {channel_summary.get('totalTracked', 0)} journeys"
            )
        self.stdout.write(self.style.SUCCESS(f"wrote {_relative(report)} and {_relative(chart)}"))


def _relative(path: Path | None) -> str:
    if path is None:
        return "-"
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
