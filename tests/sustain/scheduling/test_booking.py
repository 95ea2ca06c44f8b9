import datetime as dt
import itertools
import threading
import zoneinfo
from decimal import Decimal

import pytest
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from sustain.accounts.audit import verify_chain
from sustain.care import services as care_services
from sustain.care.models import Course
from sustain.scheduling import services
from sustain.scheduling.models import Appointment, Chair, Closure
from sustain_core.errors import ClinicalValueError
from tests.sustain.conftest import make_user

pytestmark = pytest.mark.db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
THREADS = 12  # security-reliability-interop §4.2 measured races with 12 threads
MONDAY = dt.datetime(2026, 11, 30, 0, 0, tzinfo=NEW_YORK)


def enrol(patient, prescriber) -> Course:
    return care_services.enrol_patient(
        patient=patient,
        protocol_key="depression-induction",
        protocol_version=1,
        by=prescriber,
        now=timezone.now(),
    )


def overlapping_pairs(appointments) -> list[tuple[int, int]]:
    return [
        (a.pk, b.pk)
        for a, b in itertools.combinations(appointments, 2)
        if (a.chair_id == b.chair_id or a.patient_id == b.patient_id)
        and a.starts_at < b.ends_at
        and b.starts_at < a.ends_at
    ]


def test_book_series_books_six_visits_by_the_protocol(pat, ada, sam):
    course = enrol(pat, ada)
    visits = services.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())
    local = [v.starts_at.astimezone(NEW_YORK) for v in visits]
    course.refresh_from_db()
    assert [t.strftime("%a %d %H:%M") for t in local] == [
        "Mon 30 08:00", "Wed 02 08:00", "Fri 04 08:00", "Mon 07 08:00", "Wed 09 08:00",
        "Fri 11 08:00",
    ]  # fmt: skip
    assert [v.number for v in visits] == [1, 2, 3, 4, 5, 6]
    assert {v.ends_at - v.starts_at for v in visits} == {dt.timedelta(minutes=120)}
    assert course.status == "screening"  # induction starts with infusion 1


def test_book_series_skips_a_closure_and_a_busy_chair(north, pat, ada, sam):
    Closure.objects.create(site=north, date=dt.date(2026, 12, 2), reason="Staff training")
    course = enrol(pat, ada)
    visits = services.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())
    local = [v.starts_at.astimezone(NEW_YORK).strftime("%a %d %H:%M") for v in visits]
    assert local[:3] == ["Mon 30 08:00", "Thu 03 08:00", "Mon 07 08:00"]


def test_book_series_only_once(pat, ada, sam):
    course = enrol(pat, ada)
    services.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())
    with pytest.raises(ClinicalValueError) as excinfo:
        services.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())
    assert str(excinfo.value) == "course: the induction series is already booked"
    assert Appointment.objects.count() == 6


@pytest.mark.parametrize(
    ("local_start", "message"),
    [
        (
            dt.datetime(2026, 11, 30, 7, 0, tzinfo=NEW_YORK),
            "Monday 2026-11-30 opens 08:00–18:00; 07:00–09:00 is outside",
        ),
        (
            dt.datetime(2026, 11, 30, 17, 0, tzinfo=NEW_YORK),
            "Monday 2026-11-30 opens 08:00–18:00; 17:00–19:00 is outside",
        ),
        (
            dt.datetime(2026, 11, 29, 10, 0, tzinfo=NEW_YORK),
            "the site is closed on Sunday 2026-11-29 (no opening hours that weekday)",
        ),
    ],
)
def test_book_visit_outside_opening_hours_is_refused(pat, ada, sam, local_start, message):
    course = enrol(pat, ada)
    chair = Chair.objects.filter(site=pat.site).first()
    with pytest.raises(ClinicalValueError) as excinfo:
        services.book_visit(
            course=course, chair=chair, starts_at=local_start, by=sam, now=timezone.now()
        )
    assert (excinfo.value.field, excinfo.value.message) == ("start", message)
    assert Appointment.objects.count() == 0


def test_book_visit_refuses_an_overlap(north, pat, ada, sam):
    course = enrol(pat, ada)
    chair = north.chairs.first()
    services.book_visit(
        course=course, chair=chair, starts_at=MONDAY.replace(hour=9), by=sam, now=timezone.now()
    )
    with pytest.raises(ClinicalValueError) as excinfo:
        services.book_visit(
            course=course,
            chair=chair,
            starts_at=MONDAY.replace(hour=10),
            by=sam,
            now=timezone.now(),
        )
    assert str(excinfo.value) == "starts_at: the patient is already booked at that time"
    assert Appointment.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="exclusion constraints")
