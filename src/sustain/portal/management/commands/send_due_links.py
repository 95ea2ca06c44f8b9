from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from sustain.portal.tasks import invite_due_patients


class Command(BaseCommand):
    help = "Send self-report links for every measure due now (the worker does this every 15 min)."

    def handle(self, *args: Any, **options: Any) -> None:
        sent = invite_due_patients(now=timezone.now())
        self.stdout.write(f"{sent} self-report links sent")
