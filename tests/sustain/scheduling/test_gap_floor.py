"""The infusion gap floor on every booking path (issue 11, item 3): two infusions of one
patient start at least 24 h apart (sustain_core.series.INFUSION_GAP_FLOOR), whether booked as
a series, a single visit, a move, a prescriber's override, a repair or from the waitlist, in
one course or across two, on SQLite (the check under the booking lock) and on PostgreSQL (also
the exclusion constraint appt_infusion_gap_floor).

North Clinic is open Monday to Friday 08:00–18:00 in New York; depression-induction v1 visits
take 2 hours, 6 of them at least 48 h apart within 21 days.
"""

import datetime as dt
import itertools
import json

import pytest
import time_machine
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from sustain.care import services as care
from sustain.care.enums import CourseStatus
from sustain.scheduling import services
from sustain.scheduling.enums import OCCUPYING, AppointmentStatus
from sustain.scheduling.models import Appointment, Chair
from sustain_core.series import INFUSION_GAP_FLOOR
from tests.sustain import clinic_builders as build
from tests.sustain.scheduling.test_booking import run_together

pytestmark = pytest.mark.db

MONDAY = dt.date(2026, 11, 30)
BEFORE = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)  # the Friday before, 10:00 in New York
FLOOR = "infusions of one patient start at least 24 h apart; this patient has a visit at "


def at(site, days: int, hour: int, minute: int = 0) -> dt.datetime:
    """`days` after Monday 30 November, at a wall-clock time of the site."""
    return build.at(site, MONDAY + dt.timedelta(days=days), hour, minute)


def chair(site, name: str) -> Chair:
    return Chair.objects.get(site=site, name=name)


def enrol(patient, prescriber):
    return build.enrol(patient, prescriber, now=BEFORE)


def book(course, site, scheduler, days: int, hour: int, minute: int = 0, chair_name="Chair 1"):
    return services.book_visit(
        course=course, chair=chair(site, chair_name), starts_at=at(site, days, hour, minute),
        by=scheduler, now=BEFORE,
    )  # fmt: skip


def starts(course) -> list[dt.datetime]:
    return list(
        course.appointments.filter(status__in=OCCUPYING)
        .order_by("starts_at")
        .values_list("starts_at", flat=True)
    )


def local(instants, site) -> list[str]:
    return [f"{instant.astimezone(site.tz):%a %d %H:%M}" for instant in instants]


def under_the_floor(instants) -> list[tuple[dt.datetime, dt.datetime]]:
    ordered = sorted(instants)
    return [(a, b) for a, b in itertools.pairwise(ordered) if b - a < INFUSION_GAP_FLOOR]


# -- a single visit (boosters, re-books) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "refused"),
    [
        pytest.param((0, 9), (1, 8, 45), "2026-11-30 09:00", id="23-h-45-min-after"),
        pytest.param((0, 9), (0, 11), "2026-11-30 09:00", id="2-h-after-the-same-day"),
        pytest.param((0, 9), (1, 9), None, id="exactly-24-h-after"),
        pytest.param((1, 9), (0, 9, 15), "2026-12-01 09:00", id="23-h-45-min-before"),
        pytest.param((1, 9), (0, 9), None, id="exactly-24-h-before"),
    ],
)
def test_book_visit_keeps_the_floor(north, pat, ada, sam, first, second, refused):
    course = enrol(pat, ada)
    book(course, north, sam, *first)

    if refused is None:
        book(course, north, sam, *second, chair_name="Chair 2")
        assert len(starts(course)) == 2
    else:
        with pytest.raises(services.BookingConflict) as excinfo:
            book(course, north, sam, *second, chair_name="Chair 2")
        assert (excinfo.value.field, excinfo.value.message) == ("starts_at", FLOOR + refused)
        assert starts(course) == [at(north, *first)]


@pytest.mark.parametrize("how", ["cancelled", "no_show"])
def test_a_cancelled_visit_or_a_no_show_does_not_count(north, pat, ada, sam, how):
    # Neither gave the patient any drug: a cancelled visit never happened, and a no-show is a
    # visit the patient never arrived for. The same day, 5 hours later, can be booked.
    course = enrol(pat, ada)
    missed = book(course, north, sam, 0, 9)
    if how == "cancelled":
        services.cancel_visit(
            appointment=missed, reason="illness", note="", by=sam, now=timezone.now()
        )
    else:
        services.mark_no_show(appointment=missed, by=sam, now=at(north, 0, 9, 30))

    visit = book(course, north, sam, 0, 14, chair_name="Chair 2")

    assert (visit.status, visit.starts_at) == ("booked", at(north, 0, 14))


