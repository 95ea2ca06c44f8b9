from django.urls import URLPattern, path

from sustain.reports import forecast_views, progress_views, views

app_name = "reports"
urlpatterns: list[URLPattern] = [
    path("", views.outcomes_page, name="outcomes"),
    path("outcomes.csv", views.outcomes_csv, name="outcomes_csv"),
    path("outcomes.pdf", views.outcomes_pdf, name="outcomes_pdf"),
    # One patient's progress report (issue 17, item 2): ids only in the path.
    path("patients/<int:patient_id>/progress/", progress_views.progress_page, name="progress"),
    path(
        "patients/<int:patient_id>/progress.pdf", progress_views.progress_pdf, name="progress_pdf"
    ),
    # The relapse forecast (issue 17, item 3).
    path("forecast/", forecast_views.forecast_page, name="forecast"),
]
