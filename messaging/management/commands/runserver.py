"""`runserver` that also runs the hub's runtime (bus, consumers, plugins, tracker cleanup).

The runtime starts in the serving process only: with the autoreloader, `inner_run` runs in the
child that serves, never in the watching parent.
"""

from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesRunserver

from messaging.serving import serving_runtime, sigterm_as_keyboard_interrupt


class Command(StaticfilesRunserver):
    help = "Development server with the hub's runtime (NATS consumers, plugin connections, tracker cleanup)."

    def inner_run(self, *args, **options):
        sigterm_as_keyboard_interrupt()
        with serving_runtime():
            super().inner_run(*args, **options)
