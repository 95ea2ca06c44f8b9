"""The outer bounds of any date typed into Sustain (TST-03: no 500 on any input).

A date outside these years is refused with a plain message before anything computes with it:
date arithmetic near year 1 or 9999 overflows (``date.max + 1 day`` raises), and no clinic
record, visit or birth date lies there. Rules with a narrower meaning (a birth date not in the
future, a booking within the planning horizon) check their own range inside these bounds.
"""

import argparse
import datetime as dt
from collections.abc import Callable

from sustain_core.errors import OutOfRange

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)


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
