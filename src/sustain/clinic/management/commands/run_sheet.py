"""`sustain run-sheet`: the downtime run sheet of a day, encrypted (sustain.clinic.run_sheet,
BTG-04), as the worker writes it every night for each site's tomorrow.

    SUSTAIN_RUN_SHEET_PASSWORD=... sustain run-sheet --date 2026-11-24 --out sheet.pdf
    SUSTAIN_RUN_SHEET_PASSWORD=... sustain run-sheet --date 2026-11-24 --out sheet.pdf --site 1

Every site's visits of that (local) day, one section a site, or one site's with --site. The
file is AES-256 encrypted with SUSTAIN_RUN_SHEET_PASSWORD and has mode 0600. Refused, one plain
line on stderr and exit status 2, with nothing written: no password, a bad date, no such site.
"""

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser
from django.db import transaction
from django.utils import timezone

from sustain.accounts.bounds import check_date
from sustain.accounts.models import Site
from sustain.care.management.commands._cli import PlainCommand, refuse
from sustain.clinic import run_sheet
from sustain_core.errors import ClinicalValueError

CLI = "cli"  # who wrote the sheet, in the audit log


def _date(text: str) -> dt.date:
    try:
        return check_date(dt.date.fromisoformat(text.strip()), "date")
    except (ValueError, ClinicalValueError):
        raise argparse.ArgumentTypeError(
            f"--date must be a date such as 2026-11-30 (1900 to 2199); got {text!r}"
        ) from None


class Command(PlainCommand):
    help = "Write the encrypted downtime run sheet of a day's visits (BTG-04)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", dest="day", required=True, type=_date, help="YYYY-MM-DD")
        parser.add_argument("--out", type=Path, required=True, help="the PDF file to write")
        parser.add_argument("--site", type=int, help="site id (default: every site)")

    @transaction.atomic  # the export is audited only if the sheet was written
    def handle(self, *args: Any, **options: Any) -> None:
        sites = Site.objects.order_by("name")
        if options["site"] is not None:
            sites = sites.filter(pk=options["site"])
            if not sites.exists():
                refuse(f"there is no site {options['site']}")
        out: Path = options["out"]
        if out.is_dir():
            refuse(f"--out {out} is a directory: name the file to write")
        try:
            path = run_sheet.write_sheet(
                list(sites), options["day"], out, now=timezone.now(), by=CLI
            )
        except run_sheet.RunSheetRefused as refused:
            refuse(str(refused))
        except OSError as error:
            refuse(f"cannot write {out}: {error.strerror}")
        self.stdout.write(f"wrote {path} (AES-256, mode 0600)")
