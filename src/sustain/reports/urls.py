from django.urls import path

from sustain.reports import views

app_name = "reports"

urlpatterns = [
    # One patient's progress report (issue 17, item 2): ids only in the path.
    path("patients/<int:patient_id>/progress/", views.progress_page, name="progress"),
    path("patients/<int:patient_id>/progress.pdf", views.progress_pdf, name="progress_pdf"),
]
