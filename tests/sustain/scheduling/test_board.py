"""The day board (re-fetched without a reload) and the week view (issue 5, item 6)."""

import datetime as dt

import pytest
from django.utils import timezone

from sustain.care import services as care
from sustain.scheduling import services

pytestmark = pytest.mark.api

MONDAY = dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)


@pytest.fixture
def booked(pat, ada, sam):
    course = care.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    return services.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())


def test_board_fragment_is_just_the_chairs(login, ben, booked):
    page = login(ben).get("/schedule/", {"day": "2026-11-30"})
    fragment = login(ben).get("/schedule/", {"day": "2026-11-30", "fragment": "1"})
    html = fragment.content.decode()
    assert 'data-refresh="?site=' in page.content.decode()
    assert "<html" not in html
    assert "Quinn, Pat" in html
    assert "08:00–10:00" in html


def test_week_view_lists_each_chairs_visits_per_day(login, ben, booked):
    response = login(ben).get("/schedule/week/", {"day": "2026-12-02"})
    days = response.context["days"]
    rows = response.context["rows"]
    assert (days[0], days[-1]) == (dt.date(2026, 11, 30), dt.date(2026, 12, 6))
    visits_per_day = [
        sum(len(v) for v in per_day) for per_day in zip(*(r[1] for r in rows), strict=True)
    ]
    assert visits_per_day == [1, 0, 1, 0, 1, 0, 0]  # Monday, Wednesday, Friday


def test_waitlist_lists_enrolled_patients_without_a_series(login, sam, ada, pat, north):
    care.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    page = login(sam).get("/schedule/waitlist/")
    assert [c.patient for c, _ in page.context["waiting"]] == [pat]
    # The protocol by its title and version, never its key (issue 13, item 7).
    assert (
        "Depression induction: 6 infusions over 2–3 weeks, 0.5 mg/kg over 40 min (version 1)"
        in (page.content.decode())
    )
    assert "depression-induction v1" not in page.content.decode()
    services.book_series(course=pat.courses.get(), earliest=MONDAY, by=sam, now=timezone.now())
    assert login(sam).get("/schedule/waitlist/").context["waiting"] == []
