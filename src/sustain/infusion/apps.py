from django.apps import AppConfig


class InfusionConfig(AppConfig):
    name = "sustain.infusion"
    label = "infusion"
