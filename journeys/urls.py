from rest_framework.routers import SimpleRouter

from journeys.views import JourneyViewSet

router = SimpleRouter(trailing_slash=False)
router.register("journeys", JourneyViewSet, basename="journey")

urlpatterns = router.urls
