from typing import Any

from django.core.management.base import BaseCommand

from sustain.accounts.commands import CheckFailed
from sustain.ledger.chain import verify_chain


class Command(BaseCommand):
    help = (
        "Verify the controlled-substance ledger's hash chain; exit 1 naming the first entry "
        "that was changed, inserted or deleted."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if not report.ok:
            raise CheckFailed(
                f"ledger chain BROKEN after {report.entries_checked} good entries: {report.problem}"
            )
        self.stdout.write(f"ledger chain OK: {report.entries_checked} entries verified")