def test_postgresql_refuses_overlapping_visits_itself(north, pat, ada, sam):
    course = enrol(pat, ada)
    first = services.book_visit(
        course=course,
        chair=north.chairs.first(),
        starts_at=MONDAY.replace(hour=9),
        by=sam,
        now=timezone.now(),
    )
    with pytest.raises(IntegrityError, match="appt_no_chair_overlap"), transaction.atomic():
        Appointment.objects.create(
            site=north, chair=first.chair, patient=pat, course=course, number=9,
            starts_at=first.starts_at + dt.timedelta(minutes=30),
            ends_at=first.ends_at + dt.timedelta(minutes=30),
            booked_at=first.booked_at, booked_by=sam,
        )  # fmt: skip


def run_together(workers):
    """Start every worker at the same instant in its own thread; collect results or errors."""
    barrier = threading.Barrier(len(workers))
    results: list[object] = [None] * len(workers)

    def run(i, work):
        try:
            barrier.wait()
            results[i] = work()
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_series_for_different_patients_never_overlap(north, ada, sam):
    Chair.objects.filter(site=north).exclude(name="Chair 1").delete()
    courses = []
    for n in range(THREADS):
        patient = care_services.register_patient(
            by=sam, site=north, given_name=f"P{n}", family_name="Race", sex="unknown",
            date_of_birth=dt.date(1985, 1, 1), phone="", email="", primary_condition="depression",
            weight_kg=Decimal("70"), today=dt.date(2026, 11, 27), now=timezone.now(),
            confirm_duplicate=True,  # one family born one day: distinct people
        )  # fmt: skip
        courses.append(enrol(patient, ada))

    results = run_together(
        [
            lambda c=c: services.book_series(course=c, earliest=MONDAY, by=sam, now=timezone.now())
            for c in courses
        ]
    )

    # One chair, 12 series at once: each either books 6 visits or is refused cleanly (no fit
    # left within its 21 days), never a database error and never an overlap (INT-01).
    booked = [r for r in results if isinstance(r, list)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert all(len(r) == 6 for r in booked)
    assert all(type(r).__name__ == "NoSeriesFound" for r in refused)
    assert len(booked) >= 8
    assert Appointment.objects.count() == 6 * len(booked)
    assert overlapping_pairs(list(Appointment.objects.all())) == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_bookings_of_one_course_book_it_once(pat, ada, sam):
    course = enrol(pat, ada)

    results = run_together(
        [lambda: services.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())]
        * THREADS
    )

    errors = sorted(str(r) for r in results if isinstance(r, Exception))
    assert sum(isinstance(r, list) for r in results) == 1
    assert errors == ["course: the induction series is already booked"] * (THREADS - 1)
    assert Appointment.objects.count() == 6


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_series_at_one_site_books_while_another_sites_booking_is_open(pat, ada, sam, south, carl):
    """Issue 15: bookings at different sites never wait on each other. North's booking holds
    its transaction open after its audit append (its site lock, its patient, its audit lane's
    head); South's series books meanwhile, and a second North booking waits (the hold is real)."""
    sol = make_user("sol", "scheduler", south)
    north_course = enrol(pat, ada)
    south_course, north_second = (
        enrol(
            care_services.register_patient(
                by=by, site=site, given_name=name, family_name="Lane", sex="unknown",
                date_of_birth=dt.date(1985, 1, 1), phone="", email="",
                primary_condition="depression", weight_kg=Decimal("70"),
                today=dt.date(2026, 11, 27), now=timezone.now(),
            ),
            prescriber,
        )
        for site, by, prescriber, name in ((south, sol, carl, "Sid"), (pat.site, sam, ada, "Nia"))
    )  # fmt: skip
    appended, release = threading.Event(), threading.Event()

    def north_booking() -> None:
        try:
            with transaction.atomic():
                services.book_series(
                    course=north_course, earliest=MONDAY, by=sam, now=timezone.now()
                )
                appended.set()  # its audit event is the booking's last write
                release.wait(10)
        finally:
            connection.close()

    def book_within(course, by, seconds) -> list[Appointment]:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'")
            return services.book_series(course=course, earliest=MONDAY, by=by, now=timezone.now())

    holder = threading.Thread(target=north_booking)
    holder.start()
    try:
        assert appended.wait(10)
        assert len(book_within(south_course, sol, 2)) == 6
        with pytest.raises(OperationalError, match="lock timeout"):
            book_within(north_second, sam, 0.5)
    finally:
        release.set()
        holder.join()
    assert Appointment.objects.filter(site=south).count() == 6
    assert Appointment.objects.filter(site=pat.site).count() == 6
    assert verify_chain().ok
