from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from sustain.scheduling.reminders import send_due_reminders


class Command(BaseCommand):
    help = "Send the visit reminders due now (the worker does this every 15 min)."

    def handle(self, *args: Any, **options: Any) -> None:
        sent = send_due_reminders(now=timezone.now())
        self.stdout.write(f"{sent} visit reminders sent")
