from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "sustain.care"
    label = "care"
