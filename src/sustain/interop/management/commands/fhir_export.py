"""`sustain fhir-export`: a site's FHIR resources as NDJSON files, one per type (issue 16,
items 4 and 7; sustain.interop.fhir.export), as an operator exports them and CI validates them.

    sustain fhir-export --site "North Clinic" --out /tmp/north
    sustain fhir-export --site "North Clinic" --out /tmp/north --type Patient,Observation

Every type (or those --type names), with the machine's rights: no user, so one audit event (an
export, actor "cli") for the site. Prints one line per file: type, file, count. Refused, one
plain line on stderr and exit status 2, with nothing written: no such site, an unknown type,
--out an existing file, or a directory that cannot be written.
"""

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser
from django.db import transaction

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site
from sustain.care.management.commands._cli import PlainCommand, refuse
from sustain.interop.fhir import export

CLI = "cli"  # who exported, in the audit log


class Command(PlainCommand):
    help = "Write a site's FHIR R4 resources as NDJSON, one file per resource type."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", required=True, help="the site's name")
        parser.add_argument("--out", type=Path, required=True, help="the directory to write")
        parser.add_argument("--type", dest="types", help="resource types, comma separated")

    @transaction.atomic  # audited only once the files were written
    def handle(self, *args: Any, **options: Any) -> None:
        try:
            types = export.parse_types(options["types"])
        except export.BadRequest as bad:
            refuse(str(bad).replace("_type", "--type"))
        site = Site.objects.filter(name=options["site"].strip()).first()
        if site is None:
            refuse(f"there is no site named {options['site'][:60]!r}")
        out: Path = options["out"]
        if out.exists() and not out.is_dir():
            refuse(f"--out {out} is a file: name a directory")
        try:
            written, _ = export.write(export.plan_all(types), frozenset({site.pk}), out)
        except OSError as error:
            refuse(f"cannot write into {out}: {error.strerror}")
        total = sum(w.count for w in written)
        record_event(
            actor=None,
            username=CLI,
            action=AuditAction.EXPORT,
            category=DataCategory.PATIENT_RECORD,
            site=site,
            reason=f"FHIR NDJSON: {total} resources"[:40],
        )
        for w in written:
            self.stdout.write(f"{w.type}\t{out / w.file}\t{w.count}")
