from django.urls import include, path

from sustain.api import api

urlpatterns = [
    path("accounts/", include("sustain.accounts.urls")),
    path("api/v1/", api.urls),
    path("ledger/", include("sustain.ledger.urls")),
    path("", include("sustain.portal.urls")),
    path("", include("sustain.clinic.urls")),
    path("", include("sustain.infusion.urls")),
    path("", include("sustain.scheduling.urls")),
    path("", include("sustain.care.urls")),
]
