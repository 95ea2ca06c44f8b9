"""Shifts, the nurse ratio per visit phase and prescriber presence, enforced when booking."""

import datetime as dt
import itertools
import zoneinfo
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from sustain.accounts.models import AuditEvent
from sustain.care import services as care_services
from sustain.care.models import Course
from sustain.care.protocol_versions import protocol_for
from sustain.scheduling import hours, services, staff
from sustain.scheduling.enums import StaffRole
from sustain.scheduling.models import Appointment, Chair, PhaseStaffing, Shift
from sustain_core import staffing
from sustain_core.errors import ClinicalValueError, NoSeriesFound
from tests.sustain.conftest import make_user
from tests.sustain.scheduling.test_booking import THREADS, overlapping_pairs, run_together

pytestmark = pytest.mark.db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
MONDAY = dt.date(2026, 11, 30)
# 1 nurse looks after 2 patients checking in, 1 infusing, 2 recovering; discharge uncounted;
# a prescriber on site for every infusion.
RULES = {"check_in": (2, False), "infusion": (1, True), "recovery": (2, False)}


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), NEW_YORK)


def put_on_shift(
    site, *, nurse, prescriber, by, days=range(5), until=dt.time(12), weeks=3, first=MONDAY
) -> None:
    """The nurse and the prescriber on shift from 8:00 on these days of the week from
    `first`, for `weeks` weeks."""
    for day in days:
        for person, role in ((nurse, StaffRole.NURSE), (prescriber, StaffRole.PRESCRIBER)):
            staff.add_shifts(
                site=site,
                request=staff.ShiftRequest(
                    staff=person, role=role, day=first + dt.timedelta(days=day),
                    starts=dt.time(8), ends=until, weeks=weeks,
                ),
                by=by,
            )  # fmt: skip


@pytest.fixture
def staffed(north, ada, ben, alex):
    """North checks staffing: Ben nurses and Ada prescribes weekdays 8:00–12:00 for 3 weeks."""
    staff.set_phase_staffing(site=north, rules=RULES, by=alex, now=at(MONDAY, 0))
    put_on_shift(north, nurse=ben, prescriber=ada, by=alex)
    return north


def new_course(
    site, sam, ada, name: str, key: str = "depression-induction", condition: str = "depression"
) -> Course:
    patient = care_services.register_patient(
        by=sam, site=site, given_name=name, family_name="Staffed", sex="unknown",
        date_of_birth=dt.date(1985, 1, 1), phone="", email="", primary_condition=condition,
        weight_kg=Decimal("70"), today=dt.date(2026, 11, 27), now=timezone.now(),
        confirm_duplicate=True,  # one family born one day: distinct people
    )  # fmt: skip
    return care_services.enrol_patient(
        patient=patient, protocol_key=key, protocol_version=1, by=ada, now=timezone.now()
    )


def shortfalls(site) -> list[staff.staffing.Segment]:
    return [
        s
        for s in staff.site_profile(site, at(MONDAY, 0), at(MONDAY + dt.timedelta(days=28), 0))
        if s.short
    ]


def local_starts(visits) -> list[str]:
    return [v.starts_at.astimezone(NEW_YORK).strftime("%a %d %H:%M") for v in visits]


def test_a_site_without_staffing_rules_books_without_shifts(north, pat, ada, sam):
    course = care_services.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )

    visits = services.book_series(course=course, earliest=at(MONDAY, 0), by=sam, now=timezone.now())

    assert len(visits) == 6
    assert not staff.staff_rules(north).checked


def test_visits_record_their_template_phases(staffed, pat, ada, sam):
    course = new_course(staffed, sam, ada, "Phases")

    visit = services.book_series(course=course, earliest=at(MONDAY, 0), by=sam, now=timezone.now())[
        0
    ]

    assert staffing.visit_phases(
        visit.check_in_minutes, visit.infusion_minutes, visit.recovery_minutes,
        visit.discharge_minutes,
    ) == course_protocol_phases(course)  # fmt: skip
    assert visit.ends_at - visit.starts_at == dt.timedelta(hours=2)


def course_protocol_phases(course):
    return protocol_for(course).visit_phases


