"""CSV exports of the list pages (issue 13, item 8): one helper every export goes through.

Each export is one audit event (action "export", the list's category and site) whose reason
names the list and the number of rows, written before the file is sent. Instants are written
in UTC, ISO 8601 with a "Z", in columns whose names end in "_utc"; calendar days are plain
dates. A cell that a spreadsheet would read as a formula (it starts with =, +, -, @, a tab or
a carriage return) gets a leading apostrophe (OWASP, "CSV Injection"), so opening the file
runs nothing. The caller chooses the columns the user's role may see; the rows are the same
query the page shows, with its filters, every page of it.
"""

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.http import HttpResponse

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site, User

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | Decimal | dt.date | dt.datetime | None


def cell(value: Cell) -> str:
    """One value as its CSV text: an aware datetime in UTC ("2026-11-30T13:00:00Z"), a date
    as YYYY-MM-DD, None as empty, a number as itself, and text that a spreadsheet would run
    as a formula neutralised."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("an export writes aware datetimes only (in UTC)")
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | Decimal):  # a number, negative or not, is not a formula
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_export(
    *,
    user: User,
    category: DataCategory,
    name: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    site: Site | None = None,
    filename: str = "",
) -> HttpResponse:
    """The rows as a CSV download (`filename`, else `name`, .csv), audited as one export
    whose reason names the list (`name`, a few words) and the count of rows."""
    rows = list(rows)
    record_event(
        actor=user,
        action=AuditAction.EXPORT,
        category=category,
        site=site,
        reason=f"{name} csv: {len(rows)} row{'' if len(rows) == 1 else 's'}",
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename or name}.csv"'
    writer = csv.writer(response, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([cell(value) for value in row] for row in rows)
    return response
