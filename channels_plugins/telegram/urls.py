"""Webhook routes of the telegram plugin."""

from django.urls import path

from channels_plugins.telegram.views import telegram_webhook

urlpatterns = [
    path("<str:instance_id>", telegram_webhook, name="telegram-webhook"),
]
