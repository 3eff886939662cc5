"""Settings for the messaging hub, read from the environment (CONTRACT §8).

Every value comes from an environment variable (a `.env` file beside manage.py is optional). A bad
journey setting refuses to start with an ImproperlyConfigured that names the variable.
"""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _positive_int(name: str, default: int) -> int:
    raw = env.str(name, default=str(default)).strip()
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0 or str(value) != raw.lstrip("+"):
        raise ImproperlyConfigured(f"{name} must be a positive integer (milliseconds or a count), got {raw!r}")
    return value


def _unit_float(name: str, default: float) -> float:
    raw = env.str(name, default=str(default)).strip()
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number between 0 and 1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ImproperlyConfigured(f"{name} must be a number between 0 and 1, got {raw!r}")
    return value


DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
SECRET_KEY_IS_EPHEMERAL = not SECRET_KEY
if SECRET_KEY_IS_EPHEMERAL:
    # A per-process key keeps development friction-free; `manage.py serve` refuses it without DEBUG.
    SECRET_KEY = secrets.token_urlsafe(50)
    warnings.warn("SECRET_KEY is not set: using a random key for this process only", stacklevel=1)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: messaging's runserver (which starts the runtime) overrides staticfiles' one.
    "messaging",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "journeys",
    "channels_plugins",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "omni_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "omni_project.wsgi.application"
ASGI_APPLICATION = "omni_project.asgi.application"

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The consumers write from worker threads: WAL and an immediate write lock avoid "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so the live server's and the runtime's threads share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f"test_db.{os.getpid()}.sqlite3")}
DATABASES["default"].setdefault("CONN_MAX_AGE", 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# Webhooks answer 413 above this size rather than buffering an unbounded body.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

# --- The journey tracker (CONTRACT §7, §8) -------------------------------------------------------
JOURNEYS = {
    "TTL_MS": _positive_int("JOURNEY_TTL_MS", 1_800_000),
    "SAMPLE_RATE": _unit_float("JOURNEY_SAMPLE_RATE", 1.0),
    "MAX_ENTRIES": _positive_int("JOURNEY_MAX_ENTRIES", 50_000),
    "CLEANUP_INTERVAL_MS": _positive_int("JOURNEY_CLEANUP_INTERVAL_MS", 60_000),
}

# --- The bus and the runtime ----------------------------------------------------------------------
NATS = {
    "URL": env.str("NATS_URL", default="nats://127.0.0.1:4222"),
    "STREAM": env.str("NATS_STREAM", default="OMNI"),
    # Durable names are per deployment so two test runs on one server never share a cursor.
    "DURABLE_PREFIX": env.str("NATS_DURABLE_PREFIX", default="omni"),
}

OMNI_API_KEY = env.str("OMNI_API_KEY", default="")

# Channel plugins by channel type, as dotted paths imported on first use.
CHANNEL_PLUGINS = {
    "telegram": "channels_plugins.telegram.plugin.TelegramPlugin",
    "whatsapp": "channels_plugins.whatsapp.plugin.WhatsAppPlugin",
    "discord": "channels_plugins.discord.plugin.DiscordPlugin",
}

AGENT = {
    "TIMEOUT_MS": env.int("AGENT_TIMEOUT_MS", default=10_000),
    "MAX_ATTEMPTS": env.int("AGENT_MAX_ATTEMPTS", default=3),
    "RETRY_BACKOFF_MS": env.int("AGENT_RETRY_BACKOFF_MS", default=200),
}

# --- The journey dashboard's live feed (Django Channels) -------------------------------------------
# In-memory by default: one serving process. With several, set CHANNEL_LAYER_URL=redis://host:6379/0 so a
# journey finished in one process reaches the dashboards connected to the others.
CHANNEL_LAYER_URL = env.str("CHANNEL_LAYER_URL", default="").strip()
if not CHANNEL_LAYER_URL:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
elif CHANNEL_LAYER_URL.split("://", 1)[0] in ("redis", "rediss"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [CHANNEL_LAYER_URL], "prefix": env.str("CHANNEL_LAYER_PREFIX", default="omni")},
        }
    }
else:
    raise ImproperlyConfigured(
        f"CHANNEL_LAYER_URL must be empty (in-memory) or a redis:// or rediss:// URL, got {CHANNEL_LAYER_URL!r}"
    )

LOGIN_URL = "journeys-dashboard:login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["messaging.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "messaging.exceptions.error_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Omni messaging hub API",
    "DESCRIPTION": "Channels to agents over NATS JetStream, with every message's journey measured (T0-T11).",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v2",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.server": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
