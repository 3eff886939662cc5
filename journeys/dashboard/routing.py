from django.urls import path

from journeys.dashboard.consumers import JourneyFeedConsumer

websocket_urlpatterns = [
    path("ws/journeys/", JourneyFeedConsumer.as_asgi()),
]
