from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "sustain.scheduling"
    label = "scheduling"
