from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "sustain.ledger"
    label = "ledger"
    verbose_name = "Controlled-substance ledger"
