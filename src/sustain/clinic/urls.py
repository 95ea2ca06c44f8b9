from django.urls import path

from sustain.clinic import views

app_name = "clinic"
urlpatterns = [
    path("patients/<int:patient_id>/", views.patient_detail, name="patient_detail"),
    path(
        "patients/<int:patient_id>/assessments/new/",
        views.assessment_create,
        name="assessment_create",
    ),
    path("patients/<int:patient_id>/course-status/", views.course_status, name="course_status"),
    path("patients/<int:patient_id>/review/", views.course_review, name="review"),
    path("patients/<int:patient_id>/extend/", views.course_extend, name="extend"),
    path("patients/<int:patient_id>/invite/", views.self_report_invite, name="invite"),
    path("patients/<int:patient_id>/consent.pdf", views.consent_pdf, name="consent_pdf"),
    path("patients/<int:patient_id>/record.fhir.json", views.record_fhir, name="record_fhir"),
    path("patients/<int:patient_id>/record.pdf", views.record_pdf, name="record_pdf"),
    path("visits/<int:appointment_id>/discharge.pdf", views.discharge_pdf, name="discharge_pdf"),
    path(
        "protocols/<slug:key>/v<int:version>/consent.pdf",
        views.blank_consent_pdf,
        name="blank_consent_pdf",
    ),
]
