"""`sustain score`: score paper forms and research exports with the published rules.

    sustain score phq9 1 2 0 3 1 0 2 1 0          answers in item order ("-" = not answered)
    sustain score bpi_sf worst=7 least=2 ...       or item=value pairs
    sustain score gad7 --csv answers.csv           one response per row (columns = item keys;
                                                   other columns, e.g. id, are echoed back)

Prints one JSON object per response: instrument, total, subscales, severity, flags, valid,
errors. Exits with status 2 when any response is refused, and for every other bad value (an
unknown instrument, answers that mix the two forms, a CSV that cannot be read or holds no
response), each said in one line on stderr, never a traceback.
"""

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from sustain.care.management.commands._cli import PlainCommand, refuse
from sustain_core import instruments
from sustain_core.errors import ClinicalValueError


def _number(value: int | Decimal) -> int | float:
    """JSON number for a score: exact for integers; Decimals here have at most 2 places."""
    return int(value) if value == int(value) else float(value)


def _answer(raw: str | None) -> int | str | None:
    """An int where the text is one; "-", "" or a cell the CSV row lacks is not answered;
    anything else is kept as text so that scoring refuses it with the item's name and allowed
    values."""
    text = (raw or "").strip()
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


class Command(PlainCommand):
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
            refuse(error.message)
        keys = [item.key for item in instrument.items]
        if options["csv"]:
            results = self._rows(code, keys, options["csv"])
        else:
            results = [score_one(code, self._answers(keys, options["answers"]))]
        for result in results:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        refused = [r for r in results if not r["valid"]]
        if refused:
            # The JSON names the item for code; the line on stderr is the plain message.
            first = refused[0]["errors"][0].split(": ", 1)[-1]
            refuse(f"{len(refused)} of {len(results)} responses refused: {first}")

    def _answers(self, keys: list[str], raw: list[str]) -> dict[str, Any]:
        if raw and all("=" in part for part in raw):
            pairs = (part.split("=", 1) for part in raw)
            return {key.strip(): _answer(value) for key, value in pairs}
        if any("=" in part for part in raw):
            refuse("give answers either all in item order or all as item=value")
        if len(raw) > len(keys):
            refuse(f"{len(raw)} answers given; this instrument has {len(keys)} items")
        return {key: _answer(value) for key, value in zip(keys, raw, strict=False)}

    def _rows(self, code: str, keys: list[str], path: Path) -> list[dict[str, Any]]:
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as error:
            refuse(f"cannot read {path}: {error.strerror or error}")
        except (UnicodeDecodeError, csv.Error) as error:
            refuse(f"{path} is not a UTF-8 CSV file: {error}")
        if not rows:
            refuse(f"{path} holds no response: a header row and one row per response")
        results = []
        for number, row in enumerate(rows, start=2):
            answers = {key: _answer(row[key]) for key in keys if key in row}
            extra = {k: v for k, v in row.items() if k not in keys and k is not None}
            results.append({"row": number, **extra, **score_one(code, answers)})
        return results
