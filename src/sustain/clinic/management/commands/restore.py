"""`sustain restore FILE`: restore a backup into an empty database and verify it (OPS-01,
OPS-03; sustain.clinic.backup)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sustain.accounts.commands import CheckFailed
from sustain.clinic.backup import BackupRefused, restore_backup


class Command(BaseCommand):
    help = (
        "Restore FILE (made by `sustain backup` from the same kind of database) into this "
        "install's database, which must be empty, then verify it: row counts and migrations "
        "against the backup's manifest, the audit chain, the ledger chain and balances, and "
        "on SQLite PRAGMA integrity_check. Exit 0 only when every check holds; 2 when refused "
        "(nothing restored); 1 when the restored copy fails a check."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the backup to restore")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = restore_backup(Path(options["file"]))
        except BackupRefused as refused:
            raise CommandError(f"refused: {refused}", returncode=2) from None
        for line in report.lines:
            self.stdout.write(line)
        if not report.ok:
            raise CheckFailed(
                f"restore NOT verified: {len(report.problems)} check(s) failed (see above)"
            )
        self.stdout.write("restore verified: every check holds")
