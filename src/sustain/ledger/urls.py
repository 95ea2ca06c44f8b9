from django.urls import path

from sustain.ledger import report_views

app_name = "ledger"
urlpatterns = [
    path("report/", report_views.report_page, name="report"),
    path("report.csv", report_views.report_csv, name="report_csv"),
    path("report.pdf", report_views.report_pdf, name="report_pdf"),
]
