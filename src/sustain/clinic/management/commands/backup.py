"""`sustain backup FILE`: an encrypted, checksummed snapshot of the database (OPS-01..OPS-03;
sustain.clinic.backup)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sustain.clinic.backup import BackupRefused, create_backup, new_key


class Command(BaseCommand):
    help = (
        "Back up the whole database to FILE, encrypted with SUSTAIN_BACKUP_KEY, with a SHA-256 "
        "checksum and a manifest (SQLite: the online backup API; PostgreSQL: pg_dump). The "
        "file is written atomically with mode 0600; an existing FILE is never overwritten."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="where to write the backup (a new file)")
        parser.add_argument(
            "--new-key",
            action="store_true",
            help="print a fresh SUSTAIN_BACKUP_KEY and exit (keep it apart from the backups)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_key"]:
            self.stdout.write(new_key())
            return
        if not options["file"]:
            raise CommandError("name the file to write: sustain backup FILE", returncode=2)
        try:
            done = create_backup(Path(options["file"]), now=timezone.now())
        except BackupRefused as refused:
            raise CommandError(f"refused: {refused}", returncode=2) from None
        tables = done.manifest["tables"]
        self.stdout.write(
            f"backup written: {done.path} ({done.size} bytes, {done.vendor}, "
            f"{len(tables)} tables, {sum(tables.values())} rows, "
            f"audit head {done.manifest['audit_head']['seq']}, "
            f"ledger head {done.manifest['ledger_head']['seq']})\n"
            f"SHA-256 {done.checksum}"
        )
