"""Booking a booster from the maintenance plan, in its window (issue 13, item 4).

Rhea's induction series is booked Monday 30 November – Friday 11 December 2026 and her review
signs "Weekly ×4 in responders" [Phillips2019]: booster 1 is due Friday 18 December, bookable
15–21 December (sustain_core.maintenance.plan_boosters). The clock is the fixtures' day."""

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from sustain.care import services as care
from sustain.scheduling import boosters, services
from sustain.scheduling.models import Appointment
from sustain_core import protocols
from sustain_core.errors import ClinicalValueError
from tests.sustain import clinic_builders as build
from tests.sustain.scheduling.test_booking import run_together

pytestmark = pytest.mark.db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
MONDAY = dt.datetime(2026, 11, 30, 0, 0, tzinfo=NEW_YORK)
WINDOW = "Tue 15 Dec to Mon 21 Dec 2026"


@pytest.fixture
def maintenance(north, ada, ben, sam):
    """A course in maintenance on the taper; its induction visits booked (their count passed to
    the phase changes, as the chair-side record does when it gives them)."""
    patient = build.register(north, sam, "Rhea", "Booster", on=dt.date(2026, 11, 23))
    course = build.ready_for_series(
        patient, prescriber=ada, nurse=ben, now=timezone.now(), phq9_total=18, gad7_total=12
    )
    build.book_series(course, sam, first=MONDAY, now=timezone.now())
    for status, given in (("ready", 0), ("induction", 1), ("review", 6)):
        care.change_course_status(
            course=course, status=status, by=ada, at=timezone.now(), infusions_given=given
        )
    taper = protocols.PROTOCOLS[build.PROTOCOL].maintenance_options[0]
    care.sign_review(course=course, option=taper, summary={}, notes="", by=ada, now=timezone.now())
    return course


def local(visit: Appointment) -> str:
    return visit.starts_at.astimezone(NEW_YORK).strftime("%a %d %b %H:%M")


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, tzinfo=NEW_YORK)


def test_the_plan_lists_booster_1_with_its_window(maintenance):
    (first, booked), *_ = boosters.due_boosters(maintenance, today=dt.date(2026, 11, 23))

    assert (first.number, first.due_on, first.earliest_on, first.latest_on, booked) == (
        1, dt.date(2026, 12, 18), dt.date(2026, 12, 15), dt.date(2026, 12, 21), None
    )  # fmt: skip


def test_a_booster_goes_to_the_earliest_free_time_in_its_window(maintenance, sam):
    visit = boosters.book_booster(course=maintenance, number=1, by=sam, now=timezone.now())

    assert (local(visit), visit.number) == ("Tue 15 Dec 08:00", 7)
    (_, booked), *_ = boosters.due_boosters(maintenance, today=dt.date(2026, 11, 23))
    assert booked is not None


def test_a_chosen_time_inside_the_window_is_booked(maintenance, sam, north):
    chair = north.chairs.last()

    visit = boosters.book_booster(
        course=maintenance, number=1, by=sam, now=timezone.now(), chair=chair,
        starts_at=at(17, 13),
    )  # fmt: skip

    assert (local(visit), visit.chair) == ("Thu 17 Dec 13:00", chair)


@pytest.mark.parametrize("day", [14, 22])
def test_a_time_outside_the_window_is_refused_naming_the_window(maintenance, sam, north, day):
    with pytest.raises(ClinicalValueError) as excinfo:
        boosters.book_booster(
            course=maintenance, number=1, by=sam, now=timezone.now(),
            chair=north.chairs.first(), starts_at=at(day, 10),
        )  # fmt: skip

    assert excinfo.value.message == (
        f"{at(day, 10):%a %d %b %Y} is outside booster 1's window, {WINDOW}"
    )
    assert maintenance.appointments.count() == 6


def test_a_booked_booster_is_not_booked_twice(maintenance, sam):
    first = boosters.book_booster(course=maintenance, number=1, by=sam, now=timezone.now())

    with pytest.raises(services.BookingConflict) as excinfo:
        boosters.book_booster(course=maintenance, number=1, by=sam, now=timezone.now())

    assert excinfo.value.message == f"booster 1 is booked already, {local(first)}"


def test_a_booster_in_the_past_is_refused_for_the_past(maintenance, sam, north):
    with pytest.raises(ClinicalValueError) as excinfo:
        boosters.book_booster(
            course=maintenance, number=1, by=sam, now=at(16, 12), chair=north.chairs.first(),
            starts_at=at(15, 9),
        )  # fmt: skip

    assert excinfo.value.message.startswith("the new time is in the past")


def test_the_earliest_free_time_starts_from_now_inside_the_window(maintenance, sam):
    visit = boosters.book_booster(course=maintenance, number=1, by=sam, now=at(16, 12))

    assert local(visit) == "Wed 16 Dec 12:00"


def test_no_booster_is_booked_before_maintenance(north, ada, ben, sam):
    patient = build.register(north, sam, "Ida", "Early", on=dt.date(2026, 11, 23))
    course = build.ready_for_series(
        patient, prescriber=ada, nurse=ben, now=timezone.now(), phq9_total=18, gad7_total=12
    )

    with pytest.raises(ClinicalValueError) as excinfo:
        boosters.book_booster(course=course, number=1, by=sam, now=timezone.now())

    assert excinfo.value.message == (
        "the course is in Screening; boosters are booked in maintenance"
    )


def test_the_patient_page_books_a_booster(login, maintenance, ada, ben):
    """The plan is shown to the clinical roles (it is read from the scores); a prescriber books
    from it, a nurse may not book."""
    patient = maintenance.patient
    page = login(ada).get(f"/patients/{patient.pk}/").content.decode()
    assert f'action="/patients/{patient.pk}/boosters/1/book/"' in page
    assert f'action="/patients/{patient.pk}/boosters/1/book/"' not in (
        login(ben).get(f"/patients/{patient.pk}/").content.decode()
    )

    refused = login(ben).post(f"/patients/{patient.pk}/boosters/1/book/")
    done = login(ada).post(f"/patients/{patient.pk}/boosters/1/book/", follow=True)

    assert refused.status_code == 403
    assert [str(m) for m in done.context["messages"]] == [
        "Booster 1 booked: Tue 15 Dec 08:00, chair Chair 1."
    ]


def test_the_page_refuses_a_day_without_a_time(login, maintenance, sam, north):
    patient = maintenance.patient

    done = login(sam).post(
        f"/patients/{patient.pk}/boosters/1/book/",
        {"chair": north.chairs.first().pk, "day": "2026-12-16"},
        follow=True,
    )

    assert [str(m) for m in done.context["messages"]] == [
        "give both a day and a time, or neither for the earliest free time"
    ]
    assert maintenance.appointments.count() == 6


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_schedulers_booking_one_booster_at_once_book_it_once(maintenance, sam, north):
    """Each picks another day of the window: without the lock both would find it unbooked."""
    chair = north.chairs.first()

    results = run_together(
        [
            lambda day=day: boosters.book_booster(
                course=maintenance, number=1, by=sam, now=timezone.now(), chair=chair,
                starts_at=at(day, 9),
            )
            for day in (15, 16, 17, 18)
        ]
    )  # fmt: skip

    assert sum(isinstance(r, Appointment) for r in results) == 1
    assert (
        sorted(type(r).__name__ for r in results if isinstance(r, Exception))
        == ["BookingConflict"] * 3
    )
    assert maintenance.appointments.count() == 7