def test_the_second_patient_waits_for_the_nurse(staffed, ada, sam):
    # One nurse at 1:1 while infusing: the second series cannot infuse at the same time.
    first = services.book_series(
        course=new_course(staffed, sam, ada, "First"),
        earliest=at(MONDAY, 0),
        by=sam,
        now=timezone.now(),
    )
    second = services.book_series(
        course=new_course(staffed, sam, ada, "Second"),
        earliest=at(MONDAY, 0),
        by=sam,
        now=timezone.now(),
    )

    assert local_starts(first)[:2] == ["Mon 30 08:00", "Wed 02 08:00"]
    # The first infuses 8:15–8:55 (the whole nurse) and recovers 8:55–9:55 (half of her): the
    # second's infusion needs all of her, so it starts at 10:00, after a 9:45 check-in.
    assert local_starts(second)[:2] == ["Mon 30 09:45", "Wed 02 09:45"]
    assert shortfalls(staffed) == []


def test_no_series_without_a_prescriber_on_site(staffed, ada, sam):
    Shift.objects.filter(role=StaffRole.PRESCRIBER).delete()
    course = new_course(staffed, sam, ada, "Nobody")
    request = services.SeriesRequest(earliest=at(MONDAY, 0))

    assert services.propose_series(course=course, request=request, now=timezone.now()) == (
        services.series.SeriesResult(series=None, alternatives=())
    )
    with pytest.raises(NoSeriesFound) as raised:
        services.book_series(course=course, earliest=at(MONDAY, 0), by=sam, now=timezone.now())

    assert raised.value.message == (
        "no series fits in the 60 days from 2026-11-30: free chairs within opening hours, "
        "with the nurses and prescriber it needs on shift"
    )
    assert not Appointment.objects.exists()


def test_a_single_visit_without_staff_is_a_conflict_naming_what_is_missing(staffed, ada, sam):
    course = new_course(staffed, sam, ada, "Booster")
    chair = staffed.chairs.first()

    with pytest.raises(services.BookingConflict) as raised:
        services.book_visit(
            course=course, chair=chair, starts_at=at(MONDAY, 11, 30), by=sam, now=timezone.now()
        )

    assert raised.value.message == (
        "Mon 30 Nov: no nurse free for another patient in infusion (1:1) (11:45–12:25); "
        "Mon 30 Nov: no prescriber on site during the infusion (11:45–12:25); "
        "Mon 30 Nov: no nurse free for another patient in recovery (1:2) (12:25–13:25)"
    )
    visit = services.book_visit(
        course=course, chair=chair, starts_at=at(MONDAY, 9), by=sam, now=timezone.now()
    )
    assert visit.infusion_minutes == 40


def test_a_move_into_an_unstaffed_time_is_refused(staffed, ada, sam):
    visits = services.book_series(
        course=new_course(staffed, sam, ada, "Mover"),
        earliest=at(MONDAY, 0),
        by=sam,
        now=timezone.now(),
    )

    with pytest.raises(services.BookingConflict) as raised:
        services.reschedule_visit(
            appointment=visits[0], starts_at=at(MONDAY, 14), by=sam, now=timezone.now()
        )

    assert "no prescriber on site during the infusion (14:15–14:55)" in raised.value.message
    moved = services.reschedule_visit(
        appointment=visits[0], starts_at=at(MONDAY, 9), by=sam, now=timezone.now()
    )
    assert local_starts([moved.moved]) == ["Mon 30 09:00"]


def test_a_held_series_is_checked_for_staff_when_confirmed(staffed, ada, ben, sam, alex):
    course = new_course(staffed, sam, ada, "Held")
    request = services.SeriesRequest(earliest=at(MONDAY, 0))
    result = services.propose_series(course=course, request=request, now=timezone.now())
    services.hold_series(course=course, result=result, by=sam, now=timezone.now())
    # The nurse's Monday shift goes (nothing is booked yet, so that is allowed).
    monday = Shift.objects.get(staff=ben, starts_at=at(MONDAY, 8))
    staff.remove_shift(shift=monday, by=alex)

    with pytest.raises(services.BookingConflict) as raised:
        services.book_series(
            course=course, earliest=at(MONDAY, 0), by=sam, request=request, now=timezone.now()
        )

    assert raised.value.message.startswith("the held series lacks staff now: Mon 30 Nov: no nurse")
    assert not Appointment.objects.exists()


