"""Webhook routes of the telegram plugin."""

urlpatterns: list = []
