"""The FHIR R4 endpoints, included at /fhir/R4/ (sustain.urls)."""

from django.urls import path

from sustain.interop.fhir import bulk_views as bulk

app_name = "interop"
urlpatterns = [
    # FHIR Bulk Data Access IG v2: kick-off (system and Group), status, output files.
    path("$export", bulk.system_export, name="export"),
    path("Group/<str:group_id>/$export", bulk.group_export, name="group_export"),
    path("$export-status/<uuid:job_id>", bulk.export_status, name="export_status"),
    path("$export-file/<uuid:job_id>/<str:name>", bulk.export_file, name="export_file"),
]
