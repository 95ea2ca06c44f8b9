"""The scheduling tests book visits on fixed days (from Monday 30 November 2026); no visit can
be booked or moved into the past (services.check_not_past), so the clock these tests run at,
the services' `now` from the views and fixtures included, is the shared fixtures' day."""

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine

from tests.sustain.conftest import TODAY


@pytest.fixture(autouse=True)
def _on_the_test_day() -> Iterator[None]:
    # tick: holds expire and audit instants stay in order, as on a real clock.
    with time_machine.travel(dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC), tick=True):
        yield
