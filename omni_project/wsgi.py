"""WSGI entry point (the runtime is started by the serving commands, not here)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni_project.settings")
application = get_wsgi_application()
