from django.urls import path

from sustain.care import break_glass_views, protocol_views, views

app_name = "care"
urlpatterns = [
    path("", views.patient_list, name="patient_list"),
    path("patients/new/", views.patient_create, name="patient_create"),
    path("patients/export.csv", views.patient_export, name="patient_export"),
    path("patients/<int:patient_id>/details/", views.patient_edit, name="patient_edit"),
    path("patients/<int:patient_id>/allergies/", views.allergy_add, name="allergy_add"),
    path(
        "patients/<int:patient_id>/allergies/none/",
        views.no_known_allergies,
        name="no_known_allergies",
    ),
    path("allergies/<int:allergy_id>/remove/", views.allergy_remove, name="allergy_remove"),
    path("consents/<int:consent_id>/correct/", views.consent_correct, name="consent_correct"),
    path("patients/<int:patient_id>/enrol/", views.enrol, name="enrol"),
    path("patients/<int:patient_id>/consent/", views.consent_record, name="consent"),
    path("patients/<int:patient_id>/weight/", views.weight_record, name="weight"),
    path("patients/<int:patient_id>/height/", views.height_record, name="height"),
    path("patients/<int:patient_id>/address/", views.address_record, name="address"),
    path("patients/<int:patient_id>/indication/", views.indication_record, name="indication"),
    path("patients/<int:patient_id>/screen/", views.screen_sign, name="screen"),
    path("patients/<int:patient_id>/medications/", views.medication_add, name="medication_add"),
    path("medications/<int:medication_id>/stop/", views.medication_stop, name="medication_stop"),
    path("patients/<int:patient_id>/dose/", views.dose_set, name="dose_set"),
    path("patients/<int:patient_id>/dose/cosign/", views.dose_cosign, name="dose_cosign"),
    path("patients/<int:patient_id>/dose/withdraw/", views.dose_withdraw, name="dose_withdraw"),
    path("emergency-access/", break_glass_views.emergency_access, name="emergency_access"),
    path("emergency-access/end/", break_glass_views.emergency_end, name="emergency_end"),
    path(
        "emergency-access/reviews/", break_glass_views.emergency_reviews, name="emergency_reviews"
    ),
    path(
        "emergency-access/reviews/<int:grant_id>/",
        break_glass_views.emergency_review_close,
        name="emergency_review_close",
    ),
    path("alerts/", views.alert_list, name="alert_list"),
    path("alerts/export.csv", views.alert_export, name="alert_export"),
    path("alerts/<int:alert_id>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
    path("clinic-rules/", views.clinic_rules_page, name="clinic_rules"),
    path("clinic-rules/<slug:part>/", views.clinic_rules_change, name="clinic_rules_change"),
    path("protocols/", protocol_views.protocol_list, name="protocol_list"),
    path(
        "protocols/<slug:key>/v<int:version>/",
        protocol_views.protocol_detail,
        name="protocol_detail",
    ),
    path(
        "protocols/<slug:key>/v<int:version>/new-version/",
        protocol_views.protocol_edit,
        name="protocol_edit",
    ),
]
