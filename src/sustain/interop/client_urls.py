from django.urls import path

from sustain.interop import client_views

app_name = "fhir_clients"
urlpatterns = [
    path("", client_views.client_list, name="list"),
    path("<int:pk>/revoke/", client_views.client_revoke, name="revoke"),
]
