from django.apps import AppConfig


class ClinicConfig(AppConfig):
    """The top layer: pages and commands that gather from every app (the patient page, the
    demo clinic, the worker). It has no models."""

    name = "sustain.clinic"
    label = "clinic"
