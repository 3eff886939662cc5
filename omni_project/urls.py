"""URL conf: the admin, the `/api/v2/` API and its schema, the journey dashboard. Apps own their routes."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated

from messaging.authentication import ApiKeyAuthentication

# The schema and its docs page are under /api/v2/ and need the key like the rest (CONTRACT §5). A browser
# cannot send a header, so they also accept a Django session: log in at /admin/ (staff only: the admin
# refuses other users) and the Swagger page loads the schema with the session cookie. The API itself
# accepts the key only. ApiKeyAuthentication first, so a request with neither answers 401, not 403.
_SCHEMA_ACCESS = {
    "authentication_classes": [ApiKeyAuthentication, SessionAuthentication],
    "permission_classes": [IsAuthenticated],
}

api_v2 = [
    path("", include("journeys.urls")),
    path("", include("messaging.urls")),
    path("", include("channels_plugins.urls")),
    path("schema", SpectacularAPIView.as_view(**_SCHEMA_ACCESS), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema", **_SCHEMA_ACCESS), name="docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v2/", include(api_v2)),
    path("journeys/", include("journeys.dashboard.urls")),
]

handler400 = "messaging.exceptions.bad_request_handler"
handler404 = "messaging.exceptions.not_found_handler"
handler500 = "messaging.exceptions.server_error_handler"
