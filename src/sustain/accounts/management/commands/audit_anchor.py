from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from sustain.accounts.chain import write_anchors


class Command(BaseCommand):
    help = (
        "Append a signed checkpoint of every hash chain's head (audit trail: one per site's "
        "lane, ledger) to the "
        "anchor file outside the database (SUSTAIN_AUDIT_ANCHOR_PATH); the worker does this "
        "every SUSTAIN_AUDIT_ANCHOR_EVERY_MINUTES."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for line in write_anchors(timezone.now()):
            lane = f" lane {line['lane']}" if line.get("lane") else ""
            self.stdout.write(f"anchored {line['chain']}{lane} at seq {line['seq']} ({line['at']})")
