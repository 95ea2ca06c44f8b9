from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "sustain.accounts"
    label = "accounts"

    def ready(self) -> None:
        from sustain.accounts import roles, signals  # noqa: F401, PLC0415 - signals connect on import

        post_migrate.connect(roles.sync_after_migrate, sender=self)
