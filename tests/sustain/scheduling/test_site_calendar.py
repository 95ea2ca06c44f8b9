"""The site's calendar from the browser (issue 13, item 2): opening hours per weekday,
closures and public holidays, set by clinic administrators; refused when booked visits would
fall outside; the series search skips the closed days."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.utils import timezone

from sustain.accounts.models import AuditEvent
from sustain.care import services as care
from sustain.scheduling import hours, services
from sustain.scheduling.models import Closure
from sustain_core.errors import ClinicalValueError

pytestmark = pytest.mark.api

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)  # Friday 10:00 in New York
MONDAY = dt.datetime(2026, 11, 30, 0, 0, tzinfo=NEW_YORK)
WEEKDAYS_8_TO_18 = {
    **{f"opens_{w}": "08:00" for w in range(5)},
    **{f"closes_{w}": "18:00" for w in range(5)},
}


def booked_series(pat, ada, sam):
    """Pat's six visits: Mon 30 Nov, Wed 2, Fri 4, Mon 7, Wed 9, Fri 11 Dec, 08:00–10:00."""
    course = care.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada,
        now=timezone.now(),
    )  # fmt: skip
    return services.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())


def week_of(site) -> list[tuple[int, str, str]]:
    return [(h.weekday, f"{h.opens:%H:%M}", f"{h.closes:%H:%M}") for h in site.opening_hours.all()]


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_an_administrator_sets_the_hours_and_other_roles_read_them(login, alex, sam, north):
    form = WEEKDAYS_8_TO_18 | {"opens_5": "09:00", "closes_5": "13:00", "closes_4": "16:00"}
    response = login(alex).post("/schedule/calendar/hours/", form | {"site": north.pk})
    assert response.status_code == 302
    assert week_of(north) == [
        (0, "08:00", "18:00"), (1, "08:00", "18:00"), (2, "08:00", "18:00"),
        (3, "08:00", "18:00"), (4, "08:00", "16:00"), (5, "09:00", "13:00"),
    ]  # fmt: skip
    assert AuditEvent.objects.filter(
        actor=alex, action="update", object_type="accounts.Site", reason="opening hours"
    ).exists()

    page = login(sam).get("/schedule/calendar/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "09:00–13:00" in html  # Saturday, read-only
    assert 'name="opens_0"' not in html and "/schedule/calendar/closures/" not in html
    assert 'name="opens_0"' in login(alex).get("/schedule/calendar/").content.decode()


def test_hours_that_leave_booked_visits_outside_are_refused_naming_them(
    login, alex, north, pat, ada, sam
):
    booked_series(pat, ada, sam)
    form = WEEKDAYS_8_TO_18 | {"opens_0": "09:00", "site": north.pk}  # Mondays from 09:00
    response = login(alex).post("/schedule/calendar/hours/", form)
    html = response.content.decode()
    assert response.status_code == 400
    assert "2 booked visits outside the opening hours" in html
    assert "Mon 30 Nov 2026 08:00–10:00, Mon 07 Dec 2026 08:00–10:00" in html
    assert "Quinn" not in html  # named by date and time, never the patient
    assert week_of(north)[0] == (0, "08:00", "18:00")  # nothing saved
    # Closing Wednesdays altogether is refused too.
    with pytest.raises(ClinicalValueError, match="Wed 02 Dec 2026 08:00–10:00"):
        hours.set_opening_hours(
            site=north,
            hours={w: None if w == 2 else (dt.time(8), dt.time(18)) for w in range(7)},
            by=alex,
            now=timezone.now(),
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"opens_1": "18:00", "closes_1": "08:00"}, "Tuesday: the opening time 18:00 must be"),
        ({"closes_1": ""}, "Tuesday: give both the opening and the closing time"),
        ({"opens_1": "25:99"}, "Enter a valid time"),
    ],
)
def test_impossible_hours_are_refused(login, alex, north, change, message):
    form = WEEKDAYS_8_TO_18 | change | {"site": north.pk}
    response = login(alex).post("/schedule/calendar/hours/", form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert week_of(north)[1] == (1, "08:00", "18:00")


def test_a_closure_range_is_added_audited_and_removed(login, alex, north):
    client = login(alex)
    form = {"site": north.pk, "first": "2026-12-23", "last": "2026-12-25", "reason": "Holidays"}
    assert client.post("/schedule/calendar/closures/", form).status_code == 302
    closures = list(north.closures.order_by("date"))
    assert [(c.date.day, c.reason) for c in closures] == [
        (23, "Holidays"), (24, "Holidays"), (25, "Holidays")
    ]  # fmt: skip
    assert AuditEvent.objects.filter(action="create", object_type="scheduling.Closure").count() == 3
    again = client.post("/schedule/calendar/closures/", form | {"first": "2026-12-25"})
    assert again.status_code == 400
    assert "already closed on Fri 25 Dec 2026" in again.content.decode()

    assert client.post(f"/schedule/calendar/closures/{closures[0].pk}/remove/").status_code == 302
    assert [c.date.day for c in north.closures.order_by("date")] == [24, 25]
    assert AuditEvent.objects.filter(
        action="delete",
        object_type="scheduling.Closure",
        object_id=str(closures[0].pk),
        reason="reopened 2026-12-23",
    ).exists()


def test_another_sites_closure_is_not_found(login, alex, carl, south):
    closure = Closure.objects.create(site=south, date=dt.date(2026, 12, 24), reason="Holiday")
    response = login(alex).post(f"/schedule/calendar/closures/{closure.pk}/remove/")
    assert response.status_code == 404
    assert Closure.objects.filter(pk=closure.pk).exists()
    form = {"site": south.pk, "first": "2026-12-28", "reason": "Training"}
    assert login(alex).post("/schedule/calendar/closures/", form).status_code == 404


def test_a_closure_on_booked_visits_is_refused_naming_them(login, alex, north, pat, ada, sam):
    booked_series(pat, ada, sam)
    form = {"site": north.pk, "first": "2026-12-01", "last": "2026-12-02", "reason": "Training"}
    response = login(alex).post("/schedule/calendar/closures/", form)
    html = response.content.decode()
    assert response.status_code == 400
    assert "Closing Tue 01 Dec 2026 to Wed 02 Dec 2026 would leave 1 booked visit" in html
    assert "Wed 02 Dec 2026 08:00–10:00; move or cancel them first" in html
    assert not north.closures.exists()


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-11-26", "", "a closure starts today (2026-11-27) or later; got 2026-11-26"),
        ("1900-01-01", "", "a closure starts today (2026-11-27) or later"),
        ("2029-12-01", "", "a closure is set at most until 2029-11-29; got 2029-12-01"),
        ("2027-01-10", "2027-01-05", "the last day 2027-01-05 is before the first 2027-01-10"),
        ("2027-01-01", "2028-01-02", "one closure spans at most 366 days"),
        ("9999-12-31", "", "a closure is set at most until 2029-11-29"),
        ("99999-01-01", "", "Enter a valid date"),
        ("2026-02-30", "", "Enter a valid date"),
        ("next tuesday", "", "Enter a valid date"),
    ],
)
def test_closure_dates_far_off_or_malformed_are_refused_clearly(
    login, alex, north, first, last, message
):
    form = {"site": north.pk, "first": first, "last": last, "reason": "Training"}
    response = login(alex).post("/schedule/calendar/closures/", form)
    assert response.status_code == 400
    assert message.capitalize()[:1] + message[1:] in response.content.decode()
    assert not north.closures.exists()


