"""URL conf: the admin, the `/api/v2/` API and its schema. Apps own their routes."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v2 = [
    path("", include("journeys.urls")),
    path("", include("messaging.urls")),
    path("", include("channels_plugins.urls")),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v2/", include(api_v2)),
]

handler404 = "messaging.exceptions.not_found_handler"
handler500 = "messaging.exceptions.server_error_handler"
