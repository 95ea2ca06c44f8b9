import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sustain.accounts.bounds import date_argument
from sustain.care.management.commands._protocol_arg import library_protocol
from sustain_core import series
from sustain_core.errors import ClinicalValueError


class Command(BaseCommand):
    help = "The dates a protocol's induction series gives from a start, in a clinic open daily."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--protocol", required=True, help="key@version (see sustain protocols)")
        parser.add_argument("--start", required=True, type=date_argument("the start"))

    def handle(self, *args: Any, **options: Any) -> None:
        protocol = library_protocol(options["protocol"])
        try:
            dates = series.plan_series_dates(protocol.series, start=options["start"])
        except ClinicalValueError as error:
            raise CommandError(str(error), returncode=2) from None
        self.stdout.write(
            json.dumps(
                {
                    "protocol": f"{protocol.key}@{protocol.version}",
                    "dates": [d.isoformat() for d in dates],
                    "weekdays": [f"{d:%a}" for d in dates],
                }
            )
        )
