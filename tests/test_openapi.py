"""The committed OpenAPI schema (docs/openapi.yaml) is the one the code generates (CONTRACT §5)."""

from __future__ import annotations

import difflib
import io
from pathlib import Path

import yaml
from django.core.management import call_command

SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"


def generate() -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("spectacular", "--validate", stdout=out, stderr=err)  # what `make schema` runs
    return out.getvalue()


def test_committed_schema_matches_the_generated_one():
    assert SCHEMA.exists(), "docs/openapi.yaml is missing: run make schema"
    committed, generated = SCHEMA.read_text(), generate()

    if yaml.safe_load(committed) != yaml.safe_load(generated):
        lines = difflib.unified_diff(committed.splitlines(True), generated.splitlines(True), "committed", "generated")
        diff = "".join(list(lines)[:80])
        raise AssertionError(f"docs/openapi.yaml differs from the API: run make schema\n{diff}")


def test_schema_documents_the_journeys_api_and_its_key():
    schema = yaml.safe_load(SCHEMA.read_text())

    assert schema["openapi"].startswith("3.")
    assert {"/api/v2/journeys", "/api/v2/journeys/summary", "/api/v2/journeys/{correlationId}"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {"type": "apiKey", "in": "header",
                                                                    "name": "X-API-Key"}  # fmt: skip
