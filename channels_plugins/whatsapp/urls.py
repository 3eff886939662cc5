"""Webhook routes of the whatsapp plugin."""

urlpatterns: list = []
