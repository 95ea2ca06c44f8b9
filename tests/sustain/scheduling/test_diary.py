"""The per-site diary index kept across processes (issue 15 items 1 and 3): the version the
database triggers raise (migration 0007), the process's cache (sustain.scheduling.diary) and
propose_series searching it, against a fresh rebuild and the path before the index
(services.propose_series_reference)."""

import datetime as dt
import os
import random
import subprocess
import sys
import threading
from decimal import Decimal
from importlib import import_module
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from sustain.accounts.models import Site, User
from sustain.care import services as care_services
from sustain.care.models import Course
from sustain.scheduling import chairs, diary, hours, services, staff
from sustain.scheduling.enums import AppointmentStatus, CancellationReason, StaffRole, VisitPhase
from sustain.scheduling.models import (
    Appointment,
    Chair,
    Closure,
    DiaryChange,
    DiaryVersion,
    OpeningHours,
    Shift,
)
from sustain_core import series
from sustain_core.diary import DiaryIndex
from sustain_core.errors import ClinicalValueError
from tests.sustain.conftest import make_user

pytestmark = pytest.mark.db

MONDAY = dt.date(2026, 11, 30)
QUARTER = dt.timedelta(minutes=15)
RULES = {"check_in": (4, False), "infusion": (3, True), "recovery": (3, False)}


@pytest.fixture(autouse=True)
def _empty_cache():
    diary.forget()
    yield
    diary.forget()


def at(site: Site, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=site.tz)


def version(site: Site) -> int:
    row = DiaryVersion.objects.filter(site_id=site.pk).first()
    return 0 if row is None else row.version


def enrol(site: Site, prescriber: User, scheduler: User, name: str) -> Course:
    patient = care_services.register_patient(
        by=scheduler, site=site, given_name=name, family_name="Diary", sex="unknown",
        date_of_birth=dt.date(1980, 1, 1), phone="", email="", primary_condition="depression",
        weight_kg=Decimal("70"), today=dt.date(2026, 11, 23), now=timezone.now(),
        confirm_duplicate=True,
    )  # fmt: skip
    return care_services.enrol_patient(
        patient=patient, protocol_key="depression-induction", protocol_version=1,
        by=prescriber, now=timezone.now(),
    )  # fmt: skip


def shifts(site: Site, person: User, role: StaffRole, by: User, *, weeks: int = 6) -> None:
    for weekday in range(5):
        staff.add_shifts(
            site=site,
            request=staff.ShiftRequest(
                staff=person, role=role, day=dt.date(2026, 11, 23 + weekday),
                starts=dt.time(8), ends=dt.time(18), weeks=weeks,
            ),
            by=by,
        )  # fmt: skip


def same_index(cached: DiaryIndex, fresh: DiaryIndex) -> None:
    def key(interval: series.Interval) -> tuple[dt.datetime, dt.datetime]:
        return (interval.start, interval.end)

    assert cached.visits == fresh.visits
    assert cached.calendar == fresh.calendar
    assert cached.staff_rules == fresh.staff_rules
    assert sorted(cached.nurse_shifts, key=key) == sorted(fresh.nurse_shifts, key=key)
    assert sorted(cached.prescriber_shifts, key=key) == sorted(fresh.prescriber_shifts, key=key)


def check_answers(site: Site, courses: list[Course], rng: random.Random) -> None:
    """propose_series (the cache) answers as the reference path, and the cached index holds
    what a fresh rebuild reads."""
    now = timezone.now()
    for course in rng.sample(courses, min(3, len(courses))):
        day = MONDAY + dt.timedelta(days=rng.randrange(-7, 28))
        request = services.SeriesRequest(
            earliest=at(site, day, rng.choice((8, 11, 15))),
            preferred_chair=rng.choice([None, *site.chairs.all()]),
            requested_span=rng.choice([None, dt.timedelta(days=14)]),
        )
        found = services.propose_series(course=course, request=request, now=now)
        assert found == services.propose_series_reference(course=course, request=request, now=now)
    cached = diary._cache[site.pk]
    assert cached.index.version == version(site)
    same_index(cached.index, diary.build(site, since=cached.since, version=0))


