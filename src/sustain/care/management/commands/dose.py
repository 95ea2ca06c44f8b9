import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sustain.care.management.commands._protocol_arg import library_protocol
from sustain_core.errors import ClinicalValueError
from sustain_core.session_dose import plan_protocol_dose


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CommandError(f"not a number: {text!r}", returncode=2) from None


class Command(BaseCommand):
    help = "One session's dose, drawn volume and pump rate for a protocol and weight, as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--protocol", required=True, help="key@version (see sustain protocols)")
        parser.add_argument("--weight-kg", required=True, type=_decimal)
        parser.add_argument("--vial-mg-per-ml", required=True, type=_decimal)

    def handle(self, *args: Any, **options: Any) -> None:
        protocol = library_protocol(options["protocol"])
        try:
            plan = plan_protocol_dose(
                protocol, weight_kg=options["weight_kg"], vial_mg_per_ml=options["vial_mg_per_ml"]
            )
        except ClinicalValueError as error:
            raise CommandError(str(error), returncode=2) from None
        values = {"protocol": f"{protocol.key}@{protocol.version}", **vars(plan)}
        # Decimals as strings: the exact values, with their documented precision.
        self.stdout.write(json.dumps(values, default=str))
