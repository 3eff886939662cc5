"""Who may see the dashboard: a staff user of the Django admin, or whoever presented the hub's API key.

The key is checked once at login and the session then holds a fingerprint of it, never the key: rotating
OMNI_API_KEY ends every session that was opened with the old one. Pages and the WebSocket ask the same
question (`may_view`), so they can never disagree.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from django.conf import settings

SESSION_KEY = "journeys.dashboard.api_key"


def api_key_matches(supplied: str | None) -> bool:
    expected = settings.OMNI_API_KEY
    if not supplied or not expected:
        return False  # an unset key on the server admits nobody
    return hmac.compare_digest(supplied.encode(), expected.encode())


def key_fingerprint() -> str | None:
    if not settings.OMNI_API_KEY:
        return None
    return hmac.new(settings.SECRET_KEY.encode(), settings.OMNI_API_KEY.encode(), hashlib.sha256).hexdigest()


def grant_api_key_access(session) -> None:
    session[SESSION_KEY] = key_fingerprint()


def may_view(user: Any, session: Mapping[str, Any] | None, headers: Mapping[str, str] | None = None) -> bool:
    """A staff user, a session opened with the current API key, or a request carrying the key (curl)."""
    if user is not None and getattr(user, "is_active", False) and getattr(user, "is_staff", False):
        return True
    fingerprint = key_fingerprint()
    held = session.get(SESSION_KEY) if session is not None else None
    if fingerprint and isinstance(held, str) and hmac.compare_digest(held, fingerprint):
        return True
    return bool(headers) and api_key_matches(headers.get("x-api-key"))
