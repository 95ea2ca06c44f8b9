from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "sustain.accounts"
    label = "accounts"

    def ready(self) -> None:
        from sustain.accounts import roles, signals  # noqa: F401, PLC0415 - signals connect on import

        post_migrate.connect(roles.sync_after_migrate, sender=self)
        post_migrate.connect(start_audit_trail, sender=self)


def start_audit_trail(sender: AppConfig, **kwargs: Any) -> None:
    """post_migrate: a fresh install's audit trail starts with one event (issue 14)."""
    from sustain.accounts.audit import start_trail  # noqa: PLC0415 - models are loaded now

    if kwargs.get("using", "default") == "default":
        start_trail()
