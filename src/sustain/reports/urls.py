from django.urls import path

from sustain.reports import forecast_views

app_name = "reports"

urlpatterns = [
    # The relapse forecast (issue 17, item 3).
    path("forecast/", forecast_views.forecast_page, name="forecast"),
]
