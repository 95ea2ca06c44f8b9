"""Booking throughput before and after issue 15, in one run: `python bench/booking.py`.

Two identical bench sites in one database (A books the old way, B the new): 12 chairs open
Monday to Friday 08:00–18:00 (America/New_York); 1 nurse to 2 patients checking in, 4
infusing and 6 recovering, a prescriber on site for infusions; eight nurses and a prescriber
08:00–18:00 every weekday for 60 weeks (twelve patients checking in at once need six, so the
existing load is never short); and a year of existing visits from 2027-01-04 generated as
bench/series_search.py does (each chair-day filled with visits of 40 min to 1 h 15 min, 10
min checking in and the rest infusing, with a free stretch of 2–3 hours about one time in
ten): about 24,000 visits a site. Each day's visits belong to patients of a pool for that
day's parity and four weeks, one visit a patient a day, so no patient has two infusions under
24 h apart (PostgreSQL's exclusion constraint would refuse them). Bulk-created: the seed is
not what is measured (the diary's triggers fire).

Then, as bench/run.py's concurrent_booking: 40 patients registered and enrolled per site and
run, 8 threads × 5 series each, all from one first day (week 4: the crowded case) and then,
separately, each thread from its own first day two weeks after the last one's (from week 8:
spread). Last, one thread books SEQUENTIAL series in a row (from week 30) at each site: the
CPU a series costs, which in one process bounds what the threads reach together. Before the
runs, one search at each site from each of those first days (warm()).

- Before issue 15 (`book_before`, this file): book_series as it was at commit d76ecfa – one
  transaction, the site's lock (services._lock), the course checks, the search
  (`services.propose_series_reference`: 120 days of the site's visits and the staff blocks
  read from the database, `series.search_series`) under the lock, `chosen_slots`, the gap
  floor, six `Appointment.objects.create` and the audit event. Its steps run on today's code
  and schema (the read-path indexes of migration 0008, the search's look-ahead, the diary's
  triggers on every write), so it is the booking path before issue 15, not the whole program.
- After (`services.book_series`): the search outside the lock in the site's diary index,
  only the chosen slots checked again under it.

After each run: no two booked visits overlap in a chair and no moment at the site is
understaffed (exits non-zero otherwise). Runs on a throwaway SQLite file, or on DATABASE_URL's
PostgreSQL (an empty scratch database, as bench/run.py).
"""

import datetime as dt
import os
import random
import sys
import tempfile
import threading
import time
import zoneinfo
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sustain.settings")
SCRATCH = Path(tempfile.mkdtemp(prefix="sustain-bench-"))
os.environ.setdefault("SUSTAIN_SQLITE_PATH", str(SCRATCH / "bench.sqlite3"))

import django  # noqa: E402 - after the environment is set

django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from sustain.accounts.enums import DataCategory  # noqa: E402
from sustain.accounts.models import Membership, Site, User  # noqa: E402
from sustain.care import services as care  # noqa: E402
from sustain.care.models import Course, MrnSequence, Patient  # noqa: E402
from sustain.care.protocol_versions import protocol_for  # noqa: E402
from sustain.scheduling import services, staff  # noqa: E402
from sustain.scheduling.enums import AppointmentStatus, StaffRole  # noqa: E402
from sustain.scheduling.models import Appointment, Chair, OpeningHours, Shift  # noqa: E402
from sustain_core.errors import ClinicalValueError, NoSeriesFound  # noqa: E402

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
FIRST_DAY = dt.date(2027, 1, 4)  # a Monday
MONDAY = dt.datetime.combine(FIRST_DAY, dt.time(), tzinfo=NEW_YORK)
NURSES = 8
SHIFT_WEEKS = 60  # the year of visits and the searches' 120-day window after it
THREADS, EACH = 8, 5
SEQUENTIAL, ALONE_WEEK = 20, 30  # one_thread's series and their first day's week


def local(day: dt.date, minutes: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=NEW_YORK) + dt.timedelta(minutes=minutes)


