from django.urls import path
from rest_framework.routers import SimpleRouter

from messaging.views import HealthView, InstanceViewSet, MetricsView, SendMessageView

router = SimpleRouter(trailing_slash=False)
router.register("instances", InstanceViewSet, basename="instance")

urlpatterns = [
    path("messages/send", SendMessageView.as_view(), name="messages-send"),
    path("health", HealthView.as_view(), name="health"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    *router.urls,
]
