"""`sustain protocol-check FILE`: validate a protocol file (TOML or JSON) before it is used.

    sustain protocol-check my-protocol.toml      the library's shape (sustain protocols --json)
    sustain protocol-check clinic-version.json   a clinic version as the edit page shows it

Prints one line and exits 0 when the protocol passes every rule and every platform guardrail
(sustain_core.protocols.guardrails), then a line for each warning that refuses nothing (a
measurement plan that asks for an instrument more often than its recall period,
sustain_core.protocols.plan_warnings); otherwise exits 2 naming every broken rule it finds, one
a line. A missing or unreadable file, text that is not TOML or JSON, or a value of the wrong
type is one plain line and exit 2, never a traceback.
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sustain_core import protocols
from sustain_core.errors import ClinicalValueError, RulesBroken

INVALID = 2


class Command(BaseCommand):
    help = (
        "Check a protocol file (.toml or .json): exit 0 when it passes every rule and "
        "guardrail, else 2 naming every broken rule."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a protocol file: <name>.toml or <name>.json")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        fmt = path.suffix.lower().lstrip(".")
        if fmt not in protocols.PROTOCOL_FORMATS:
            raise CommandError(
                f"{path}: name the file .toml or .json (its format)", returncode=INVALID
            )
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file", returncode=INVALID) from None
        except UnicodeDecodeError:
            raise CommandError(f"{path}: not UTF-8 text", returncode=INVALID) from None
        except OSError as error:
            raise CommandError(
                f"{path}: cannot be read ({error.strerror})", returncode=INVALID
            ) from None
        try:
            protocol = protocols.protocol_from_text(text, fmt=fmt)
        except RulesBroken as broken:
            lines = "".join(f"\n  {error.field}: {error.message}" for error in broken.errors)
            raise CommandError(
                f"{path}: {len(broken.errors)} rules broken:{lines}", returncode=INVALID
            ) from None
        except ClinicalValueError as error:
            raise CommandError(
                f"{path}: {error.field}: {error.message}", returncode=INVALID
            ) from None
        self.stdout.write(
            f"{path}: {protocol.key} v{protocol.version} passes every rule and guardrail"
        )
        for warning in protocols.plan_warnings(protocol):
            self.stdout.write(f"  warning: {warning}")
