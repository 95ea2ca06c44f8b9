from typing import Any

from django.core.management.base import BaseCommand

from sustain.accounts.roles import sync_roles


class Command(BaseCommand):
    help = (
        "Give each staff role exactly the permissions of the role matrix "
        "(sustain.accounts.roles); migrate runs this after every migration."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for role, count in sync_roles().items():
            self.stdout.write(f"{role.label}: {count} permissions")
