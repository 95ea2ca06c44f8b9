"""Issue 13, item 2 in a real browser, at desk and at phone size: a clinic administrator opens
the site on weekends, takes the public holidays of the United States as closures, and the
series search skips Christmas."""

import datetime as dt
import re
import zoneinfo

import holidays
import pytest
from django.utils import timezone

from sustain.care import services as care
from tests.sustain.browser.test_patient_page import SCREENSHOTS, chromium_page, needs_chromium
from tests.sustain.conftest import make_user
from tests.sustain.second_factor import sign_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test user's


@needs_chromium
@pytest.mark.parametrize("width", [1300, 390])
def test_administrator_closes_the_holidays_and_the_series_skips_them(
    live_server, north, ada, pat, width
):
    today = dt.datetime.now(tz=zoneinfo.ZoneInfo("America/New_York")).date()
    # The next Christmas at least a week ahead: its year's holidays are added.
    year = (
        today.year
        if dt.date(today.year, 12, 25) > today + dt.timedelta(days=7)
        else (today.year + 1)
    )
    christmas = dt.date(year, 12, 25)
    closed = {day for day in holidays.US(years=year) if day >= today}
    care.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada,
        now=timezone.now(),
    )  # fmt: skip
    alex = make_user("alex", "clinic_admin", north)
    alex.set_password(PASSWORD)
    alex.save(update_fields=["password"])

    with chromium_page(width=width) as page:
        page.goto(f"{live_server.url}/schedule/calendar/")
        sign_in_page(page, "alex")
        for weekday in (5, 6):  # open every day: only the closures keep a visit off a day
            page.fill(f"#id_opens_{weekday}", "08:00")
            page.fill(f"#id_closes_{weekday}", "18:00")
        page.click("button:text-is('Save the hours')")
        page.wait_for_load_state()
        assert "Opening hours saved." in page.content()
        page.fill("#id_country", "US")
        page.click("button:text-is('Save')")
        page.wait_for_load_state()
        page.fill("#id_year", str(year))
        page.click("button:text-is('Add the holidays')")
        page.wait_for_load_state()
        calendar = page.content()
        wide = page.evaluate("document.documentElement.scrollWidth")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"site-calendar-{width}.png", full_page=True)

        page.goto(f"{live_server.url}/patients/{pat.pk}/series/")
        page.fill("#id_first_day", f"{christmas - dt.timedelta(days=1):%Y-%m-%d}")
        page.click("button:has-text('Find visits')")
        page.wait_for_load_state()
        proposal = page.content()

    assert f"Closed on {len(closed)} public holiday" in calendar and f" of {year}" in calendar
    # The cell as the browser holds it (static/fit.js labels a table's cells for a phone).
    assert re.search(f"{christmas:%a %-d %b %Y}</th><td[^>]*>Christmas Day</td>", calendar)
    assert wide <= width  # no sideways scrolling, at the desk or on a phone
    visits = [
        day
        for n in range(40)
        if f"{(day := christmas - dt.timedelta(days=1) + dt.timedelta(days=n)):%Y-%m-%d} "
        in proposal
    ]
    assert len(visits) == 6
    assert not closed & set(visits)
    assert christmas not in visits
    assert visits[0] == next(
        christmas - dt.timedelta(days=1) + dt.timedelta(days=n)
        for n in range(10)
        if christmas - dt.timedelta(days=1) + dt.timedelta(days=n) not in closed
    )
