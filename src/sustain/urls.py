from django.urls import include, path

from sustain.accounts.health import healthz
from sustain.api import api
from sustain.interop import clients

urlpatterns = [
    path("healthz", healthz, name="healthz"),  # no sign-in: sustain.accounts.health
    path("accounts/", include("sustain.accounts.urls")),
    path("api/v1/", api.urls),
    # Tokens for other systems (sustain.interop.clients); before the FHIR API's own paths.
    path("fhir/R4/auth/token", clients.token, name="fhir-token"),
    path("fhir-clients/", include("sustain.interop.client_urls")),
    path("fhir/R4/", include("sustain.interop.urls")),
    path("ledger/", include("sustain.ledger.urls")),
    path("outcomes/", include("sustain.reports.urls")),
    path("", include("sustain.portal.urls")),
    path("", include("sustain.clinic.urls")),
    path("", include("sustain.infusion.urls")),
    path("", include("sustain.scheduling.urls")),
    path("", include("sustain.care.urls")),
]
