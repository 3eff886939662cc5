"""Webhook routes of the whatsapp plugin."""

from django.urls import path

from channels_plugins.whatsapp.views import whatsapp_webhook

urlpatterns = [
    path("<str:instance_id>", whatsapp_webhook, name="whatsapp-webhook"),
]