def test_a_closure_needs_a_reason(alex, north):
    with pytest.raises(ClinicalValueError, match="give the reason the site is closed"):
        hours.add_closures(
            site=north, first=dt.date(2026, 12, 24), last=None, reason="  ", by=alex,
            now=timezone.now(),
        )  # fmt: skip


def test_the_holiday_country_is_checked_against_the_list(login, alex, north):
    client = login(alex)
    for country, subdivision, message in [
        ("XX", "", "No public-holiday list for the country &#x27;XX&#x27;"),
        ("US", "ZZ", "US has no subdivision &#x27;ZZ&#x27;"),
    ]:
        form = {"site": north.pk, "country": country, "subdivision": subdivision}
        response = client.post("/schedule/calendar/holidays/country/", form)
        assert response.status_code == 400
        assert message in response.content.decode()
    north.refresh_from_db()
    assert north.holiday_country == ""
    form = {"site": north.pk, "country": "us", "subdivision": "ny"}
    assert client.post("/schedule/calendar/holidays/country/", form).status_code == 302
    north.refresh_from_db()
    assert (north.holiday_country, north.holiday_subdivision) == ("US", "NY")
    assert AuditEvent.objects.filter(reason="holidays US-NY").exists()


@pytest.mark.parametrize(
    ("year", "message"),
    [
        ("2025", "Public holidays are added for 2026 to 2029; got 2025"),
        ("3000", "Public holidays are added for 2026 to 2029; got 3000"),
        ("-1", "Public holidays are added for 2026 to 2029; got -1"),
        ("twenty", "Enter a whole number"),
        ("99999999999999999999999", "Public holidays are added for 2026 to 2029"),
    ],
)
def test_a_holiday_year_far_off_or_malformed_is_refused_clearly(login, alex, north, year, message):
    hours.set_holiday_country(site=north, country="US", subdivision="", by=alex)
    response = login(alex).post("/schedule/calendar/holidays/", {"site": north.pk, "year": year})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not north.closures.exists()