# -- two courses -------------------------------------------------------------------------------


@pytest.fixture
def second_course(north, pat, ada, ben, sam, stocked):
    """Pat's first course gave one infusion on Monday 30 November at 09:00 and was then
    discontinued; a second course is enrolled."""
    first = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=BEFORE, phq9_total=18, gad7_total=12
    )
    given = book(first, north, sam, 0, 9)
    build.give_infusion(given, ben)
    care.change_course_status(
        course=first, status=CourseStatus.DISCONTINUED, by=ada, at=at(north, 0, 15),
        reason="Moved to another protocol",
    )  # fmt: skip
    given.refresh_from_db()
    assert given.status == AppointmentStatus.COMPLETED
    return build.enrol(pat, ada, now=at(north, 0, 16))


def test_a_visit_of_another_course_counts(north, sam, second_course, stocked):
    with pytest.raises(services.BookingConflict) as excinfo:
        book(second_course, north, sam, 1, 8, chair_name="Chair 2")
    assert excinfo.value.message == FLOOR + "2026-11-30 09:00"

    book(second_course, north, sam, 1, 9, chair_name="Chair 2")
    assert starts(second_course) == [at(north, 1, 9)]


def test_the_series_search_and_booking_keep_the_floor_from_another_course(
    north, sam, second_course, stocked
):
    # Booked on Monday afternoon from Tuesday: the earliest series would start on Tuesday at
    # 08:00, 23 h after the first course's infusion; the floor moves it to 09:00, exactly 24 h.
    proposal = services.propose_series(
        course=second_course,
        request=services.SeriesRequest(earliest=at(north, 1, 0)),
        now=at(north, 0, 16),
    )
    booked = services.book_series(
        course=second_course, earliest=at(north, 1, 0), by=sam, now=at(north, 0, 16)
    )

    assert proposal.series is not None
    assert proposal.series[0].start == at(north, 1, 9)
    assert [visit.starts_at for visit in booked] == [slot.start for slot in proposal.series]
    everything = Appointment.objects.filter(status__in=OCCUPYING)
    assert under_the_floor(everything.values_list("starts_at", flat=True)) == []


# -- a series held on the booking screen, then booked (the screen and the API) ------------------


@pytest.fixture
def held(north, pat, ada, sam):
    """Pat's second course previewed and held by Sam from Monday 30 November (Mon, Wed, Fri
    at 08:00 ...); meanwhile a visit of Pat's first, discontinued course was booked on Tuesday
    at 10:00, 22 h before the held Wednesday visit."""
    first = enrol(pat, ada)
    care.change_course_status(
        course=first, status=CourseStatus.DISCONTINUED, by=ada, at=BEFORE, reason="Re-enrolled"
    )
    course = enrol(pat, ada)
    result = services.propose_series(
        course=course, request=services.SeriesRequest(earliest=at(north, 0, 0)), now=BEFORE
    )
    services.hold_series(course=course, result=result, by=sam, now=BEFORE)
    assert local([slot.start for slot in result.series or ()], north)[:2] == [
        "Mon 30 08:00",
        "Wed 02 08:00",
    ]
    book(first, north, sam, 1, 10)
    return course


def test_a_held_series_under_the_floor_is_not_booked(north, sam, held):
    with pytest.raises(services.BookingConflict) as excinfo:
        services.book_series(course=held, earliest=at(north, 0, 0), by=sam, now=BEFORE)

    assert excinfo.value.message == FLOOR + "2026-12-01 10:00"
    assert starts(held) == []


@time_machine.travel(BEFORE, tick=False)
def test_the_api_answers_409_with_the_floor(login, north, pat, sam, held):
    response = login(sam).post(
        f"/api/v1/patients/{pat.pk}/series",
        json.dumps({"first_day": "2026-11-30"}),
        content_type="application/json",
    )

    assert (response.status_code, response.json()) == (
        409,
        {"error": {"code": "starts_at", "message": FLOOR + "2026-12-01 10:00"}},
    )
    assert starts(held) == []


# -- moves, overrides and repairs -----------------------------------------------------------------


