"""Webhook routes, one module per platform (Discord has none: it uses the Gateway)."""

from django.urls import include, path

urlpatterns = [
    path("webhooks/telegram/", include("channels_plugins.telegram.urls")),
    path("webhooks/whatsapp/", include("channels_plugins.whatsapp.urls")),
]
