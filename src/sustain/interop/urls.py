"""The FHIR R4 endpoints, included at /fhir/R4/ (sustain.urls): the bulk export
(sustain.interop.fhir.bulk_views), then read and search (sustain.interop.fhir.views).

Endpoints of their own (the bulk `$export` ones, the token endpoint auth/token) go above the read
and search patterns: `<Type>` and `<Type>/<id>` would take their paths, and the last pattern
answers every other path with a 404 OperationOutcome."""

from django.urls import path, re_path

from sustain.interop.fhir import bulk_views as bulk
from sustain.interop.fhir import views

app_name = "interop"

urlpatterns = [
    path("metadata", views.metadata, name="fhir_metadata"),
    # FHIR Bulk Data Access IG v2: kick-off (system and Group), status, output files.
    path("$export", bulk.system_export, name="export"),
    path("Group/<str:group_id>/$export", bulk.group_export, name="group_export"),
    path("$export-status/<uuid:job_id>", bulk.export_status, name="export_status"),
    path("$export-file/<uuid:job_id>/<str:name>", bulk.export_file, name="export_file"),
    # -- endpoints of their own above this line --
    path("Patient/<str:resource_id>/$everything", views.everything, name="fhir_everything"),
    path("<str:type_name>/_search", views.search_by_post, name="fhir_search_post"),
    path("<str:type_name>/<str:resource_id>", views.read, name="fhir_read"),
    path("<str:type_name>", views.search_type, name="fhir_search"),
    re_path(r"^[\s\S]*$", views.nothing, name="fhir_nothing"),  # any path, newlines too
]