KINDS = (
    "series", "series", "visit", "visit", "cancel", "no_show", "move", "move", "hold", "hold",
    "shift", "unshift", "rules", "hours", "closure", "unclosure", "chair", "phase",
)  # fmt: skip


def random_change(  # noqa: PLR0912 (one branch per kind of change)
    rng: random.Random,
    kind: str,
    site: Site,
    courses: list[Course],
    people: dict[str, User],
) -> str:
    """One real service call of this kind, at random; its refusals are part of the game."""
    now = timezone.now()
    booked = list(Appointment.objects.filter(site=site, status=AppointmentStatus.BOOKED))
    day = MONDAY + dt.timedelta(days=rng.randrange(0, 21))
    when = at(site, day, rng.randrange(8, 16), rng.choice((0, 15, 30, 45)))
    scheduler, admin = people["sam"], people["alex"]
    if kind == "series":
        course = rng.choice(courses)
        services.book_series(course=course, earliest=when, by=scheduler, now=now)
    elif kind == "visit":
        course = rng.choice(courses)
        chair = rng.choice(list(site.chairs.all()))
        services.book_visit(course=course, chair=chair, starts_at=when, by=scheduler, now=now)
    elif kind == "cancel" and booked:
        services.cancel_visit(
            appointment=rng.choice(booked), reason=CancellationReason.ILLNESS, note="",
            by=scheduler, now=now,
        )  # fmt: skip
    elif kind == "no_show" and booked:
        visit = rng.choice(booked)
        services.mark_no_show(appointment=visit, by=scheduler, now=visit.starts_at)
    elif kind == "move" and booked:
        services.reschedule_visit(appointment=rng.choice(booked), starts_at=when, by=scheduler,
                                  now=now)  # fmt: skip
    elif kind == "hold":
        course = rng.choice(courses)
        request = services.SeriesRequest(earliest=when)
        result = services.propose_series(course=course, request=request, now=now)
        services.hold_series(course=course, result=result, by=scheduler, now=now)
    elif kind == "shift":
        person, role = rng.choice([(people["ben2"], StaffRole.NURSE), (people["ada2"],
                                   StaffRole.PRESCRIBER)])  # fmt: skip
        staff.add_shifts(
            site=site, by=admin,
            request=staff.ShiftRequest(staff=person, role=role, day=day,
                                       starts=dt.time(rng.randrange(7, 12)), ends=dt.time(17)),
        )  # fmt: skip
    elif kind == "unshift":
        shift = rng.choice(list(Shift.objects.filter(site=site)))
        staff.remove_shift(shift=shift, by=admin)
    elif kind == "rules":
        ratio = rng.choice((2, 3, 4))
        rules = {"check_in": (4, False), "infusion": (ratio, True), "recovery": (ratio, False)}
        staff.set_phase_staffing(site=site, rules=rules, by=admin, now=now)
    elif kind == "hours":
        closes = dt.time(rng.choice((17, 18, 19)))
        week = {d: (dt.time(8), closes) if d < 5 else None for d in range(7)}
        hours.set_opening_hours(site=site, hours=week, by=admin, now=now)
    elif kind == "closure":
        hours.add_closures(site=site, first=day, last=None, reason="Training", by=admin, now=now)
    elif kind == "unclosure" and site.closures.exists():
        hours.remove_closure(closure=rng.choice(list(site.closures.all())), by=admin)
    elif kind == "chair":
        chair = rng.choice(list(site.chairs.all()))
        wanted = rng.choice([[], ["cardiac_monitor"], ["extended", "cardiac_monitor"]])
        chairs.set_chair_capabilities(chair=chair, capabilities=wanted, by=admin, now=now)
    elif kind == "phase" and booked:
        services.set_phase(rng.choice(booked), VisitPhase.ARRIVED, vitals_overdue_at=None)
    else:
        return "nothing"
    return kind


