from django.urls import include, path

urlpatterns = [
    path("accounts/", include("sustain.accounts.urls")),
    path("", include("sustain.portal.urls")),
    path("", include("sustain.scheduling.urls")),
    path("", include("sustain.care.urls")),
]
