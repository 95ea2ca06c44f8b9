from typing import Any

from django.core.management.base import BaseCommand

from sustain.accounts.audit import verify_chain
from sustain.accounts.commands import CheckFailed


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain; exit non-zero at the first changed, inserted "
        "or deleted row."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if not report.ok:
            raise CheckFailed(
                f"audit chain BROKEN after {report.rows_checked} good rows: {report.problem}"
            )
        self.stdout.write(f"audit chain OK: {report.rows_checked} rows verified")
