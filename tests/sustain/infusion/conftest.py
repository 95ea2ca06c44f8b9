import datetime as dt

import pytest

from tests.sustain import clinic_builders as build

MONDAY = dt.date(2026, 11, 30)


@pytest.fixture
def visits(north, pat, ada, ben, sam, stocked):
    """Pat's induction series booked from Monday 30 November, 08:00 in New York (baseline
    PHQ-9 18 with item 9 at 0, consent and screen signed the Friday before); North's stock
    received (its infusions draw from it)."""
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=build.at(north, dt.date(2026, 11, 27), 10),
        phq9_total=18, gad7_total=12,
    )  # fmt: skip
    return build.book_series(
        course, sam, first=build.at(north, MONDAY, 8),
        now=build.at(north, dt.date(2026, 11, 27), 11),
    )  # fmt: skip
