"""The outer bounds of any date typed into Sustain (TST-03: no 500 on any input).

A date outside these years is refused with a plain message before anything computes with it:
date arithmetic near year 1 or 9999 overflows (``date.max + 1 day`` raises), and no clinic
record, visit or birth date lies there. Rules with a narrower meaning (a birth date not in the
future, a booking within the planning horizon) check their own range inside these bounds.
"""

import datetime as dt

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
