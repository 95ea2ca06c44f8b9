"""`sustain fhir-import PATH [--site NAME]` (sustain.interop.importer says what is taken)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sustain.interop import importer

INVALID = 2


class Command(BaseCommand):
    help = (
        "Import patients and their conditions, medications, weights and heights from FHIR R4 "
        "Bundles (.json) or NDJSON (.ndjson), a file or a directory of them. A second import "
        "of the same records changes nothing; every resource not taken is listed with its "
        "file, line and reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="a .json or .ndjson file, or a directory of them")
        parser.add_argument("--site", help="the site's name or number (the only site if one)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            site = importer.site_named(options["site"])
            report = importer.run(Path(options["path"]), site, now=timezone.now())
        except ValueError as error:  # BadPath, an unknown site
            raise CommandError(str(error), returncode=INVALID) from None
        for line in report.lines():
            self.stdout.write(line)
