from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "sustain.accounts"
    label = "accounts"

    def ready(self) -> None:
        from sustain.accounts import signals  # noqa: F401, PLC0415 - connects login auditing
