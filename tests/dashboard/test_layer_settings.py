"""CHANNEL_LAYER_URL: empty is the in-memory layer, redis:// the shared one, anything else refuses to start."""

from __future__ import annotations

import json

from tests.test_settings import manage

SHOW = "from django.conf import settings; import json; print(json.dumps(settings.CHANNEL_LAYERS))"


def test_the_in_memory_layer_is_the_default():
    result = manage("shell", "-c", SHOW, CHANNEL_LAYER_URL="")
    assert result.returncode == 0, result.stderr
    layer = json.loads(result.stdout.strip().splitlines()[-1])["default"]
    assert layer["BACKEND"] == "channels.layers.InMemoryChannelLayer"


def test_a_redis_url_selects_the_redis_layer():
    result = manage("shell", "-c", SHOW, CHANNEL_LAYER_URL="redis://127.0.0.1:6379/2")
    assert result.returncode == 0, result.stderr
    layer = json.loads(result.stdout.strip().splitlines()[-1])["default"]
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert layer["CONFIG"]["hosts"] == ["redis://127.0.0.1:6379/2"]


def test_another_url_refuses_to_start_naming_the_setting():
    result = manage("check", CHANNEL_LAYER_URL="memcached://127.0.0.1:11211")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "CHANNEL_LAYER_URL" in result.stderr
