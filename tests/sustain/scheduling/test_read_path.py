"""The read path (issue 15 item 3): the queries of the day board, the week, the series
preview's diary and staff reads, the patient page and the reminder sweep use the composite
indexes of scheduling migration 0007 (and the shifts' (site, starts_at) index), on a site with
a year of visits; and the booking searches read the look-ahead's diary first.

Each plan is the database's own EXPLAIN of the SQL the real function ran (captured as it
runs), after VACUUM FULL and ANALYZE, on a site of 12 chairs with about 6,000 visits over a year
(24 patients on every weekday), three years of shifts, a year of expired holds: large enough
that PostgreSQL's planner prefers an index to a sequential scan on its own (no planner setting
is changed).
"""

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest
from django.db import connection

from sustain.accounts.models import Site, User
from sustain.care.models import Course
from sustain.care.protocol_versions import protocol_for
from sustain.clinic.queries import patient_page
from sustain.scheduling import extension, queries, reminders, services, staff
from sustain.scheduling.enums import AppointmentStatus, StaffRole
from sustain.scheduling.models import Appointment, SeriesHold, Shift
from sustain_core import series
from sustain_core.errors import NoSeriesFound
from tests.sustain import clinic_builders as build
from tests.sustain.scheduling.test_extension import after_induction

pytestmark = pytest.mark.django_db

FIRST = dt.date(2026, 1, 5)  # a Monday: a year of visits from here
DAY = dt.date(2026, 7, 8)  # a Wednesday in the middle of it
PATIENTS = 24


@pytest.fixture
def year(north: Site, ada: User, ben: User, sam: User, alex: User, ivy: User) -> list[Course]:
    """North with 12 chairs, 24 patients each with a visit on every weekday of a year (chair
    by patient, 08:00 or 11:00), completed before DAY and booked after, four nurses' and a
    prescriber's shifts every weekday for three years, a year of expired holds, and the tables
    analysed; returns the courses."""
    vacuum(APPOINTMENTS, "scheduling_shift", "scheduling_serieshold")
    chairs = list(north.chairs.all())
    for n in range(len(chairs), 12):
        chairs.append(north.chairs.create(name=f"Chair {n + 1}"))
    courses = []
    for n in range(PATIENTS):
        patient = build.register(north, sam, f"Y{n}", "Year", on=FIRST - dt.timedelta(days=7))
        courses.append(build.enrol(patient, ada, now=build.at(north, FIRST, 7)))
    visits, shifts = [], []
    for offset in range(364):
        day = FIRST + dt.timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        status = AppointmentStatus.COMPLETED if day < DAY else AppointmentStatus.BOOKED
        for n, course in enumerate(courses):
            starts_at = build.at(north, day, 8 if n < 12 else 11)
            visits.append(
                Appointment(
                    site=north, chair=chairs[n % 12], patient=course.patient, course=course,
                    number=len(visits) // PATIENTS + 1, starts_at=starts_at,
                    ends_at=starts_at + dt.timedelta(hours=2), status=status,
                    booked_at=build.at(north, FIRST, 7), booked_by=sam,
                )
            )  # fmt: skip
    Appointment.objects.bulk_create(visits, batch_size=2000)
    # Four nurses and a prescriber every weekday, for the two years before and this one.
    people = [(person, StaffRole.NURSE) for person in (ben, sam, alex, ivy)]
    for offset in range(-2 * 364, 364):
        day = FIRST + dt.timedelta(days=offset)
        for person, role in [*people, (ada, StaffRole.PRESCRIBER)] * (day.weekday() < 5):
            shifts.append(
                Shift(
                    site=north, staff=person, role=role, starts_at=build.at(north, day, 8),
                    ends_at=build.at(north, day, 18), created_by=sam,
                )
            )  # fmt: skip
    # Previews never booked leave their holds behind, expired: one a day.
    SeriesHold.objects.bulk_create(
        SeriesHold(
            course=courses[n % PATIENTS], site=north, choice="earliest", held_by=sam, slots=[],
            expires_at=build.at(north, DAY - dt.timedelta(days=n + 2), 9),
        )
        for n in range(364)
    )  # fmt: skip
    Shift.objects.bulk_create(shifts)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return courses


