"""The FHIR R4 API's URLs, under /fhir/R4/ (sustain.interop.fhir.views).

Other endpoints under /fhir/R4/ (the token endpoint auth/token, the bulk `$export` ones) go
above the read and search patterns: `<Type>` and `<Type>/<id>` would take their paths, and the
last pattern answers every other path with a 404 OperationOutcome."""

from django.urls import path, re_path

from sustain.interop.fhir import views

app_name = "interop"

urlpatterns = [
    path("metadata", views.metadata, name="fhir_metadata"),
    # -- endpoints of their own above this line --
    path("Patient/<str:resource_id>/$everything", views.everything, name="fhir_everything"),
    path("<str:type_name>/<str:resource_id>", views.read, name="fhir_read"),
    path("<str:type_name>", views.search_type, name="fhir_search"),
    re_path(r"^[\s\S]*$", views.nothing, name="fhir_nothing"),  # any path, newlines too
]
