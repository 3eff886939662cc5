"""A small client for the journeys API (CONTRACT §5), for the `journey` command and other tools.

Every failure is an `ApiClientError` whose message says what to do next, so a command can hand it to the
user as it is.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 10.0
_API_PREFIX = "/api/v2"


class ApiClientError(Exception):
    """A request that gave no usable answer. `status` and `code` are the API's, when it answered."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def default_url() -> str:
    """`OMNI_API_URL`, else the development server's address."""
    return os.environ.get("OMNI_API_URL") or DEFAULT_URL


def default_api_key() -> str | None:
    """`OMNI_API_KEY`, or None when unset or empty."""
    return os.environ.get("OMNI_API_KEY") or None


def _base_url(url: str) -> str:
    base = url.strip().rstrip("/")
    if base.endswith(_API_PREFIX):  # accept the API's own root as well as the server's
        base = base[: -len(_API_PREFIX)]
    if not base.startswith(("http://", "https://")):
        raise ApiClientError(f"--url must be an http(s) URL such as {DEFAULT_URL}; got {url!r}")
    return base


class JourneyApiClient:
    """Reads journeys from a running server. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = _base_url(url)
        self.api_key = api_key
        headers = {"Accept": "application/json"}
        if api_key:
            headers["X-API-Key"] = api_key
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s, transport=transport)

    def __enter__(self) -> JourneyApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- endpoints --------------------------------------------------------------------------------

    def journey(self, correlation_id: str) -> dict[str, Any]:
        """GET /api/v2/journeys/{correlationId}. Raises ApiClientError (code JOURNEY_NOT_FOUND when unknown)."""
        try:
            return self._get(f"/journeys/{quote(correlation_id, safe='')}")
        except ApiClientError as exc:
            if exc.code == "JOURNEY_NOT_FOUND":
                raise ApiClientError(
                    f"no journey {correlation_id} on {self.url} (expired after JOURNEY_TTL_MS, sampled out by "
                    "JOURNEY_SAMPLE_RATE, or never seen): `manage.py journey list` shows the journeys it holds",
                    status=exc.status,
                    code=exc.code,
                ) from None
            raise

    def summary(
        self,
        *,
        since: str | None = None,
        channel: str | None = None,
        instance_id: str | None = None,
        path: str | None = None,
    ) -> dict[str, Any]:
        """GET /api/v2/journeys/summary with the given filters. Raises ApiClientError (e.g. INVALID_SINCE)."""
        return self._get(
            "/journeys/summary", {"since": since, "channel": channel, "instanceId": instance_id, "path": path}
        )

    def journeys(
        self,
        *,
        limit: int | None = None,
        status: str | None = None,
        channel: str | None = None,
        instance_id: str | None = None,
        slowest: str | None = None,
        since: str | None = None,
    ) -> dict[str, Any]:
        """GET /api/v2/journeys: `{"count", "results"}`, newest first or slowest first by `slowest`."""
        params = {"limit": limit, "status": status, "channel": channel, "instanceId": instance_id}
        return self._get("/journeys", {**params, "slowest": slowest, "since": since})

    # --- plumbing ---------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        query = {name: str(value) for name, value in (params or {}).items() if value is not None}
        try:
            response = self._http.get(_API_PREFIX + path, params=query)
        except httpx.TimeoutException:
            raise ApiClientError(
                f"the server at {self.url} did not answer within {self._http.timeout.read} s: is it busy or stuck?"
            ) from None
        except httpx.TransportError as exc:  # refused, unresolvable, reset, bad TLS
            raise ApiClientError(
                f"no server at {self.url} ({exc.__class__.__name__}: {exc}): start it with `make run`, "
                "or pass --url (or set OMNI_API_URL) to reach a running one"
            ) from None
        body = _json(response)
        if response.is_success:
            if not isinstance(body, dict):
                raise ApiClientError(
                    f"{self.url} answered GET {_API_PREFIX}{path} without the journeys API's JSON: "
                    "does --url point at the Omni server?"
                )
            return body
        raise self._error(response, body)

    def _error(self, response: httpx.Response, body: Any) -> ApiClientError:
        error = body.get("error") if isinstance(body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        status = response.status_code
        where = f"GET {response.request.url.path}"
        if status == 401:
            hint = (
                "set OMNI_API_KEY (or pass --api-key) to the server's key: `make run` prints it"
                if not self.api_key
                else "the server refused this key: set OMNI_API_KEY (or --api-key) to the key the server runs "
                "with, and make sure the server has OMNI_API_KEY set"
            )
            return ApiClientError(f"{where} answered 401 {code or 'UNAUTHORIZED'}: {hint}", status=status, code=code)
        if code is None and status >= 500:
            return ApiClientError(f"{where} answered {status}: the server's log has the cause", status=status)
        if code is None:
            return ApiClientError(
                f"{where} answered {status} without the API's error shape: does --url ({self.url}) point at the "
                "Omni server?",
                status=status,
            )
        if status >= 500:
            message = f"{message} (the server's log has the cause)"
        elif status == 404:
            message = f"{message} (does --url, {self.url}, point at the Omni server's root?)"
        return ApiClientError(f"{where} answered {status} {code}: {message}", status=status, code=code)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