@pytest.fixture
def clinic(north, south, ada, ben, sam, alex, carl):
    """North with four chairs, staffing checked with shifts for six weeks, a closure and
    patients; South with its own bookings (the other site)."""
    for n in (3, 4):
        Chair.objects.create(site=north, name=f"Chair {n}")
    people = {
        "sam": sam, "alex": alex,
        "ben2": make_user("ben2", "nurse", north), "ada2": make_user("ada2", "prescriber", north),
    }  # fmt: skip
    staff.set_phase_staffing(site=north, rules=RULES, by=alex, now=timezone.now())
    shifts(north, ben, StaffRole.NURSE, alex)
    shifts(north, ada, StaffRole.PRESCRIBER, alex)
    hours.add_closures(
        site=north, first=dt.date(2026, 12, 8), last=None, reason="Training", by=alex,
        now=timezone.now(),
    )  # fmt: skip
    courses = [enrol(north, ada, sam, f"N{n}") for n in range(8)]
    south_sam = make_user("sam_south", "scheduler", south)
    for n in range(2):
        course = enrol(south, carl, south_sam, f"S{n}")
        services.book_series(
            course=course, earliest=at(south, MONDAY, 8), by=south_sam, now=timezone.now()
        )
    return courses, people


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_after_random_changes_the_cache_answers_as_a_rebuild_and_the_reference(north, clinic, seed):
    courses, people = clinic
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    check_answers(north, courses, rng)
    done: list[str] = []
    for _ in range(40):
        before = version(north)
        try:
            done.append(random_change(rng, rng.choice(KINDS), north, courses, people))
        except (ClinicalValueError, PermissionDenied):
            assert version(north) == before  # a refused change leaves no trace
        check_answers(north, courses, rng)
    # The sequence really changed the diary in many ways.
    assert len({"series", "visit", "cancel", "move", "shift", "hold"} & set(done)) >= 4, done


