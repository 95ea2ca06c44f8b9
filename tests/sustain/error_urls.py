"""The project's URLs and one view that fails, for the production error page test (SEC-19)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from sustain.urls import urlpatterns as project


def fails(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret detail: DATABASE_URL=postgres://user:pw@db/sustain")


urlpatterns = [*project, path("fails/", fails)]
