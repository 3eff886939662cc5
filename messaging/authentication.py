"""`X-API-Key` authentication for `/api/v2/` (webhooks and health opt out per view)."""

from __future__ import annotations

import hmac

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions


class ApiKeyUser:
    """The caller holding the hub's API key (there are no per-user keys yet)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None
    username = "api-key"

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(authentication.BaseAuthentication):
    header = "HTTP_X_API_KEY"

    def authenticate(self, request):
        supplied = request.META.get(self.header)
        if not supplied:
            return None  # -> 401 NotAuthenticated
        expected = settings.OMNI_API_KEY
        # Constant-time comparison; an unset key on the server accepts nothing.
        if not expected or not hmac.compare_digest(supplied.encode(), expected.encode()):
            raise exceptions.AuthenticationFailed("Invalid API key.", code="INVALID_API_KEY")
        return ApiKeyUser(), None

    def authenticate_header(self, request) -> str:
        return "ApiKey"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describes `X-API-Key` in the OpenAPI schema (drf-spectacular finds extensions on import)."""

    target_class = "messaging.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}