def test_a_held_series_is_checked_against_a_closure_added_since(staffed, ada, sam, alex):
    course = new_course(staffed, sam, ada, "Held")
    request = services.SeriesRequest(earliest=at(MONDAY, 0))
    result = services.propose_series(course=course, request=request, now=timezone.now())
    services.hold_series(course=course, result=result, by=sam, now=timezone.now())
    hours.add_closures(  # decided the Friday before
        site=staffed, first=MONDAY, last=None, reason="Burst pipe", by=alex,
        now=at(MONDAY - dt.timedelta(days=3), 12),
    )  # fmt: skip

    with pytest.raises(services.BookingConflict) as raised:
        services.book_series(
            course=course, earliest=at(MONDAY, 0), by=sam, request=request, now=timezone.now()
        )

    assert raised.value.message.startswith("the held series is no longer within the site's hours")
    assert raised.value.message.endswith("; search again")
    assert not Appointment.objects.exists()


def test_holds_count_as_nurse_load_for_other_searches(staffed, ada, sam):
    held = new_course(staffed, sam, ada, "Holder")
    result = services.propose_series(
        course=held, request=services.SeriesRequest(earliest=at(MONDAY, 0)), now=timezone.now()
    )
    services.hold_series(course=held, result=result, by=sam, now=timezone.now())

    other = services.propose_series(
        course=new_course(staffed, sam, ada, "Other"),
        request=services.SeriesRequest(earliest=at(MONDAY, 0)),
        now=timezone.now(),
    )

    assert other.series[0].start == at(MONDAY, 9, 45)  # after the held 8:00 visit


def test_removing_a_shift_that_booked_visits_need_is_refused(staffed, ada, ben, sam, alex):
    services.book_series(
        course=new_course(staffed, sam, ada, "Needs"),
        earliest=at(MONDAY, 0),
        by=sam,
        now=timezone.now(),
    )
    monday = Shift.objects.get(staff=ben, starts_at=at(MONDAY, 8))
    tuesday = Shift.objects.get(staff=ben, starts_at=at(MONDAY + dt.timedelta(days=1), 8))

    with pytest.raises(ClinicalValueError) as raised:
        staff.remove_shift(shift=monday, by=alex)

    assert raised.value.message == (
        "removing this shift would leave booked visits without the nurses or prescriber they "
        "need (Mon 30 Nov 08:00–08:15, Mon 30 Nov 08:15–08:55, Mon 30 Nov 08:55–09:55); move "
        "the visits or add cover first"
    )
    assert Shift.objects.filter(pk=monday.pk).exists()
    staff.remove_shift(shift=tuesday, by=alex)  # no visit on Tuesday
    assert not Shift.objects.filter(pk=tuesday.pk).exists()
    assert AuditEvent.objects.filter(action="delete", category="schedule").count() == 1


def test_stricter_rules_that_booked_visits_break_are_refused(staffed, ada, sam, alex):
    services.book_series(
        course=new_course(staffed, sam, ada, "One"),
        earliest=at(MONDAY, 0),
        by=sam,
        now=timezone.now(),
    )
    services.book_series(
        course=new_course(staffed, sam, ada, "Two"),
        earliest=at(MONDAY, 0),
        by=sam,
        now=timezone.now(),
    )
    stricter = RULES | {"recovery": (1, False)}  # both recover 9:35–9:55 together

    with pytest.raises(ClinicalValueError) as raised:
        staff.set_phase_staffing(site=staffed, rules=stricter, by=alex, now=at(MONDAY, 0))

    assert raised.value.message.startswith("these rules would leave booked visits without")
    assert PhaseStaffing.objects.get(site=staffed, phase="recovery").patients_per_nurse == 2


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"role": StaffRole.PRESCRIBER}, "staff", " is not a Prescriber"),
        ({"ends": dt.time(7)}, "ends", "a shift ends after it starts and lasts at most 16 hours; "
         "got 08:00–07:00"),
        ({"weeks": 27}, "weeks", "repeat for 1 to 26 weeks; got 27"),
        ({"day": MONDAY + dt.timedelta(weeks=2), "starts": dt.time(11), "ends": dt.time(15)},
         "starts", " already has a shift Mon 14 Dec 08:00–12:00"),
    ],
)  # fmt: skip
def test_a_shift_is_refused_with_a_reason(staffed, ben, alex, change, field, message):
    request = staff.ShiftRequest(
        staff=ben, role=StaffRole.NURSE, day=MONDAY - dt.timedelta(weeks=1),
        starts=dt.time(8), ends=dt.time(16),
    )  # fmt: skip
    request = staff.ShiftRequest(**(request.__dict__ | change | {"weeks": change.get("weeks", 3)}))
    before = Shift.objects.count()

    with pytest.raises(ClinicalValueError) as raised:
        staff.add_shifts(site=staffed, request=request, by=alex)

    assert raised.value.field == field
    assert raised.value.message.endswith(message)
    assert Shift.objects.count() == before  # all or nothing