def test_the_version_rises_for_what_the_search_reads(north, pat, ada, sam, alex, ben):
    """One version (and one change row: the visit's id, or null for the setup) per change
    that matters, by any path; none for the rest."""
    course = care_services.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada,
        now=timezone.now(),
    )  # fmt: skip
    chair = north.chairs.first()
    assert chair is not None

    def raised(change, *, by: int = 1, logged: object = "any") -> None:
        before = version(north)
        change()
        assert version(north) == before + by
        rows = DiaryChange.objects.filter(site_id=north.pk, version__gt=before)
        assert sorted(rows.values_list("version", flat=True)) == list(
            range(before + 1, before + 1 + by)
        )
        if logged != "any":
            assert set(rows.values_list("appointment_id", flat=True)) == {logged}

    now = timezone.now()
    visit = services.book_visit(
        course=course, chair=chair, starts_at=at(north, MONDAY, 9), by=sam, now=now
    )
    assert version(north) >= 1
    visits = Appointment.objects.filter(pk=visit.pk)
    # Nothing the search reads: the phase, vitals, the patient's confirmation, the chair's name.
    raised(lambda: services.set_phase(visit, VisitPhase.ARRIVED, vitals_overdue_at=now), by=0)
    raised(lambda: visits.update(phase="", confirmed_at=now, sequence=7, cancel_note="x"), by=0)
    raised(lambda: visits.update(status=AppointmentStatus.COMPLETED), by=0)  # still occupying
    raised(lambda: visits.update(status=AppointmentStatus.BOOKED), by=0)
    raised(lambda: Chair.objects.filter(pk=chair.pk).update(name="Window"), by=0)
    raised(lambda: Site.objects.filter(pk=north.pk).update(name="North Clinic 2"), by=0)
    # The visit itself, by the services and by raw ORM writes.
    for change in (
        lambda: visits.update(starts_at=visit.starts_at + QUARTER, ends_at=visit.ends_at + QUARTER),
        lambda: visits.update(chair=north.chairs.exclude(pk=chair.pk).first()),
        lambda: visits.update(infusion_minutes=41),
    ):
        raised(change, logged=visit.pk)
    # A move saves the visit twice (out of the overlap checks, then in at its new time).
    raised(
        lambda: services.reschedule_visit(
            appointment=visits.get(), starts_at=at(north, MONDAY, 11), by=sam, now=now
        ),
        by=2,
        logged=visit.pk,
    )
    for change in (
        lambda: services.mark_no_show(appointment=visits.get(), by=sam, now=at(north, MONDAY, 12)),
        lambda: visits.update(status=AppointmentStatus.BOOKED),
        lambda: services.cancel_visit(
            appointment=visits.get(), reason=CancellationReason.ILLNESS, note="", by=sam, now=now
        ),
    ):
        raised(change, logged=visit.pk)
    raised(visits.delete, logged=visit.pk)
    # The setup.
    raised(lambda: staff.set_phase_staffing(site=north, rules=RULES, by=alex, now=now), by=4,
           logged=None)  # fmt: skip
    raised(lambda: staff.set_phase_staffing(site=north, rules=RULES, by=alex, now=now), by=0)
    raised(lambda: shifts(north, ben, StaffRole.NURSE, alex, weeks=1), by=5, logged=None)
    raised(lambda: staff.remove_shift(shift=Shift.objects.filter(site=north).first(), by=alex),
           logged=None)  # fmt: skip
    raised(lambda: Shift.objects.filter(site=north).update(role=StaffRole.PRESCRIBER), by=4,
           logged=None)  # fmt: skip
    raised(lambda: hours.add_closures(site=north, first=MONDAY, last=None, reason="x", by=alex,
                                      now=now), logged=None)  # fmt: skip
    raised(lambda: Closure.objects.filter(site=north).update(reason="Training"), by=0)
    raised(lambda: Closure.objects.filter(site=north).delete(), logged=None)
    raised(lambda: OpeningHours.objects.filter(site=north, weekday=0).update(closes=dt.time(17)),
           logged=None)  # fmt: skip
    raised(lambda: chairs.set_chair_capabilities(chair=chair, capabilities=["extended"], by=alex,
                                                 now=now), logged=None)  # fmt: skip
    raised(lambda: Chair.objects.create(site=north, name="Chair 9"), logged=None)
    raised(lambda: Site.objects.filter(pk=north.pk).update(timezone="America/Chicago"),
           logged=None)  # fmt: skip


def test_a_search_from_before_the_index_gets_a_one_off_index(north, clinic):
    courses, _ = clinic
    now = timezone.now()
    request = services.SeriesRequest(earliest=at(north, MONDAY, 8))
    services.propose_series(course=courses[0], request=request, now=now)
    cached = diary._cache[north.pk]
    past = services.SeriesRequest(earliest=now - dt.timedelta(days=3))
    assert services.propose_series(
        course=courses[0], request=past, now=now
    ) == services.propose_series_reference(course=courses[0], request=past, now=now)
    assert diary._cache[north.pk] is cached
    older = diary.index_for(north, now=now, earliest=now - dt.timedelta(days=3))
    assert older is not cached.index
    assert older.version == cached.index.version


def test_an_index_read_inside_a_transaction_is_not_kept(north, clinic, sam):
    """A booking rolled back after the index saw it leaves no phantom visit in the cache."""
    courses, _ = clinic
    now = timezone.now()
    first = diary.index_for(north, now=now)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.book_visit(
            course=courses[0], chair=north.chairs.first(), starts_at=at(north, MONDAY, 9),
            by=sam, now=now,
        )  # fmt: skip
        inside = diary.index_for(north, now=now)
        assert len(inside.visits) == len(first.visits) + 1
        raise RuntimeError("roll back")
    assert diary._cache[north.pk].index is first
    assert diary.index_for(north, now=now) is first


