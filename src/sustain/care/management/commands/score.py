"""`sustain score`: score paper forms and research exports with the published rules.

    sustain score phq9 1 2 0 3 1 0 2 1 0          answers in item order ("-" = not answered)
    sustain score bpi_sf worst=7 least=2 ...       or item=value pairs
    sustain score gad7 --csv answers.csv           one response per row (columns = item keys;
                                                   other columns, e.g. id, are echoed back)

Prints one JSON object per response: instrument, total, subscales, severity, flags, valid,
errors. Exits with status 2 when any response is refused.
"""

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sustain_core import instruments
from sustain_core.errors import ClinicalValueError

INVALID = 2


def _number(value: int | Decimal) -> int | float:
    """JSON number for a score: exact for integers; Decimals here have at most 2 places."""
    return int(value) if value == int(value) else float(value)


def _answer(raw: str) -> int | str | None:
    """An int where the text is one; "-" or "" is not answered; anything else is kept as text
    so that scoring refuses it with the item's name and allowed values."""
    text = raw.strip()
    if text in {"", "-"}:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def score_one(code: str, answers: dict[str, Any]) -> dict[str, Any]:
    try:
        result = instruments.score(code, answers)
    except ClinicalValueError as error:
        return {
            "instrument": code, "total": None, "subscales": {}, "severity": None, "flags": [],
            "answered": None, "prorated": None, "valid": False, "errors": [str(error)],
        }  # fmt: skip
    return {
        "instrument": code,
        "total": _number(result.total),
        "subscales": {key: _number(value) for key, value in result.subscales.items()},
        "severity": result.severity,
        "flags": list(result.flags),
        "answered": result.answered,
        "prorated": result.prorated,
        "valid": True,
        "errors": [],
    }


class Command(BaseCommand):
    help = "Score a questionnaire response (or a CSV of them) by its published rule, as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("instrument", help=f"one of {', '.join(instruments.INSTRUMENTS)}")
        parser.add_argument("answers", nargs="*", help="answers in item order, or item=value")
        parser.add_argument("--csv", type=Path, help="a CSV file with one response per row")

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["instrument"]
        try:
            instrument = instruments.get_instrument(code)
        except ClinicalValueError as error:
            raise CommandError(str(error), returncode=INVALID) from None
        keys = [item.key for item in instrument.items]
        if options["csv"]:
            results = list(self._rows(code, keys, options["csv"]))
        else:
            results = [score_one(code, self._answers(keys, options["answers"]))]
        for result in results:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        refused = [r for r in results if not r["valid"]]
        if refused:
            raise CommandError(
                f"{len(refused)} of {len(results)} responses refused: {refused[0]['errors'][0]}",
                returncode=INVALID,
            )

    def _answers(self, keys: list[str], raw: list[str]) -> dict[str, Any]:
        if raw and all("=" in part for part in raw):
            pairs = (part.split("=", 1) for part in raw)
            return {key.strip(): _answer(value) for key, value in pairs}
        if any("=" in part for part in raw):
            raise CommandError("give answers either all in item order or all as item=value")
        if len(raw) > len(keys):
            raise CommandError(
                f"{len(raw)} answers given; this instrument has {len(keys)} items",
                returncode=INVALID,
            )
        return {key: _answer(value) for key, value in zip(keys, raw, strict=False)}

    def _rows(self, code: str, keys: list[str], path: Path) -> Any:
        with path.open(newline="", encoding="utf-8") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                answers = {key: _answer(row[key]) for key in keys if key in row}
                extra = {k: v for k, v in row.items() if k not in keys}
                yield {"row": number, **extra, **score_one(code, answers)}
