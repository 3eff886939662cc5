"""`manage.py serve`: the production server (uvicorn, ASGI) with the hub's runtime in one process."""

from __future__ import annotations

import signal

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from messaging.serving import serving_runtime


class Command(BaseCommand):
    help = "Serve the API, webhooks and runtime in one process (uvicorn). Drains on SIGTERM/SIGINT."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--log-level", default="warning")

    def handle(self, *args, **options):
        if not settings.DEBUG and settings.SECRET_KEY_IS_EPHEMERAL:
            raise CommandError("SECRET_KEY is not set: `serve` refuses to start with DEBUG off and no SECRET_KEY.")
        if not settings.OMNI_API_KEY:
            self.stderr.write("warning: OMNI_API_KEY is not set; every API call will answer 401")
        config = uvicorn.Config(
            "omni_project.asgi:application",
            host=options["host"],
            port=options["port"],
            log_level=options["log_level"],
            lifespan="off",
            timeout_graceful_shutdown=10,
        )
        server = uvicorn.Server(config)
        # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal through the handler
        # that was there before; a no-op one lets us drain the runtime and exit 0 instead of dying.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: None)
        with serving_runtime():
            self.stdout.write(f"serving on http://{options['host']}:{options['port']} (NATS {settings.NATS['URL']})")
            server.run()  # handles SIGTERM/SIGINT: stops accepting, finishes requests, then returns
        self.stdout.write("stopped")
