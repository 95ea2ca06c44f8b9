from django.apps import AppConfig


class ClinicConfig(AppConfig):
    """The top layer: pages and commands that gather from every app (the patient page, the
    demo clinic, the worker). It has no models."""

    name = "sustain.clinic"
    label = "clinic"

    def ready(self) -> None:
        from sustain.clinic import checks  # noqa: F401, PLC0415 - the deploy check registers on import
