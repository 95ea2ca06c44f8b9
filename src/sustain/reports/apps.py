from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "sustain.reports"
    label = "reports"