@pytest.fixture
def series(north, pat, ada, sam):
    """Pat's induction series: Mon 30, Wed 2, Fri 4, Mon 7, Wed 9, Fri 11, all at 08:00."""
    course = enrol(pat, ada)
    visits = services.book_series(course=course, earliest=at(north, 0, 0), by=sam, now=BEFORE)
    assert local([v.starts_at for v in visits], north) == [
        "Mon 30 08:00", "Wed 02 08:00", "Fri 04 08:00", "Mon 07 08:00", "Wed 09 08:00",
        "Fri 11 08:00",
    ]  # fmt: skip
    return visits


@pytest.mark.parametrize("who", ["ada", "sam"])
def test_no_override_moves_a_visit_under_the_floor(north, series, request, who):
    # Visit 6 to Wednesday 9 at 14:00, 6 h after visit 5: the prescriber's reason cannot keep
    # it, and the scheduler is told about the floor, not offered an override.
    last = series[-1]
    with pytest.raises(services.BookingConflict) as excinfo:
        services.reschedule_visit(
            appointment=last, starts_at=at(north, 9, 14), by=request.getfixturevalue(who),
            override_reason="Patient asked; agreed" if who == "ada" else "", now=BEFORE,
        )  # fmt: skip

    assert excinfo.value.message == FLOOR + "2026-12-09 08:00"
    last.refresh_from_db()
    assert (last.starts_at, last.status, last.override_reason) == (at(north, 11, 8), "booked", "")


def test_an_override_may_keep_a_visit_exactly_24_h_after_another(north, series, ada):
    # Thursday 10 at 08:00 breaks the protocol's 48 h (a prescriber keeps it) but not the floor.
    last = series[-1]
    result = services.reschedule_visit(
        appointment=last, starts_at=at(north, 10, 8), by=ada, override_reason="Travel; agreed",
        now=BEFORE,
    )  # fmt: skip

    assert [rule.split(":")[0] for rule in result.overridden] == ["min_gap"]
    last.refresh_from_db()
    assert (last.starts_at, last.override_reason) == (at(north, 10, 8), "Travel; agreed")


def test_a_move_next_to_a_booster_is_refused(north, series, sam):
    # A booster (visit 7) on Monday 14 at 08:00; visit 6 moved to Monday 14 at 13:00 overlaps
    # nothing and keeps the series' rules, but starts 5 h after the booster.
    booster = book(series[0].course, north, sam, 14, 8)
    with pytest.raises(services.BookingConflict) as excinfo:
        services.reschedule_visit(
            appointment=series[-1], starts_at=at(north, 14, 13), by=sam, now=BEFORE
        )
    assert excinfo.value.message == FLOOR + "2026-12-14 08:00"
    assert booster.number == 7


def test_the_repair_plans_around_a_booster_with_the_floor(north, series, sam):
    # A booster (visit 7) on Monday 14 at 10:00. Visit 2 moves to Thursday 3, so visits 3–6
    # are planned again from 48 h later: Mon 7, Wed 9, Fri 11 and then Monday 14 at 08:00,
    # which ends as the booster starts but is 2 h before it; the floor puts it on Tuesday 15 at
    # 10:00, exactly 24 h after the booster.
    book(series[0].course, north, sam, 14, 10)

    result = services.reschedule_visit(
        appointment=series[1], starts_at=at(north, 3, 8), by=sam, now=BEFORE
    )

    assert [visit.number for visit in result.repaired] == [3, 4, 5, 6]
    assert result.overridden == []
    assert local(starts(series[0].course), north) == [
        "Mon 30 08:00", "Thu 03 08:00", "Mon 07 08:00", "Wed 09 08:00", "Fri 11 08:00",
        "Mon 14 10:00", "Tue 15 10:00",
    ]  # fmt: skip


# -- the pages ----------------------------------------------------------------------------------


def test_the_patient_page_shows_the_refusal(login, north, pat, ada, sam):
    course = enrol(pat, ada)
    book(course, north, sam, 0, 9)

    response = login(sam).post(
        f"/patients/{pat.pk}/visits/",
        {"chair": chair(north, "Chair 2").pk, "day": "2026-11-30", "start_time": "14:00"},
        follow=True,
    )

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["I" + FLOOR[1:] + "2026-11-30 09:00"]
    assert len(starts(course)) == 1


