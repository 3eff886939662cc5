"""ASGI entry point used by `manage.py serve` and `runserver` (the runtime is started by those commands, not here).

HTTP goes to Django (with the static files: the dashboard's script and style, the API docs' assets);
WebSockets to the journey dashboard's live feed, with the session and user of the Django login.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni_project.settings")
django_application = get_asgi_application()  # before importing anything that touches models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from journeys.dashboard.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ASGIStaticFilesHandler(django_application),
        # A browser sends the page's origin: only the hosts Django serves may open the feed (no cross-site
        # WebSocket hijacking with the session cookie).
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
