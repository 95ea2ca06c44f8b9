from django.urls import path

from sustain.infusion import views

app_name = "infusion"
urlpatterns = [
    path("visits/<int:appointment_id>/infusion/", views.chairside_page, name="chairside"),
    path("visits/<int:appointment_id>/infusion/check-in/", views.check_in, name="check_in"),
    path("visits/<int:appointment_id>/infusion/record.pdf", views.record_pdf, name="record_pdf"),
    path(
        "visits/<int:appointment_id>/infusion/<slug:step>/",
        views.chairside_step,
        name="step",
    ),
    path(
        "visits/<int:appointment_id>/adverse-events/",
        views.adverse_event_record,
        name="adverse_event",
    ),
    path("patients/<int:patient_id>/titrate/", views.titrate, name="titrate"),
]
