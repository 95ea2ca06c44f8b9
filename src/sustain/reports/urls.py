from django.urls import URLPattern, path

from sustain.reports import views

app_name = "reports"
urlpatterns: list[URLPattern] = [
    path("", views.outcomes_page, name="outcomes"),
    path("outcomes.csv", views.outcomes_csv, name="outcomes_csv"),
    path("outcomes.pdf", views.outcomes_pdf, name="outcomes_pdf"),
]