def test_holidays_need_a_country(login, alex, north):
    response = login(alex).post("/schedule/calendar/holidays/", {"site": north.pk, "year": "2026"})
    assert response.status_code == 400
    assert "Choose the site&#x27;s country for public holidays first" in response.content.decode()


@time_machine.travel(dt.datetime(2027, 12, 1, 15, 0, tzinfo=dt.UTC), tick=False)
def test_the_series_search_skips_the_public_holidays(login, alex, north, pat, ada):
    # Saturdays open too, so only the closures keep the series off 24 and 25 December.
    hours.set_opening_hours(
        site=north,
        hours={w: (dt.time(8), dt.time(18)) if w < 5 else None for w in range(7)}
        | {5: (dt.time(9), dt.time(13))},
        by=alex,
        now=timezone.now(),
    )
    course = care.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada,
        now=timezone.now(),
    )  # fmt: skip
    wanted = services.SeriesRequest(earliest=dt.datetime(2027, 12, 20, tzinfo=NEW_YORK))

    def days() -> list[str]:
        found = services.propose_series(course=course, request=wanted, now=timezone.now())
        assert found.series is not None
        return [f"{s.start.astimezone(NEW_YORK):%a %d %b}" for s in found.series]

    assert "Fri 24 Dec" in days()  # open: the series would use it

    client = login(alex)
    form = {"site": north.pk, "country": "US", "subdivision": ""}
    assert client.post("/schedule/calendar/holidays/country/", form).status_code == 302
    response = client.post(
        "/schedule/calendar/holidays/", {"site": north.pk, "year": "2027"}, follow=True
    )
    assert "Closed on 3 public holidays of 2027: 24 Dec (Christmas Day (observed)), 25 Dec " in (
        response.content.decode()
    )
    assert [(c.date, c.reason) for c in north.closures.order_by("date")] == [
        (dt.date(2027, 12, 24), "Christmas Day (observed)"),
        (dt.date(2027, 12, 25), "Christmas Day"),
        (dt.date(2027, 12, 31), "New Year's Day (observed)"),
    ]  # Thanksgiving (25 November) is past: not added
    assert AuditEvent.objects.filter(action="create", object_type="scheduling.Closure").count() == 3

    series = days()
    assert len(series) == 6
    assert not {"Fri 24 Dec", "Sat 25 Dec", "Fri 31 Dec"} & set(series)
    assert series[:3] == ["Mon 20 Dec", "Wed 22 Dec", "Mon 27 Dec"]

    # Again: every holiday is closed already, nothing is added.
    again = client.post("/schedule/calendar/holidays/", {"site": north.pk, "year": "2027"})
    assert again.status_code == 302
    assert north.closures.count() == 3


@time_machine.travel(dt.datetime(2027, 12, 1, 15, 0, tzinfo=dt.UTC), tick=False)
def test_holidays_on_booked_visits_are_refused_naming_them(login, alex, north, pat, ada, sam):
    course = care.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada,
        now=timezone.now(),
    )  # fmt: skip
    earliest = dt.datetime(2027, 12, 20, tzinfo=NEW_YORK)
    services.book_series(course=course, earliest=earliest, by=sam, now=timezone.now())
    hours.set_holiday_country(site=north, country="US", subdivision="", by=alex)
    response = login(alex).post("/schedule/calendar/holidays/", {"site": north.pk, "year": "2027"})
    html = response.content.decode()
    assert response.status_code == 400
    assert (
        "Closing on the 2027 public holidays would leave 2 booked visits outside the opening "
        "hours: Fri 24 Dec 2027 08:00–10:00, Fri 31 Dec 2027 08:00–10:00; move or cancel them"
    ) in html
    assert not north.closures.exists()


def test_a_weekday_of_two_periods_is_named_before_it_is_saved_as_one(login, alex, sam, north):
    north.opening_hours.filter(weekday=1).update(closes=dt.time(12))
    north.opening_hours.create(weekday=1, opens=dt.time(13), closes=dt.time(18))
    warning = "Tuesday has 2 opening periods (08:00–12:00, 13:00–18:00)"
    admin_page = login(alex).get("/schedule/calendar/").content.decode()
    assert f"{warning}: saving the hours here sets one period" in admin_page
    assert f"{warning}.</p>" in login(sam).get("/schedule/calendar/").content.decode()