def test_the_move_form_shows_the_refusal_to_a_prescriber_with_a_reason(login, north, series, ada):
    last = series[-1]

    response = login(ada).post(
        f"/visits/{last.pk}/move/",
        {
            "chair": last.chair_id, "day": "2026-12-09", "start_time": "14:00",
            "override_reason": "Patient asked; agreed",
        },
        follow=True,
    )  # fmt: skip

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["I" + FLOOR[1:] + "2026-12-09 08:00"]
    last.refresh_from_db()
    assert last.starts_at == at(north, 11, 8)


# -- the waitlist -----------------------------------------------------------------------------


@pytest.mark.solver
@time_machine.travel(BEFORE, tick=False)
def test_the_waitlist_plans_around_another_course_s_visit(north, pat, ada, sam):
    first = enrol(pat, ada)
    care.change_course_status(
        course=first, status=CourseStatus.DISCONTINUED, by=ada, at=BEFORE, reason="Re-enrolled"
    )
    book(first, north, sam, 0, 9)
    waiting = enrol(pat, ada)

    call_command(
        "place_waitlist", "--site", str(north.pk), "--seconds", "2", "--book", "--by", "sam"
    )

    assert local(starts(waiting), north)[0] == "Tue 01 09:00"
    assert under_the_floor(Appointment.objects.values_list("starts_at", flat=True)) == []


# -- races, and the database itself -----------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_bookings_2_h_apart_book_one(north, pat, ada, sam):
    # Threads book Pat at 08:00, 10:00, 12:00, 14:00 and 16:00 on Monday in two chairs at
    # once: no two overlap, every two are under the floor, so exactly one is booked.
    course = enrol(pat, ada)
    hours = [8, 10, 12, 14, 16]

    def booking(n: int, hour: int):
        return lambda: book(course, north, sam, 0, hour, chair_name=f"Chair {1 + n % 2}")

    results = run_together([booking(n, hour) for n, hour in enumerate(hours)])

    booked = [r for r in results if isinstance(r, Appointment)]
    refused = [r for r in results if not isinstance(r, Appointment)]
    assert len(booked) == 1
    winner = f"2026-11-30 {booked[0].starts_at.astimezone(north.tz):%H:%M}"
    assert [(type(r).__name__, str(r)) for r in refused] == [
        ("BookingConflict", "starts_at: " + FLOOR + winner)
    ] * (len(hours) - 1)
    assert len(starts(course)) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="exclusion constraints")
@pytest.mark.parametrize(
    ("apart", "status", "refused"),
    [
        pytest.param(dt.timedelta(hours=23, minutes=59), "booked", True, id="23-h-59-booked"),
        pytest.param(dt.timedelta(hours=2), "completed", True, id="2-h-completed"),
        pytest.param(dt.timedelta(hours=24), "booked", False, id="exactly-24-h"),
        pytest.param(dt.timedelta(hours=2), "cancelled", False, id="2-h-cancelled"),
        pytest.param(dt.timedelta(hours=2), "no_show", False, id="2-h-no-show"),
    ],
)
def test_postgresql_refuses_visits_under_the_floor_itself(
    north, pat, ada, sam, apart, status, refused
):
    course = enrol(pat, ada)
    first = book(course, north, sam, 0, 9)

    def insert():
        with transaction.atomic():
            Appointment.objects.create(
                site=north, chair=chair(north, "Chair 2"), patient=pat, course=course, number=2,
                starts_at=first.starts_at + apart, ends_at=first.ends_at + apart,
                booked_at=first.booked_at, booked_by=sam, status=status,
                cancel_reason="illness" if status == "cancelled" else "",
            )  # fmt: skip

    if refused:
        with pytest.raises(IntegrityError, match="appt_infusion_gap_floor"):
            insert()
    else:
        insert()
        assert course.appointments.count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="exclusion constraints")
def test_postgresql_s_refusal_is_a_409_not_a_500(north, pat, ada, sam, monkeypatch):
    # Were the service's check ever to miss, the database refuses and the booking answers
    # with a conflict: the check is switched off here to reach the constraint.
    course = enrol(pat, ada)
    book(course, north, sam, 0, 9)
    monkeypatch.setattr(services, "_check_gap_floor", lambda *args, **kwargs: None)

    with pytest.raises(services.BookingConflict) as excinfo:
        book(course, north, sam, 0, 14, chair_name="Chair 2")

    assert excinfo.value.message == (
        "a chair or the patient was booked at or near that time meanwhile; search again"
    )
    assert len(starts(course)) == 1
