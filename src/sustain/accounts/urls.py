from django.contrib.auth import views as auth_views
from django.urls import path

from sustain.accounts import staff_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", staff_views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("second-factor/", staff_views.second_factor_verify, name="second_factor_verify"),
    path("second-factor/enrol/", staff_views.second_factor_enrol, name="second_factor_enrol"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path("audit/export.fhir.json", views.audit_export_fhir, name="audit_export_fhir"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/dead/", views.dead_letters, name="dead_letters"),
    path("outbox/<int:message_id>/send-again/", views.send_again, name="send_again"),
    # The SMS provider's delivery reports: no session; the request's signature (keyed with the
    # provider's auth token) is the credential.
    path("notify/sms-status/", views.sms_status, name="sms_status"),
    path("staff/", staff_views.staff_accounts, name="staff"),
    path("staff/invite/", staff_views.staff_invite, name="staff_invite"),
    path("staff/<int:user_id>/", staff_views.staff_account, name="staff_account"),
    path("staff/<int:user_id>/roles/", staff_views.staff_roles, name="staff_roles"),
    path("staff/<int:user_id>/deactivate/", staff_views.staff_deactivate, name="staff_deactivate"),
    path("staff/<int:user_id>/reactivate/", staff_views.staff_reactivate, name="staff_reactivate"),
    path("staff/<int:user_id>/unlock/", staff_views.staff_unlock, name="staff_unlock"),
    path(
        "staff/<int:user_id>/reset-password/",
        staff_views.staff_reset_password,
        name="staff_reset_password",
    ),
    path(
        "staff/<int:user_id>/reset-second-factor/",
        staff_views.staff_reset_second_factor,
        name="staff_reset_second_factor",
    ),
    # Public: the link in an invitation or a reset is the credential (its token works once).
    path(
        "set-password/<uidb64>/<token>/", staff_views.SetPasswordView.as_view(), name="set_password"
    ),
    path("set-password/done/", staff_views.SetPasswordDoneView.as_view(), name="set_password_done"),
]
