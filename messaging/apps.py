from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        # Signals only: no I/O here (ready() runs for every command, twice under the reloader).
        from messaging import instances  # noqa: F401  (connects the cache-invalidation signals)
