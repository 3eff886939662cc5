"""ASGI entry point used by `manage.py serve` (the runtime is started by that command, not here)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni_project.settings")
application = get_asgi_application()
