from django.urls import path

from journeys.dashboard import views

app_name = "journeys-dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("<str:correlation_id>/", views.journey, name="journey"),
]