def test_a_stale_or_pruned_log_rebuilds(north, clinic, sam, django_assert_num_queries):
    """More changes than the log keeps, or another epoch (a row rolled back or restored):
    the cache is rebuilt rather than patched."""
    courses, _ = clinic
    now = timezone.now()
    first = diary.index_for(north, now=now)
    services.book_visit(
        course=courses[0], chair=north.chairs.first(), starts_at=at(north, MONDAY, 9), by=sam,
        now=now,
    )  # fmt: skip
    DiaryChange.objects.filter(site_id=north.pk).delete()
    rebuilt = diary.index_for(north, now=now)
    assert len(rebuilt.visits) == len(first.visits) + 1
    DiaryVersion.objects.filter(site_id=north.pk).update(epoch=12345)
    again = diary.index_for(north, now=now)
    assert again is not rebuilt
    same_index(again, rebuilt)


def test_query_counts_of_propose_series(north, clinic, sam, alex, django_assert_num_queries):
    """A search reads the protocol, the chairs, the version, the patient's visits, the holds
    (and their courses' protocols when there are some): the diary only when it changed, two
    queries to patch it after a booking, six to rebuild it after a setup change (the log,
    shifts, visits, hours, closures and staffing rules)."""
    courses, _ = clinic
    now = timezone.now()
    request = services.SeriesRequest(earliest=at(north, MONDAY, 8))

    def search() -> None:
        services.propose_series(course=courses[0], request=request, now=now)

    search()
    with django_assert_num_queries(4):
        search()
    for n in range(1, 4):  # the same with more visits booked
        services.book_series(course=courses[n], earliest=at(north, MONDAY, 8), by=sam, now=now)
        with django_assert_num_queries(6):  # + the change log and the changed visits
            search()
        with django_assert_num_queries(4):
            search()
    hours.add_closures(
        site=north, first=dt.date(2026, 12, 24), last=None, reason="Holiday", by=alex, now=now
    )
    with django_assert_num_queries(4 + 1 + 5):  # + the log and a rebuild
        search()
    with django_assert_num_queries(4):
        search()


def booking_thread(work) -> object:
    """Run `work` in a thread of its own (its own database connection) and return its result."""
    results: list[object] = []

    def run() -> None:
        try:
            results.append(work())
        except Exception as error:
            results.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return results[0]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_change_committed_by_another_connection_is_patched_in(north, south, ada, sam, carl):
    """Another connection (a thread: another process's view of the database) books a visit;
    the cache sees the version moved and patches exactly that visit in."""
    course = enrol(north, ada, sam, "Other")
    now = timezone.now()
    request = services.SeriesRequest(earliest=at(north, MONDAY, 8))
    before = services.propose_series(course=course, request=request, now=now)
    cached = diary._cache[north.pk].index
    assert before.series is not None
    first = before.series[0]
    chair = Chair.objects.get(pk=first.chair)
    other = enrol(north, ada, sam, "Elsewhere")
    visit = booking_thread(
        lambda: services.book_visit(
            course=other, chair=chair, starts_at=first.start, by=sam, now=timezone.now()
        )
    )
    assert isinstance(visit, Appointment)
    after = services.propose_series(course=course, request=request, now=now)
    assert after == services.propose_series_reference(course=course, request=request, now=now)
    assert after.series is not None
    assert after.series[0] != first  # the chair time is taken now
    patched = diary._cache[north.pk].index
    assert set(patched.visits) - set(cached.visits) == {visit.pk}
    assert patched.version == version(north) == cached.version + 1


MOVE_IN_ANOTHER_PROCESS = """
import datetime as dt
import sys
import django
django.setup()
from sustain.scheduling.models import Appointment
visits = Appointment.objects.filter(pk=int(sys.argv[1]))
visit = visits.get()
later = dt.timedelta(hours=2)
visits.update(starts_at=visit.starts_at + later, ends_at=visit.ends_at + later)
"""


