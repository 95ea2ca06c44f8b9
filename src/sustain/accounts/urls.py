from django.contrib.auth import views as auth_views
from django.urls import path

from sustain.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path("outbox/", views.outbox, name="outbox"),
    # The SMS provider's delivery reports: no session; the request's signature (keyed with the
    # provider's auth token) is the credential.
    path("notify/sms-status/", views.sms_status, name="sms_status"),
]
