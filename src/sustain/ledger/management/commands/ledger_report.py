"""`sustain ledger-report`: the dispensing record of a site for an inspector.

    sustain ledger-report --site 1 --from 2026-11-01 --to 2026-11-30 --by alex.admin
    sustain ledger-report --site 1 --from 2026-11-01 --to 2026-11-30 --by alex.admin \\
        --pdf november.pdf

Without --pdf or --csv the record is printed to stdout as CSV (sustain.ledger.report's
columns). --by names who runs it: a clinic administrator or an auditor on the site's staff;
the run is audited as their export, and patients are named only if their role views patients.
Every bad value is one plain line on stderr and exit status 2.
"""

import io
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser
from django.db import transaction
from django.utils import timezone

from sustain.accounts.bounds import date_argument
from sustain.accounts.models import Site, User
from sustain.care.management.commands._cli import PlainCommand, refuse
from sustain.ledger import report
from sustain_core.errors import ClinicalValueError

_date = date_argument  # an ISO date within sustain.accounts.bounds (TST-03)


class Command(PlainCommand):
    help = "The dispensing record of a site for a range of its days, as CSV or PDF."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", type=int, required=True, help="site id")
        parser.add_argument("--from", dest="start", required=True, type=_date("--from"))
        parser.add_argument("--to", dest="end", required=True, type=_date("--to"))
        parser.add_argument(
            "--by", required=True, help="username of the administrator or auditor running it"
        )
        output = parser.add_mutually_exclusive_group()
        output.add_argument("--pdf", type=Path, help="write the record as a PDF to this file")
        output.add_argument("--csv", type=Path, help="write the record as CSV to this file")

    @transaction.atomic  # the export is audited only if the record was written
    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(pk=options["site"]).first()
        if site is None:
            refuse(f"there is no site {options['site']}")
        by = User.objects.filter(username=options["by"], is_active=True).first()
        if by is None:
            refuse(f"there is no active user {options['by']!r}")
        pdf, csv_path = options["pdf"], options["csv"]
        output = "pdf" if pdf else "csv"
        try:
            record = report.record_for_user(
                user=by, site=site, start=options["start"], end=options["end"], output=output,
                now=timezone.now(),
            )  # fmt: skip
        except ClinicalValueError as error:
            refuse(error.message)
        if pdf is not None:
            self._write(pdf, report.render_pdf(record, printed_at=timezone.now(), tz=site.tz))
            self.stdout.write(f"dispensing record of {site.name} written to {pdf}")
            return
        text = io.StringIO()
        report.write_csv(record, text)
        if csv_path is None:
            self.stdout.write(text.getvalue(), ending="")
            return
        self._write(csv_path, text.getvalue().encode())
        self.stdout.write(f"dispensing record of {site.name} written to {csv_path}")

    def _write(self, path: Path, content: bytes) -> None:
        try:
            path.write_bytes(content)
        except OSError as error:
            refuse(f"cannot write {path}: {error.strerror}")
