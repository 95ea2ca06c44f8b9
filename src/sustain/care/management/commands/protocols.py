import json
from decimal import Decimal
from typing import Any, cast

from django.core.management.base import BaseCommand, CommandParser
from django.template.defaultfilters import pluralize

from sustain_core import protocols
from sustain_core.numbers import plain


class Command(BaseCommand):
    help = "List the protocol library (key@version, condition, series, regimen, instrument)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object per protocol")

    def handle(self, *args: Any, **options: Any) -> None:
        for protocol in sorted(protocols.PROTOCOLS.values(), key=lambda p: (p.key, p.version)):
            regimen = protocol.regimen
            dose = (
                f"{plain(regimen.mg_per_kg)} mg/kg over {regimen.infusion_minutes} min"
                if regimen.mg_per_kg is not None
                else f"{plain(cast(Decimal, regimen.mg_per_kg_per_h))} mg/kg/h ≤ "
                f"{plain(cast(Decimal, regimen.cap_mg_per_h))} mg/h "
                f"for {regimen.infusion_minutes} min"
            )
            if options["json"]:
                self.stdout.write(json.dumps(protocols.protocol_to_dict(protocol), default=str))
            else:
                series = protocol.series
                self.stdout.write(
                    f"{protocol.key}@{protocol.version}  [{protocol.condition}]  "
                    f"{series.count} infusion{pluralize(series.count)} within "
                    f"{series.max_span.days} day{pluralize(series.max_span.days)}, {dose}, "
                    f"{protocol.instrument}: {protocol.title}"
                )
