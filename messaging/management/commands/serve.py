"""`manage.py serve`: the production server (uvicorn, ASGI) with the hub's runtime in one process."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from messaging.serving import run_asgi_server, serving_runtime


class Command(BaseCommand):
    help = "Serve the API, webhooks, dashboard and runtime in one process (uvicorn). Drains on SIGTERM/SIGINT."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--log-level", default="warning")

    def handle(self, *args, **options):
        if not settings.DEBUG and settings.SECRET_KEY_IS_EPHEMERAL:
            raise CommandError("SECRET_KEY is not set: `serve` refuses to start with DEBUG off and no SECRET_KEY.")
        if not settings.OMNI_API_KEY:
            self.stderr.write("warning: OMNI_API_KEY is not set; every API call will answer 401")
        with serving_runtime():
            self.stdout.write(f"serving on http://{options['host']}:{options['port']} (NATS {settings.NATS['URL']})")
            started = run_asgi_server(options["host"], options["port"], log_level=options["log_level"])
        if not started:
            raise CommandError(f"could not listen on {options['host']}:{options['port']} (see the error above)")
        self.stdout.write("stopped")
