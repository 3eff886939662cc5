"""Settings (CONTRACT §8): a bad JOURNEY_* value refuses to start, naming the variable; the defaults load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JOURNEY_VARS = ("JOURNEY_TTL_MS", "JOURNEY_SAMPLE_RATE", "JOURNEY_MAX_ENTRIES", "JOURNEY_CLEANUP_INTERVAL_MS")


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py <args>` in a fresh process, with the JOURNEY_* variables only as given."""
    clean = {k: v for k, v in os.environ.items() if k not in JOURNEY_VARS and k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOURNEY_TTL_MS", "0"),
        ("JOURNEY_TTL_MS", "-5"),
        ("JOURNEY_TTL_MS", "abc"),
        ("JOURNEY_TTL_MS", "1.5"),
        ("JOURNEY_SAMPLE_RATE", "2"),
        ("JOURNEY_SAMPLE_RATE", "-0.1"),
        ("JOURNEY_SAMPLE_RATE", "abc"),
        ("JOURNEY_SAMPLE_RATE", ""),
        ("JOURNEY_SAMPLE_RATE", "nan"),
        ("JOURNEY_MAX_ENTRIES", "0"),
        ("JOURNEY_MAX_ENTRIES", "many"),
        ("JOURNEY_CLEANUP_INTERVAL_MS", "0"),
        ("JOURNEY_CLEANUP_INTERVAL_MS", "1e3"),
    ],
)
def test_bad_journey_setting_refuses_to_start_naming_the_variable(name, value):
    result = manage("check", **{name: value})

    assert result.returncode != 0
    assert name in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_defaults_load():
    if (ROOT / ".env").exists() and "JOURNEY_" in (ROOT / ".env").read_text():
        pytest.skip(".env sets JOURNEY_* values")
    code = "from django.conf import settings; import json; print(json.dumps(settings.JOURNEYS))"

    result = manage("shell", "-c", code)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "TTL_MS": 1_800_000,
        "SAMPLE_RATE": 1.0,
        "MAX_ENTRIES": 50_000,
        "CLEANUP_INTERVAL_MS": 60_000,
    }


def test_good_journey_settings_are_used_and_check_passes():
    env = {"JOURNEY_TTL_MS": "600000", "JOURNEY_SAMPLE_RATE": "0.25", "JOURNEY_MAX_ENTRIES": "1000",
           "JOURNEY_CLEANUP_INTERVAL_MS": "5000"}  # fmt: skip
    code = "from django.conf import settings; import json; print(json.dumps(settings.JOURNEYS))"

    assert manage("check", **env).returncode == 0
    result = manage("shell", "-c", code, **env)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "TTL_MS": 600_000,
        "SAMPLE_RATE": 0.25,
        "MAX_ENTRIES": 1000,
        "CLEANUP_INTERVAL_MS": 5000,
    }
