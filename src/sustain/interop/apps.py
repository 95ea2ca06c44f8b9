from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "sustain.interop"
    label = "interop"