def vacuum(*tables: str) -> None:
    """On PostgreSQL, rewrite `tables` without the dead rows earlier tests left (the suite
    shares one database and rolls each test back). Otherwise the year's rows land in the free
    space those left, spread over many pages, and the planner's costs, so its choice, depend on
    which tests ran before: in the whole suite it chose a sequential scan. VACUUM FULL cannot
    run inside the test's transaction, so it runs on a connection of its own, before the test
    has touched these tables (a lock timeout rather than a wait, should it ever have)."""
    if connection.vendor != "postgresql":
        return
    import psycopg  # noqa: PLC0415 - PostgreSQL's driver, installed where it runs

    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as own:
        own.execute("SET lock_timeout = '10s'")
        for table in tables:
            own.execute(f"VACUUM FULL {table}")


def plans(work: Callable[[], object], table: str) -> list[str]:
    """The database's plan of every SELECT from `table` that `work` ran."""
    ran: list[tuple[str, object]] = []

    def capture(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.lstrip().upper().startswith("SELECT") and f'FROM "{table}"' in sql:
            ran.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        work()
    assert ran, f"no read of {table}"
    explain = "EXPLAIN " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    found = []
    with connection.cursor() as cursor:
        for sql, params in ran:
            cursor.execute(explain + sql, params)
            found.append("\n".join(str(row[-1]) for row in cursor.fetchall()))
    return found


def uses(plan: str, index: str) -> bool:
    return f" {index} " in f"{plan} " or f" {index}\n" in plan


APPOINTMENTS = "scheduling_appointment"


def test_the_pages_and_the_preview_read_through_the_indexes(year, north, ada, sam):
    """One site of a year (the setup is the cost), every read checked: the board and the
    week; the preview's reads (services._busy: the site's and the patient's visits and the
    holds; staff.booked_visits; staff.shifts_by_role); the patient page; the reminder sweep."""
    for days in (1, 7):  # the day board, the week
        (plan,) = plans(lambda d=days: queries.schedule(north, DAY, days=d), APPOINTMENTS)
        assert uses(plan, "appt_site_starts"), plan

    patient = year[0].patient
    start = build.at(north, DAY, 8)
    end = start + services.HORIZON * 2
    now = start - dt.timedelta(days=1)
    chair = north.chairs.first()
    SeriesHold.objects.create(
        course=year[1], site=north, choice="earliest", held_by=sam,
        slots=[[chair.pk, start.isoformat(), (start + dt.timedelta(hours=2)).isoformat()]],
        expires_at=now + dt.timedelta(minutes=5),
    )  # fmt: skip
    (busy,) = plans(lambda: services._busy(north, patient, start, end, now=now), APPOINTMENTS)
    assert uses(busy, "appt_site_starts") and uses(busy, "appt_patient_starts"), busy
    (holds,) = plans(
        lambda: services._busy(north, patient, start, end, now=now), "scheduling_serieshold"
    )
    assert uses(holds, "scheduling_serieshold_expires_at_4ab125a1"), holds
    soon = start + series.LOOK_AHEAD + dt.timedelta(days=21)  # the staff read asked first
    (visits,) = plans(lambda: staff.booked_visits(north, start, soon), APPOINTMENTS)
    assert uses(visits, "appt_site_starts"), visits
    (shifts,) = plans(lambda: staff.shifts_by_role(north, start, soon), "scheduling_shift")
    assert uses(shifts, "scheduling__site_id_03b343_idx"), shifts

    found = plans(lambda: patient_page(ada, patient.pk, now=build.at(north, DAY, 12)), APPOINTMENTS)
    assert any(uses(plan, "appt_patient_starts") for plan in found), found
    full = ("Seq Scan on scheduling_appointment", "SCAN scheduling_appointment")
    assert not [plan for plan in found if any(scan in plan for scan in full)], found

    sweep = plans(lambda: reminders.send_due_reminders(now=build.at(north, DAY, 6)), APPOINTMENTS)
    assert uses(sweep[0], "appt_booked_starts"), sweep[0]


def test_a_visit_of_the_longest_length_still_overlaps(north, sam, ada):
    """The overlap read bounds starts_at by LONGEST_VISIT: a visit as long as any can be (a
    day's opening hours, one more hour on the day the clocks go back) is still found."""
    patient = build.register(north, sam, "Long", "Day", on=DAY)
    course = build.enrol(patient, ada, now=build.at(north, DAY, 7))
    starts_at = dt.datetime(2026, 10, 31, 4, tzinfo=dt.UTC)  # 1 November 2026, 00:00 in New York
    long = Appointment.objects.create(
        site=north, chair=north.chairs.first(), patient=patient, course=course, number=1,
        starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=25), booked_at=starts_at,
        booked_by=sam,
    )  # fmt: skip
    at_end = starts_at + dt.timedelta(hours=24, minutes=59)
    assert list(Appointment.objects.occupying(at_end, at_end + dt.timedelta(minutes=1))) == [long]


