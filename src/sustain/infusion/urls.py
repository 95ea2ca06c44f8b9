from django.urls import path

from sustain.infusion import views

app_name = "infusion"
urlpatterns = [
    path("visits/<int:appointment_id>/infusion/", views.infusion_record, name="infusion_record"),
    path(
        "visits/<int:appointment_id>/adverse-events/",
        views.adverse_event_record,
        name="adverse_event",
    ),
    path("patients/<int:patient_id>/titrate/", views.titrate, name="titrate"),
]