def test_a_shift_at_another_site_is_refused(staffed, south, alex):
    other = make_user("olga", "nurse", south)

    with pytest.raises(ClinicalValueError) as raised:
        staff.add_shifts(
            site=staffed,
            request=staff.ShiftRequest(
                staff=other, role=StaffRole.NURSE, day=MONDAY, starts=dt.time(8),
                ends=dt.time(12),
            ),
            by=alex,
        )  # fmt: skip

    assert raised.value.message.endswith("does not work at North Clinic")


def test_a_long_infusion_needs_an_extended_chair(staffed, ada, sam):
    course = new_course(
        staffed, sam, ada, "Pain", key="crps-schwartzman-2009", condition="chronic_pain"
    )
    standard = staffed.chairs.get(name="Chair 1")

    with pytest.raises(ClinicalValueError) as raised:
        services.book_visit(
            course=course, chair=standard, starts_at=at(MONDAY, 8), by=sam, now=timezone.now()
        )

    assert raised.value.message == "chair Chair 1 lacks extended for these visits"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_series_never_exceed_the_nurse_ratio_or_miss_the_prescriber(
    north, ada, ben, sam, alex
):
    # 12 chairs, so only staff limits how many patients are treated at once.
    for n in range(3, 13):
        Chair.objects.create(site=north, name=f"Chair {n}")
    staff.set_phase_staffing(site=north, rules=RULES, by=alex, now=at(MONDAY, 0))
    put_on_shift(north, nurse=ben, prescriber=ada, by=alex, until=dt.time(18), weeks=4)
    courses = [new_course(north, sam, ada, f"Race{n}") for n in range(THREADS)]

    results = run_together(
        [
            lambda c=c: services.book_series(
                course=c, earliest=at(MONDAY, 0), by=sam, now=timezone.now()
            )
            for c in courses
        ]
    )

    # Four weeks of shifts hold 10 of the 12 series; the others are refused cleanly.
    booked = [r for r in results if isinstance(r, list)]
    refused = [type(r).__name__ for r in results if isinstance(r, Exception)]
    assert (len(booked), refused) == (10, ["NoSeriesFound"] * 2)
    visits = list(Appointment.objects.all())
    assert overlapping_pairs(visits) == []
    assert shortfalls(north) == []
    # At 1:1 while infusing, no two infusions ever overlap.
    infusions = [
        (v.starts_at + dt.timedelta(minutes=v.check_in_minutes),
         v.starts_at + dt.timedelta(minutes=v.check_in_minutes + v.infusion_minutes))
        for v in visits
    ]  # fmt: skip
    assert [
        (a, b) for a, b in itertools.combinations(infusions, 2) if a[0] < b[1] and b[0] < a[1]
    ] == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="exclusion constraints")
def test_postgresql_refuses_overlapping_shifts_of_one_person_itself(staffed, ben, alex):
    with pytest.raises(IntegrityError, match="shift_no_overlap"), transaction.atomic():
        Shift.objects.create(
            site=staffed, staff=ben, role=StaffRole.NURSE, starts_at=at(MONDAY, 11),
            ends_at=at(MONDAY, 13), created_by=alex,
        )  # fmt: skip