def year_of_visits(rng: random.Random) -> list[tuple[int, dt.date, int, int]]:
    """(chair number 0–11, day, start minute, length) for a year, as bench/series_search.py's
    year_of_bookings."""
    visits = []
    for offset in range(365):
        day = FIRST_DAY + dt.timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for chair in range(12):
            minute, closes = 8 * 60, 18 * 60
            while True:
                free = (120, 150, 180) if rng.random() < 0.1 else (0, 0, 0, 15, 15, 30)
                minute += rng.choice(free)
                length = rng.choice((40, 40, 40, 45, 60, 75))
                if minute + length > closes:
                    break
                visits.append((chair, day, minute, length))
                minute += length
    return visits


def bench_site(name: str, scheduler: User, visits: list[tuple[int, dt.date, int, int]]) -> Site:
    """One bench site (see the module), its staff and its existing visits."""
    site = Site.objects.create(name=f"Bench {name}", timezone="America/New_York")
    OpeningHours.objects.bulk_create(
        OpeningHours(site=site, weekday=d, opens=dt.time(8), closes=dt.time(18)) for d in range(5)
    )
    chairs = Chair.objects.bulk_create(Chair(site=site, name=f"Chair {n:02}") for n in range(1, 13))
    people = {}
    for person, role in [("ada", "prescriber"), ("alex", "clinic_admin"),
                         *((f"nurse{n}", "nurse") for n in range(NURSES))]:  # fmt: skip
        user = User.objects.create_user(f"{person}-{name}", password=None)
        user.groups.add(Group.objects.get(name=role))
        Membership.objects.create(user=user, site=site)
        people[person] = user
    Membership.objects.create(user=scheduler, site=site)
    rules = {"check_in": (2, False), "infusion": (4, True), "recovery": (6, False)}
    staff.set_phase_staffing(site=site, rules=rules, by=people["alex"], now=timezone.now())
    days = [FIRST_DAY + dt.timedelta(days=n) for n in range(7 * SHIFT_WEEKS)]
    Shift.objects.bulk_create(
        (
            Shift(site=site, staff=people[person], role=role, starts_at=local(day, 8 * 60),
                  ends_at=local(day, 18 * 60), created_by=people["alex"])
            for day in days
            if day.weekday() < 5
            for person, role in [("ada", StaffRole.PRESCRIBER),
                                 *((f"nurse{n}", StaffRole.NURSE) for n in range(NURSES))]
        ),
        batch_size=2000,
    )  # fmt: skip
    # A patient a (parity of the day, four weeks, place in the day's visits).
    owners: dict[tuple[int, int, int], int] = {}
    placed: list[tuple[int, int]] = []  # (owner, visit)
    day_seen: Counter[dt.date] = Counter()
    for n, (_, day, _, _) in enumerate(visits):
        offset = (day - FIRST_DAY).days
        key = (offset % 2, offset // 28, day_seen[day])
        day_seen[day] += 1
        placed.append((owners.setdefault(key, len(owners)), n))
    now = timezone.now()
    patients = Patient.objects.bulk_create(
        (
            Patient(site=site, mrn=f"{name}{n:06d}", given_name=f"P{n}", family_name="Existing",
                    date_of_birth=dt.date(1960, 1, 1) + dt.timedelta(days=n % 10000),
                    sex="unknown", primary_condition="depression", created_at=now,
                    created_by=scheduler)
            for n in range(len(owners))
        ),
        batch_size=1000,
    )  # fmt: skip
    MrnSequence.objects.create(site=site, last=len(owners))
    courses = Course.objects.bulk_create(
        (
            Course(patient=patient, protocol_key="depression-induction", protocol_version=1,
                   status="induction", prescriber=people["ada"], enrolled_at=now,
                   enrolled_by=people["ada"])
            for patient in patients
        ),
        batch_size=1000,
    )  # fmt: skip
    numbers: Counter[int] = Counter()
    rows = []
    for owner, n in placed:
        chair, day, minute, length = visits[n]
        numbers[owner] += 1
        course = courses[owner]
        rows.append(
            Appointment(
                site=site,
                chair=chairs[chair],
                patient=course.patient,
                course=course,
                number=numbers[owner],
                starts_at=local(day, minute),
                ends_at=local(day, minute + length),
                status=AppointmentStatus.BOOKED,
                booked_at=now,
                booked_by=scheduler,
                check_in_minutes=10,
                infusion_minutes=length - 10,
                recovery_minutes=0,
                discharge_minutes=0,
            )
        )
    Appointment.objects.bulk_create(rows, batch_size=2000)
    return site


@transaction.atomic
def book_before(*, course: Course, earliest: dt.datetime, by: User, now: dt.datetime) -> None:
    """book_series as at commit d76ecfa, before issue 15 (the series asked for from `earliest`,
    or its later start): everything under the site's lock in one transaction, the search
    included."""
    patient = course.patient
    site = patient.site
    services.check_first_day(earliest, now=now, tz=site.tz)
    services._lock(site, patient)
    course.refresh_from_db()
    if course.status not in services.SERIES_BOOKABLE:
        raise ClinicalValueError("course", "the induction series is not bookable now")
    if course.appointments.exclude(status=AppointmentStatus.CANCELLED).exists():
        raise services.BookingConflict("course", "the induction series is already booked")
    slots = services._held_slots(course, services.EARLIEST, by, now)
    if slots is None:
        result = services.propose_series_reference(
            course=course, request=services.SeriesRequest(earliest=earliest), now=now
        )
        slots = services.chosen_slots(result, services.EARLIEST)
    if slots is None:
        raise NoSeriesFound("start", "no series fits")
    services.check_not_past(min(slot.start for slot in slots), now=now, tz=site.tz)
    services._check_gap_floor(patient, [slot.start for slot in slots], exclude=(), tz=site.tz)
    chairs = Chair.objects.in_bulk([slot.chair for slot in slots])
    template = staff.template_minutes(protocol_for(course))
    with services._refused_by_database():
        for number, slot in enumerate(slots, start=1):
            Appointment.objects.create(
                site=site, chair=chairs[slot.chair], patient=patient, course=course,
                number=number, starts_at=slot.start, ends_at=slot.end, booked_at=now,
                booked_by=by, **template,
            )  # fmt: skip
    care.record_patient_event(by=by, patient=patient, category=DataCategory.SCHEDULE, obj=course)


def book_after(*, course: Course, earliest: dt.datetime, by: User, now: dt.datetime) -> None:
    services.book_series(course=course, earliest=earliest, by=by, now=now)


def enrolled(site: Site, scheduler: User, count: int, label: str) -> list[Course]:
    prescriber = User.objects.get(username=f"ada-{site.name[-1]}")
    courses = []
    for n in range(count):
        patient = care.register_patient(
            by=scheduler, site=site, given_name=f"{label}{n}", family_name=f"New{label}",
            sex="unknown", date_of_birth=dt.date(1980, 1, 1) + dt.timedelta(days=n), phone="",
            email="", primary_condition="depression", weight_kg=Decimal("72.5"),
            today=dt.date(2026, 12, 1), now=timezone.now(),
        )  # fmt: skip
        courses.append(
            care.enrol_patient(
                patient=patient,
                protocol_key="depression-induction",
                protocol_version=1,
                by=prescriber,
                now=timezone.now(),
            )
        )
    return courses


def race(book: object, site: Site, scheduler: User, *, spread: bool) -> tuple[float, int, str]:
    """8 threads × 5 series at `site`: series booked a second, booked, refused (by kind)."""
    courses = enrolled(site, scheduler, THREADS * EACH, "S" if spread else "C")
    weeks = [8 + 2 * i if spread else 4 for i in range(THREADS)]
    booked: list[int] = []
    refused: list[str] = []
    barrier = threading.Barrier(THREADS)

    def work(mine: list[Course], first_week: int) -> None:
        try:
            barrier.wait()
            for course in mine:
                try:
                    book(  # type: ignore[operator]
                        course=course,
                        earliest=MONDAY + dt.timedelta(weeks=first_week),
                        by=scheduler,
                        now=timezone.now(),
                    )
                    booked.append(course.pk)
                except Exception as error:
                    refused.append(type(error).__name__)
        finally:
            connection.close()

    pool = [
        threading.Thread(target=work, args=(courses[i * EACH : (i + 1) * EACH], weeks[i]))
        for i in range(THREADS)
    ]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = time.perf_counter() - started
    check(site)
    kinds = ", ".join(f"{n} {kind}" for kind, n in Counter(refused).items())
    return len(booked) / wall, len(booked), f"{len(refused)}" + (f" ({kinds})" if kinds else "")


def one_thread(book: object, site: Site, scheduler: User) -> tuple[float, float]:
    """SEQUENTIAL series booked one after another from week ALONE_WEEK in this thread: series
    a second and CPU milliseconds a series (the process's CPU: in one Python process the
    threads' Python code runs one at a time, so this bounds what 8 threads can reach)."""
    courses = enrolled(site, scheduler, SEQUENTIAL, "Q")
    started, cpu = time.perf_counter(), time.process_time()
    for course in courses:
        book(  # type: ignore[operator]
            course=course,
            earliest=MONDAY + dt.timedelta(weeks=ALONE_WEEK),
            by=scheduler,
            now=timezone.now(),
        )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    check(site)
    return SEQUENTIAL / wall, cpu * 1000 / SEQUENTIAL


def check(site: Site) -> None:
    """Fail loudly unless no two booked visits overlap in a chair and no moment is understaffed."""
    overlaps = list(
        Appointment.objects.raw(
            "SELECT a.id FROM scheduling_appointment a JOIN scheduling_appointment b"
            " ON a.chair_id = b.chair_id AND a.id < b.id AND a.starts_at < b.ends_at"
            " AND b.starts_at < a.ends_at WHERE a.status = 'booked' AND b.status = 'booked'"
            " AND a.site_id = %s",
            [site.pk],
        )
    )
    short = [
        segment
        for segment in staff.site_profile(site, MONDAY, MONDAY + dt.timedelta(weeks=SHIFT_WEEKS))
        if segment.short
    ]
    if overlaps or short:
        raise SystemExit(
            f"{site.name}: {len(overlaps)} overlapping visits, {len(short)} understaffed moments"
        )


def warm(site: Site, scheduler: User, search: object) -> None:
    """One search at the site from each first day of the runs, before them, as a process
    that has served the site a while has made (the new path builds its index and the week
    grids the runs search; the old path has its pages cached)."""
    (course,) = enrolled(site, scheduler, 1, "W")
    for week in sorted({4, ALONE_WEEK, *(8 + 2 * i for i in range(THREADS))}):
        search(  # type: ignore[operator]
            course=course,
            request=services.SeriesRequest(earliest=MONDAY + dt.timedelta(weeks=week)),
            now=timezone.now(),
        )


def main() -> None:
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    scheduler = User.objects.create_user("sam", password=None)
    scheduler.groups.add(Group.objects.get(name="scheduler"))
    visits = year_of_visits(random.Random(2027))  # noqa: S311 - synthetic bookings
    before, after = bench_site("A", scheduler, visits), bench_site("B", scheduler, visits)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    seeded = time.perf_counter() - started
    patients = Patient.objects.filter(site=before).count()
    warm(before, scheduler, services.propose_series_reference)
    warm(after, scheduler, services.propose_series)
    rows = []
    for spread in (False, True):
        old = race(book_before, before, scheduler, spread=spread)
        new = race(book_after, after, scheduler, spread=spread)
        rows.append((spread, old, new))
    alone = one_thread(book_before, before, scheduler), one_thread(book_after, after, scheduler)
    print(
        f"Booking throughput, {connection.vendor}, {os.cpu_count()} cores: two identical "
        f"sites of 12 chairs with {len(visits):,} existing visits each over a year, "
        f"{patients:,} patients each; {THREADS} threads × "
        f"{EACH} series per path and run; 0 overlaps and 0 understaffed moments after each run "
        f"(checked); seeded in {seeded:.0f} s, whole run {time.perf_counter() - started:.0f} s.\n"
    )
    print(
        "| first days | before issue 15 (series/s) | booked / refused "
        "| `book_series` (series/s) | booked / refused | ratio |"
    )
    print("| --- | ---: | --- | ---: | --- | ---: |")
    for spread, (old, old_booked, old_refused), (new, new_booked, new_refused) in rows:
        name = "spread (each thread its own)" if spread else "crowded (one for all)"
        print(
            f"| {name} | {old:.1f} | {old_booked} / {old_refused} | {new:.1f} "
            f"| {new_booked} / {new_refused} | {new / old:.2f}× |"
        )
    (old, old_cpu), (new, new_cpu) = alone
    print(
        f"| one thread, {SEQUENTIAL} series in a row | {old:.1f} | CPU {old_cpu:.0f} ms a series "
        f"| {new:.1f} | CPU {new_cpu:.0f} ms a series | {new / old:.2f}× |"
    )


if __name__ == "__main__":
    main()
