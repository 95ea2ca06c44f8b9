"""book_series searches outside the site's lock and any transaction, then re-checks only the
chosen slots under the lock and writes (issue 15 item 2): racing bookings still never overlap
or leave a visit without its staff, a lost race searches again, and sites never wait on each
other (PostgreSQL; on SQLite every write transaction holds the one writer lock)."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from sustain.care import services as care_services
from sustain.scheduling import services, staff
from sustain.scheduling.models import Appointment, Chair
from tests.sustain.scheduling.test_booking import THREADS, overlapping_pairs
from tests.sustain.scheduling.test_staffing import (
    MONDAY,
    RULES,
    at,
    new_course,
    put_on_shift,
    shortfalls,
)

pytestmark = pytest.mark.db

WAIT_S = 20  # generous on a loaded machine; a booking takes well under a second


def start(work) -> tuple[threading.Thread, list[object]]:
    """Run `work` in a thread of its own (its own connection); its result or error lands in
    the returned list."""
    out: list[object] = []

    def run() -> None:
        try:
            out.append(work())
        except Exception as error:
            out.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_many_threads_booking_series_at_one_site_never_overlap_or_go_short(
    north, ada, ben, sam, alex
):
    # 6 chairs, 1:2 checking in, 1:1 infusing with a prescriber, 1:2 recovering: chairs and
    # staff are both scarce, so the searches made outside the lock keep colliding. Each
    # thread asks for a chair, two threads for each: rivals in one chair collide on it, in
    # two chairs on the staff their visits need at once.
    for n in range(3, 7):
        Chair.objects.create(site=north, name=f"Chair {n}")
    chairs = list(north.chairs.order_by("pk"))
    staff.set_phase_staffing(site=north, rules=RULES, by=alex, now=at(MONDAY, 0))
    put_on_shift(north, nurse=ben, prescriber=ada, by=alex, until=dt.time(18), weeks=4)
    each = 2
    courses = [new_course(north, sam, ada, f"Race{n}") for n in range(THREADS * each)]
    results: list[object] = [None] * len(courses)
    barrier = threading.Barrier(THREADS)

    def work(first: int) -> None:
        try:
            barrier.wait()
            for n in range(first, first + each):
                try:
                    wanted = services.SeriesRequest(
                        earliest=at(MONDAY, 0), preferred_chair=chairs[first // each % 6]
                    )
                    results[n] = services.book_series(
                        course=courses[n], earliest=at(MONDAY, 0), by=sam, now=timezone.now(),
                        request=wanted,
                    )  # fmt: skip
                except Exception as error:
                    results[n] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i * each,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Every booking either booked its 6 visits or was refused because no series fits any
    # more: never a database error, never a lost race passed on to the scheduler.
    booked = [r for r in results if isinstance(r, list)]
    refused = [r for r in results if not isinstance(r, list)]
    assert all(len(r) == 6 for r in booked)
    assert {type(r).__name__ for r in refused} <= {"NoSeriesFound"}
    assert len(booked) >= 10  # 4 weeks of shifts hold at least the 10 series one by one does
    visits = list(Appointment.objects.all())
    assert len(visits) == 6 * len(booked)
    assert overlapping_pairs(visits) == []  # no chair and no patient twice at once
    assert shortfalls(north) == []  # no moment without the nurses and prescriber it needs


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_series_taken_between_search_and_lock_is_searched_again(north, ada, sam, monkeypatch):
    course = new_course(north, sam, ada, "Unlucky")
    rivals = [new_course(north, sam, ada, f"Rival{n}") for n in range(services.SERIES_ATTEMPTS)]
    search = services.propose_series
    inside: list[bool] = []
    found: list[tuple[services.series.Slot, ...]] = []

    def racing(**kwargs):
        inside.append(connection.in_atomic_block)
        result = search(**kwargs)
        found.append(result.series)
        if not connection.in_atomic_block:
            # Outside any transaction (on SQLite, not holding the writer lock), and then
            # another scheduler books a rival into the first visit's chair and time.
            first = result.series[0]
            services.book_visit(
                course=rivals[len(found) - 1], chair=Chair.objects.get(pk=first.chair),
                starts_at=first.start, by=sam, now=timezone.now(),
            )  # fmt: skip
        return result

    monkeypatch.setattr(services, "propose_series", racing)

    visits = services.book_series(course=course, earliest=at(MONDAY, 0), by=sam, now=timezone.now())

    # Every search outside the lock lost its first chair; the last, under the lock, books the
    # next series.
    assert inside == [False] * (services.SERIES_ATTEMPTS - 1) + [True]
    assert found[0] != found[-1]
    assert [(v.chair_id, v.starts_at, v.ends_at) for v in visits] == [
        (slot.chair, slot.start, slot.end) for slot in found[-1]
    ]
    assert overlapping_pairs(list(Appointment.objects.all())) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer lock")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_bookings_at_two_sites_do_not_wait_on_each_other(north, south, ada, sam, carl, monkeypatch):
    at_north = [new_course(north, sam, ada, f"North{n}") for n in range(2)]
    patient = care_services.register_patient(
        by=carl, site=south, given_name="Sol", family_name="South", sex="unknown",
        date_of_birth=dt.date(1979, 3, 3), phone="", email="", primary_condition="depression",
        weight_kg=Decimal("70"), today=dt.date(2026, 11, 27), now=timezone.now(),
    )  # fmt: skip
    at_south = care_services.enrol_patient(
        patient=patient, protocol_key="depression-induction", protocol_version=1, by=carl,
        now=timezone.now(),
    )  # fmt: skip
    locked, release = threading.Event(), threading.Event()
    check = services._check_still_free

    def paused(course, *args, **kwargs):
        # The first North booking stops inside its transaction, holding North's lock.
        if course.pk == at_north[0].pk:
            locked.set()
            release.wait(WAIT_S)
        return check(course, *args, **kwargs)

    monkeypatch.setattr(services, "_check_still_free", paused)

    def book(course, by):
        return lambda: services.book_series(
            course=course, earliest=at(MONDAY, 0), by=by, now=timezone.now()
        )

    holder, held = start(book(at_north[0], sam))
    try:
        assert locked.wait(WAIT_S)
        waiting, waited = start(book(at_north[1], sam))
        south_thread, at_south_result = start(book(at_south, carl))
        south_thread.join(WAIT_S)
        # South books while North's lock is held; a second North booking waits for it.
        assert not south_thread.is_alive()
        assert len(at_south_result[0]) == 6  # type: ignore[arg-type]
        waiting.join(1)
        assert waiting.is_alive()
    finally:
        release.set()
    holder.join(WAIT_S)
    waiting.join(WAIT_S)
    assert [len(r) for r in (held[0], waited[0])] == [6, 6]  # type: ignore[arg-type]
    assert overlapping_pairs(list(Appointment.objects.all())) == []


def test_the_recheck_finds_a_taken_chair_the_patient_busy_and_the_gap_floor(north, ada, sam):
    """_taken, the database half of the re-check under the lock: a visit in the slot's chair
    then, the patient busy then, and a start under the 24 h floor from another infusion of
    the patient (or from an earlier slot) each make the slots taken; the floor itself and
    another chair at another patient's time do not."""
    course, other = new_course(north, sam, ada, "Mine"), new_course(north, sam, ada, "Other")
    one, two = list(north.chairs.order_by("pk"))[:2]
    booked = services.book_visit(
        course=course, chair=one, starts_at=at(MONDAY, 9), by=sam, now=timezone.now()
    )
    services.book_visit(
        course=other, chair=two, starts_at=at(MONDAY + dt.timedelta(days=3), 9), by=sam,
        now=timezone.now(),
    )  # fmt: skip
    hours = booked.ends_at - booked.starts_at

    def slot(chair: Chair, day: int, hour: int) -> services.series.Slot:
        start = at(MONDAY + dt.timedelta(days=day), hour)
        return services.series.Slot(
            chair=services.series.ChairId(chair.pk), start=start, end=start + hours
        )

    patient = course.patient
    assert services._taken(patient, [slot(two, 1, 9)]) is False  # exactly the floor later
    assert services._taken(patient, [slot(two, 1, 8)]) is True  # 23 h after an infusion
    assert services._taken(patient, [slot(two, 0, 9)]) is True  # the patient is in chair 1 then
    assert services._taken(patient, [slot(two, 3, 9)]) is True  # chair 2 is taken then
    assert services._taken(patient, [slot(one, 3, 9)]) is False  # chair 1 is free then
    assert services._taken(patient, [slot(one, 3, 9), slot(one, 4, 8)]) is True  # 23 h apart
