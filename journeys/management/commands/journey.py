"""`manage.py journey show|summary|list`: read a running server's journeys over HTTP (CONTRACT §9)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from journeys.cli.client import DEFAULT_TIMEOUT_S, ApiClientError, JourneyApiClient, default_api_key, default_url
from journeys.cli.render import console_for, print_journey, print_journey_list, print_summary
from journeys.stages import LATENCY_KEYS
from journeys.tracker import PATHS, STATUSES

CHANNELS = ("telegram", "whatsapp", "discord")


def _positive_int(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}")
    return int(value)


class Command(BaseCommand):
    help = (
        "Inspect message journeys on a running server: `journey show <correlationId>`, "
        "`journey summary [--since 1h]`, `journey list [--slowest dbWrite]`."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        # The connection options belong to each subcommand, so that they read naturally after it
        # (`journey show evt-1 --json`).
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument(
            "--url", default=None, help="the server's base URL (default: $OMNI_API_URL or http://127.0.0.1:8000)"
        )
        common.add_argument("--api-key", default=None, help="the X-API-Key to send (default: $OMNI_API_KEY)")
        common.add_argument("--json", action="store_true", help="print the API's JSON instead of the rendered view")
        common.add_argument(
            "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for the server (default: 10)"
        )
        filters = argparse.ArgumentParser(add_help=False)
        filters.add_argument("--channel", choices=CHANNELS, help="only journeys of this channel type")
        filters.add_argument("--instance", metavar="INSTANCE_ID", help="only journeys of this instance id")

        sub = parser.add_subparsers(dest="subcommand", metavar="{show,summary,list}", required=True)
        show = sub.add_parser("show", parents=[common], help="the timeline of one journey")
        show.add_argument("correlation_id", metavar="correlationId")
        summary = sub.add_parser("summary", parents=[common, filters], help="latency statistics over journeys")
        summary.add_argument("--since", help="`<n>s|m|h|d` ago or an ISO 8601 time (default: every live journey)")
        summary.add_argument("--path", choices=PATHS, help="only journeys that took this path")
        listing = sub.add_parser("list", parents=[common, filters], help="recent or slowest journeys")
        listing.add_argument("--slowest", choices=LATENCY_KEYS, metavar="LATENCY_KEY", help="slowest first by key")
        listing.add_argument("--limit", type=_positive_int, default=20, help="at most this many (default: 20)")
        listing.add_argument("--status", choices=STATUSES)
        listing.add_argument("--since", help="only journeys started since (`1h`, or an ISO 8601 time)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            client = JourneyApiClient(
                options["url"] or default_url(),
                options["api_key"] or default_api_key(),
                timeout_s=options["timeout"],
            )
        except ApiClientError as exc:
            raise CommandError(str(exc)) from None
        with client:
            try:
                answer = self._fetch(client, options)
            except ApiClientError as exc:
                raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(answer, indent=2, ensure_ascii=False))
            return
        color = True if options.get("force_color") else False if options.get("no_color") else None
        console = console_for(self.stdout, color=color)
        subcommand = options["subcommand"]
        if subcommand == "show":
            print_journey(console, answer)
        elif subcommand == "summary":
            print_summary(console, answer, window=_window(options["since"], answer), filters=_filters(options))
        else:
            print_journey_list(console, answer, slowest=options["slowest"])

    def _fetch(self, client: JourneyApiClient, options: dict[str, Any]) -> dict[str, Any]:
        subcommand = options["subcommand"]
        if subcommand == "show":
            return client.journey(options["correlation_id"])
        if subcommand == "summary":
            return client.summary(
                since=options["since"],
                channel=options["channel"],
                instance_id=options["instance"],
                path=options["path"],
            )
        return client.journeys(
            limit=options["limit"],
            status=options["status"],
            channel=options["channel"],
            instance_id=options["instance"],
            slowest=options["slowest"],
            since=options["since"],
        )


def _window(since: str | None, summary: dict[str, Any]) -> str:
    if since is None:
        return "every live journey"
    start = summary.get("since")
    if start is None:
        return f"since {since}"
    local = datetime.fromtimestamp(start / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"since {since} ({local})"


def _filters(options: dict[str, Any]) -> list[str]:
    named = (("channel", "channel"), ("instance", "instance"), ("path", "path"))
    return [f"{label} {options[key]}" for key, label in named if options.get(key)]