def other_process_env() -> dict[str, str]:
    """This test database, for a Python process of its own."""
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUSTAIN_", "DATABASE_URL"))}
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        env["DATABASE_URL"] = f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        env["SUSTAIN_SQLITE_PATH"] = str(db["NAME"])
    src = Path(__file__).resolve().parents[3] / "src"
    return env | {
        "DJANGO_SETTINGS_MODULE": "sustain.settings", "PYTHONPATH": str(src), "SUSTAIN_DEBUG": "1",
    }  # fmt: skip


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_raw_write_by_another_process_is_patched_in(north, ada, sam):
    """Another Python process moves a visit with a raw ORM update (no service, no signal):
    the trigger raised the version there, and this process's cache patches the move in."""
    course = enrol(north, ada, sam, "Moved")
    now = timezone.now()
    visit = services.book_visit(
        course=course, chair=north.chairs.first(), starts_at=at(north, MONDAY, 9), by=sam, now=now
    )
    first = diary.index_for(north, now=now)
    assert first.visits[visit.pk].start == visit.starts_at
    subprocess.run(  # noqa: S603 - the test's own script
        [sys.executable, "-c", MOVE_IN_ANOTHER_PROCESS, str(visit.pk)],
        env=other_process_env(), check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    moved = diary.index_for(north, now=now)
    assert moved.visits[visit.pk].start == visit.starts_at + dt.timedelta(hours=2)
    assert moved.version == first.version + 1 == version(north)
    assert diary._cache[north.pk].index is moved  # patched and kept
    same_index(moved, diary.build(north, since=diary._cache[north.pk].since, version=0))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_changes_get_consecutive_versions(north, ada, sam, alex):
    """Visits booked at once in several threads: one version each, no gap and none twice,
    and the cache patched from the log equals a rebuild."""
    courses = [enrol(north, ada, sam, f"T{n}") for n in range(6)]
    diary.index_for(north, now=timezone.now())
    start = version(north)
    barrier = threading.Barrier(len(courses))
    chair_list = list(north.chairs.all())

    def book(n: int, course: Course) -> object:
        def work() -> object:
            barrier.wait()
            return services.book_visit(
                course=course, chair=chair_list[n % len(chair_list)],
                starts_at=at(north, MONDAY + dt.timedelta(days=n // 2), 9), by=sam,
                now=timezone.now(),
            )  # fmt: skip

        return work

    results: list[object] = [None] * len(courses)

    def run(n: int, course: Course) -> None:
        try:
            results[n] = book(n, course)()
        except Exception as error:
            results[n] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, c)) for n, c in enumerate(courses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(r, Appointment) for r in results), results
    assert version(north) == start + len(courses)
    logged = sorted(
        DiaryChange.objects.filter(site_id=north.pk, version__gt=start).values_list(
            "version", "appointment_id"
        )
    )
    assert [v for v, _ in logged] == list(range(start + 1, start + 1 + len(courses)))
    assert {a for _, a in logged} == {r.pk for r in results if isinstance(r, Appointment)}
    patched = diary.index_for(north, now=timezone.now())
    cached = diary._cache[north.pk]
    same_index(patched, diary.build(north, since=cached.since, version=0))


def test_every_diary_trigger_exists_after_migrate(db):
    """Each trigger migration 0007 creates is there on the migrated database: SQLite drops a
    table's triggers when a later migration copies the table to alter it (0008 makes them
    again), so a future migration that forgets would fail here."""
    made = import_module("sustain.scheduling.migrations.0007_diary_version")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            expected = {
                name
                for table in ("scheduling_appointment", *made.SETUP_COLUMNS)
                for name in (f"{table}_diary", f"{table}_diary_update")
            } | {"accounts_site_diary"}
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            expected = {statement.split()[2] for statement in made.SQLITE}
        present = {name for (name,) in cursor.fetchall()}
    assert len(expected) > 10
    assert expected <= present
