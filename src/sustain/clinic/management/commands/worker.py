from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from sustain.accounts.health import start_heartbeat
from sustain.accounts.tasks import schedule_next_retry_sweep
from sustain.portal.tasks import schedule_next_run
from sustain.scheduling.tasks import schedule_next_reminder_sweep


class Command(BaseCommand):
    help = "Run the background task worker (django-tasks database backend)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch", action="store_true", help="Run every waiting task, then exit."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        schedule_next_run()  # the periodic self-report sweep keeps itself queued from here
        schedule_next_reminder_sweep()  # and so does the visit-reminder sweep
        schedule_next_retry_sweep()  # and the retry of failed messages
        if not options["batch"]:
            start_heartbeat()  # /healthz: this worker is alive (sustain.accounts.health)
        extra = ["--batch"] if options["batch"] else []
        call_command("db_worker", "--no-startup-delay", *extra)
