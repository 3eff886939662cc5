"""`runserver` that serves ASGI (HTTP and the dashboard's WebSockets) and runs the hub's runtime.

Django's own runserver speaks WSGI only, so the dashboard's live feed would never connect; this one keeps
its options, checks, banner and autoreloader and serves the ASGI application with uvicorn instead. The
runtime starts in the serving process only: with the autoreloader, `inner_run` runs in the child that
serves, never in the watching parent.
"""

import os

from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesRunserver
from django.db import connections
from django.utils import autoreload

from messaging.serving import run_asgi_server, serving_runtime


class Command(StaticfilesRunserver):
    help = "Development server (ASGI: HTTP and WebSockets) with the hub's runtime (NATS consumers, plugins)."

    def inner_run(self, *args, **options):
        autoreload.raise_last_exception()
        if not options["skip_checks"]:
            self.stdout.write("Performing system checks...\n\n")
            self.check(display_num_errors=True)
        self.check_migrations()
        connections.close_all()  # opened by the migration check, in a thread that serves nothing
        host = "0.0.0.0" if self.addr == "0" else self.addr  # Django's shorthand; an IPv6 address comes bare
        with serving_runtime():
            self.on_bind(self.port)  # Django's banner (it brackets an IPv6 address itself)
            started = run_asgi_server(host, int(self.port), log_level="warning")
        if not started:
            self.stderr.write(f"Error: could not listen on {host} port {self.port}.")
            os._exit(1)  # sys.exit would only end this thread under the autoreloader
