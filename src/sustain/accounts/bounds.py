"""The outer bounds of any date typed into Sustain (TST-03: no 500 on any input).

A date outside these years is refused with a plain message before anything computes with it:
date arithmetic near year 1 or 9999 overflows (``date.max + 1 day`` raises), and no clinic
record, visit or birth date lies there. Rules with a narrower meaning (a birth date not in the
future, a booking within the planning horizon) check their own range inside these bounds.
Forms take their dates through BoundedDateField and BoundedDateTimeField; a page reads a date
from its query string through ``query_date``.
"""

import argparse
import datetime as dt
from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from sustain_core.errors import OutOfRange

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)
# Whole numbers typed into a form: an id or count within PostgreSQL's integer (bigint for a
# ledger entry's number), a vital sign within three digits (the rules judge what is plausible).
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1
VITAL_MAX = 999


def check_date(value: dt.date, field: str, what: str = "the date") -> dt.date:
    """``value`` if it lies within EARLIEST_DATE..LATEST_DATE, else OutOfRange naming ``field``."""
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise OutOfRange(
            field,
            f"{what} must be between {EARLIEST_DATE:%d %B %Y} and {LATEST_DATE:%d %B %Y}; "
            f"got {value.isoformat()}",
        )
    return value


def date_argument(what: str) -> Callable[[str], dt.date]:
    """An argparse type for the `sustain` commands: an ISO date within the bounds, else one
    plain line naming `what` ("the start must be a date such as 2026-11-30; got 'abc'")."""

    def parse(text: str) -> dt.date:
        try:
            day = dt.date.fromisoformat(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what} must be a date such as 2026-11-30; got {text!r}"
            ) from None
        try:
            return check_date(day, what, what)
        except OutOfRange as refused:
            raise argparse.ArgumentTypeError(refused.message) from None

    return parse


def _refuse_outside(value: dt.date | None, label: str) -> None:
    if value is None:
        return
    try:
        check_date(value.date() if isinstance(value, dt.datetime) else value, "", label)
    except OutOfRange as error:
        raise ValidationError(error.message[0].upper() + error.message[1:] + ".") from error


class BoundedDateField(forms.DateField):
    """A form's date, refused outside EARLIEST_DATE..LATEST_DATE with a plain message (TST-03):
    every date typed into a page passes here before any view or service computes with it."""

    def validate(self, value: dt.date | None) -> None:
        super().validate(value)
        _refuse_outside(value, "the date")


class BoundedDateTimeField(forms.DateTimeField):
    """A form's date and time, its date within the same bounds (TST-03)."""

    def validate(self, value: dt.datetime | None) -> None:
        super().validate(value)
        _refuse_outside(value, "the date")


def query_date(request: HttpRequest, name: str) -> dt.date | None:
    """The date (YYYY-MM-DD) in query parameter ``name``, or None when absent or not a date;
    a date outside the bounds is None too, with a message saying so, so the page shows its
    default day (today) rather than computing with year 1 or 9999 (TST-03)."""
    try:
        day = dt.date.fromisoformat(request.GET.get(name, ""))
    except ValueError:
        return None
    try:
        return check_date(day, name)
    except OutOfRange as error:
        messages.warning(request, f"Showing today: {error.message}.")
        return None
