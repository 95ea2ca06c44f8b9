from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from sustain.accounts.health import start_heartbeat
from sustain.clinic.tasks import ensure_periodic_tasks


class Command(BaseCommand):
    help = "Run the background task worker (django-tasks database backend)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch", action="store_true", help="Run every waiting task, then exit."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Every periodic sweep queued, tasks a killed worker left "running" recovered (issue
        # 14); the clinic's housekeeping task repeats this while the worker runs.
        ensure_periodic_tasks(now=timezone.now())
        if not options["batch"]:
            start_heartbeat()  # /healthz: this worker is alive (sustain.accounts.health)
        extra = ["--batch"] if options["batch"] else []
        call_command("db_worker", "--no-startup-delay", *extra)
