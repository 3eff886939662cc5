"""One error shape for the whole API: `{"error": {"code": "...", "message": "...", "details": ...}}`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

# DRF's default codes, in the upper-case style of ours.
_CODES = {
    "not_authenticated": "UNAUTHORIZED",
    "authentication_failed": "UNAUTHORIZED",
    "parse_error": "INVALID_JSON",
    "unsupported_media_type": "UNSUPPORTED_MEDIA_TYPE",
    "not_found": "NOT_FOUND",
    "method_not_allowed": "METHOD_NOT_ALLOWED",
    "permission_denied": "FORBIDDEN",
    "not_acceptable": "NOT_ACCEPTABLE",
    "throttled": "THROTTLED",
    "invalid": "VALIDATION_ERROR",
}


class ApiError(exceptions.APIException):
    """An error with an explicit status and `error.code`."""

    def __init__(self, status_code: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):  # else Django's SuspiciousOperation handling: an HTML 400
        exc = payload_too_large()
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    details = getattr(exc, "details", None)
    if isinstance(exc.detail, (dict, list)) and not _is_single_message(exc.detail):
        code, message, details = "VALIDATION_ERROR", "The request is not valid.", exc.detail
    else:
        raw = exc.get_codes()
        raw = raw[0] if isinstance(raw, list) else raw
        code = _CODES.get(str(raw), str(raw).upper())
        message = str(exc.detail[0] if isinstance(exc.detail, list) else exc.detail)
    response.data = error_body(code, message, details)
    return response


def payload_too_large() -> ApiError:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return ApiError(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "PAYLOAD_TOO_LARGE", f"The body exceeds {limit} bytes.")


def _is_single_message(detail: Any) -> bool:
    return isinstance(detail, list) and len(detail) == 1 and isinstance(detail[0], str)


def json_error(status_code: int, code: str, message: str) -> JsonResponse:
    """The same shape for plain Django views (webhooks, 404/500 handlers)."""
    return JsonResponse(error_body(code, message), status=status_code)


def not_found_handler(request, exception=None) -> JsonResponse:
    return json_error(status.HTTP_404_NOT_FOUND, "NOT_FOUND", "No such endpoint.")


def bad_request_handler(request, exception=None) -> JsonResponse:
    """Django's 400 for a SuspiciousOperation raised outside a DRF view (a disallowed Host, too many fields)."""
    if isinstance(exception, RequestDataTooBig):
        error = payload_too_large()
        return json_error(error.status_code, error.get_codes(), str(error.detail))
    return json_error(status.HTTP_400_BAD_REQUEST, "BAD_REQUEST", "Bad request.")


def server_error_handler(request) -> JsonResponse:
    return json_error(status.HTTP_500_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Internal server error.")