def test_plan_looking_ahead_reads_the_whole_horizon_only_on_a_miss():
    at = dt.datetime(2026, 7, 8, 12, tzinfo=dt.UTC)
    slot = series.Slot(chair=series.ChairId(1), start=at, end=at + dt.timedelta(hours=2))
    asked: list[dt.timedelta] = []

    def fits_within(days: int) -> Callable[[dt.timedelta], tuple[series.Slot, ...]]:
        def plan(horizon: dt.timedelta) -> tuple[series.Slot, ...]:
            asked.append(horizon)
            if horizon < dt.timedelta(days=days):
                raise NoSeriesFound("start", "nothing fits")
            return (slot,)

        return plan

    horizon = services.HORIZON
    assert services.plan_looking_ahead(fits_within(3), horizon=horizon) == (slot,)
    assert asked == [series.LOOK_AHEAD]
    asked.clear()
    assert services.plan_looking_ahead(fits_within(30), horizon=horizon) == (slot,)
    assert asked == [series.LOOK_AHEAD, horizon]
    asked.clear()
    with pytest.raises(NoSeriesFound):
        services.plan_looking_ahead(fits_within(90), horizon=horizon)
    assert asked == [series.LOOK_AHEAD, horizon]
    asked.clear()
    short = dt.timedelta(days=5)  # no longer than the look-ahead: one read
    assert services.plan_looking_ahead(fits_within(3), horizon=short) == (slot,)
    assert asked == [short]


@pytest.mark.parametrize("closed_days", [0, 10])
def test_an_extension_reads_the_look_ahead_first_and_finds_the_same_series(
    north, ada, ben, sam, stocked, monkeypatch, closed_days
):
    """With the site open, the extension's diary is read for the look-ahead and its span
    only; with the next 10 days closed, the look-ahead misses and the whole horizon is read.
    Either way the series is the one a search of the whole horizon finds."""
    course, visits, day_after = after_induction(north, ada, ben, sam, latest=13)
    protocol = protocol_for(course)
    rules = dataclasses.replace(protocol.series, count=3)
    start = visits[-1].starts_at + protocol.series.min_gap
    for offset in range(closed_days):
        day = start.astimezone(north.tz).date() + dt.timedelta(days=offset)
        north.closures.create(date=day, reason="Training")
    windows: list[dt.timedelta] = []
    read = services.busy_between

    def recorded(site, patient, begin, end, **kwargs):  # type: ignore[no-untyped-def]
        windows.append(end - begin)
        return read(site, patient, begin, end, **kwargs)

    monkeypatch.setattr(services, "busy_between", recorded)
    found = extension._plan(course, protocol, rules, start, now=day_after)
    span = rules.max_span
    expected = [series.LOOK_AHEAD + span] + ([services.HORIZON + span] if closed_days else [])
    assert windows == expected
    monkeypatch.setattr(series, "LOOK_AHEAD", services.HORIZON)  # one read of it all
    assert extension._plan(course, protocol, rules, start, now=day_after) == found
    assert windows[-1] == services.HORIZON + span
