"""Read-path benchmark (issue 15): `python bench/read_path.py`. Prints a Markdown table.

A site of 12 chairs open Monday to Friday 08:00–18:00 (America/New_York) with a year of
two-hour visits around today (26 weeks before, 26 after; completed before, booked after):
five a chair-day, a course of six (Monday, Wednesday, Friday) or four (Tuesday, Thursday)
per fortnight in each chair's time, with about one fortnight in seven left free: about 13,000
visits of about 2,700 patients, bulk-created. Eight nurses and a prescriber on shift every
weekday, staffing checked. Figures: the day board, the week and a patient page through
Django's test client as a nurse (session, permissions, audit event and rendering included),
and the booking readers in process: the series preview's diary read and its look-ahead staff
read, and for a patient free in the coming weeks and one whose course runs now, the preview
itself, a booster's earliest free time in a two-week window and an extension's three visits.
Runs on a throwaway SQLite file, or on DATABASE_URL's PostgreSQL (an empty database).
"""

import dataclasses
import datetime as dt
import os
import random
import sys
import tempfile
import zoneinfo
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sustain.settings")
SCRATCH = Path(tempfile.mkdtemp(prefix="sustain-bench-"))
os.environ.setdefault("SUSTAIN_SQLITE_PATH", str(SCRATCH / "bench.sqlite3"))

import django  # noqa: E402 - after the environment is set

django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from run import signed_in, timed  # noqa: E402 - bench/run.py's sign-in and timer

from sustain.accounts.models import Membership, Site, User  # noqa: E402
from sustain.care.models import Course, MrnSequence, Patient  # noqa: E402
from sustain.care.protocol_versions import protocol_for  # noqa: E402
from sustain.scheduling import boosters, extension, services, staff  # noqa: E402
from sustain.scheduling.enums import AppointmentStatus, StaffRole  # noqa: E402
from sustain.scheduling.models import Appointment, Chair, OpeningHours, Shift  # noqa: E402
from sustain_core import series  # noqa: E402

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
LANES = (8, 10, 12, 14, 16)  # each chair's visits start at these hours
# Eight nurses: twelve patients checking in at once need six (1 to 2).
NURSES = ("ben", "cleo", "dee", "eve", "fay", "gus", "hal", "ivy")
RUNS = 10


def local(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=NEW_YORK)


def clinic(today: dt.date) -> tuple[Site, User, list[Course]]:
    """The site, its nurse Ben, and the courses in time order (see the module)."""
    call_command("migrate", verbosity=0)
    site = Site.objects.create(name="Bench Clinic", timezone="America/New_York")
    OpeningHours.objects.bulk_create(
        OpeningHours(site=site, weekday=d, opens=dt.time(8), closes=dt.time(18)) for d in range(5)
    )
    chairs = Chair.objects.bulk_create(Chair(site=site, name=f"Chair {n}") for n in range(1, 13))
    people = {}
    for name, role in [("ada", "prescriber"), ("alex", "clinic_admin"),
                       *((nurse, "nurse") for nurse in NURSES)]:  # fmt: skip
        user = User.objects.create_user(name, password=None)
        user.groups.add(Group.objects.get(name=role))
        Membership.objects.create(user=user, site=site)
        people[name] = user
    rules = {"check_in": (2, False), "infusion": (4, True), "recovery": (6, False)}
    staff.set_phase_staffing(site=site, rules=rules, by=people["alex"], now=timezone.now())
    first = today - dt.timedelta(weeks=26, days=today.weekday())  # a Monday
    days = [first + dt.timedelta(days=n) for n in range(7 * 52)]
    weekdays = [day for day in days if day.weekday() < 5]
    Shift.objects.bulk_create(
        Shift(site=site, staff=people[name], role=role, starts_at=local(day, 8),
              ends_at=local(day, 18), created_by=people["alex"])
        for day in weekdays
        for name, role in [("ada", StaffRole.PRESCRIBER),
                           *((nurse, StaffRole.NURSE) for nurse in NURSES)]
    )  # fmt: skip
    rng = random.Random(2027)  # noqa: S311 - reproducible benchmark data
    # (chair, hour, fortnight, Monday-Wednesday-Friday or not) → the course's visit days.
    plans = []
    for fortnight in range(26):
        monday = first + dt.timedelta(weeks=2 * fortnight)
        fortnight_days = [monday + dt.timedelta(days=n) for n in range(14)]
        for chair in chairs:
            for hour in LANES:
                for mwf in (True, False):
                    if rng.random() < 1 / 7:
                        continue  # a free fortnight in this chair's time
                    wanted = {0, 2, 4} if mwf else {1, 3}
                    plans.append(
                        (chair, hour, [d for d in fortnight_days if d.weekday() in wanted])
                    )
    now = timezone.now()
    patients = Patient.objects.bulk_create(
        (
            Patient(site=site, mrn=f"R{n:06d}", given_name=f"P{n}", family_name="Read",
                    date_of_birth=dt.date(1960, 1, 1) + dt.timedelta(days=n), sex="unknown",
                    primary_condition="depression", created_at=now, created_by=people["ben"])
            for n in range(len(plans))
        ),
        batch_size=1000,
    )  # fmt: skip
    MrnSequence.objects.create(site=site, last=len(plans))
    courses = Course.objects.bulk_create(
        (
            Course(patient=patient, protocol_key="depression-induction", protocol_version=1,
                   status="induction", prescriber=people["ada"], enrolled_at=now,
                   enrolled_by=people["ada"])
            for patient in patients
        ),
        batch_size=1000,
    )  # fmt: skip
    minutes = staff.template_minutes(protocol_for(courses[0]))
    visits = [
        Appointment(
            site=site, chair=chair, patient=course.patient, course=course, number=number,
            starts_at=local(day, hour), ends_at=local(day, hour + 2),
            status=AppointmentStatus.COMPLETED if day < today else AppointmentStatus.BOOKED,
            booked_at=now, booked_by=people["ben"], **minutes,
        )
        for course, (chair, hour, course_days) in zip(courses, plans, strict=True)
        for number, day in enumerate(course_days, start=1)
    ]  # fmt: skip
    Appointment.objects.bulk_create(visits, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return site, people["ben"], courses


def main() -> None:
    today = timezone.now().astimezone(NEW_YORK).date()
    site, ben, courses = clinic(today)
    client = signed_in(ben)
    visits = Appointment.objects.count()
    wednesday = today + dt.timedelta(days=(2 - today.weekday()) % 7)
    # A patient whose course runs now: their page lists six visits.
    current = next(c for c in courses if c.appointments.filter(starts_at__date__gte=today).exists())
    rows: list[tuple[str, str]] = []

    def page(name: str, url: str, data: dict[str, str] | None = None) -> None:
        def get() -> None:
            response = client.get(url, data or {})
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} answered {response.status_code}")

        get()
        median, p95 = timed(get, RUNS)
        rows.append((name, f"{median:.1f} ms (p95 {p95:.1f})"))

    page(f"day board ({wednesday:%a %d %b}, 12 chairs)", "/schedule/", {"day": str(wednesday)})
    page("week view", "/schedule/week/", {"day": str(wednesday)})
    page("patient page (6 visits)", f"/patients/{current.patient_id}/")

    now = local(today, 7)
    earliest = local(today + dt.timedelta(days=1), 0)
    patient, protocol = current.patient, protocol_for(current)
    soon = earliest + series.LOOK_AHEAD + protocol.series.max_span

    def reader(name: str, work: object) -> None:
        median, p95 = timed(work, RUNS)  # type: ignore[arg-type]
        rows.append((name, f"{median:.1f} ms (p95 {p95:.1f})"))

    reader(
        "preview's diary read (`services._busy`, 120 days)",
        lambda: services._busy(site, patient, earliest, earliest + services.HORIZON * 2, now=now),
    )
    reader(
        "preview's staff read, look-ahead (`staff.staff_blocks`, 28 days)",
        lambda: staff.staff_blocks(
            site, earliest, soon, phases=protocol.visit_phases, now=now, patient_id=patient.pk
        ),
    )
    # The searches for two patients: one with no visit in the coming weeks (an earlier
    # course's), where the look-ahead finds a time, and the one whose course runs now, whose
    # own visits this week push the answer past it (both reads).
    earlier = next(
        c
        for c in courses
        if c.appointments.filter(starts_at__date__lt=today - dt.timedelta(weeks=4)).exists()
    )
    for course, whose in ((earlier, "free patient"), (current, "patient in a course now")):
        reader(
            f"series preview (`services.propose_series`), {whose}",
            lambda c=course: services.propose_series(
                course=c, request=services.SeriesRequest(earliest=earliest), now=now
            ),
        )
        reader(
            f"booster: earliest free time in 14 days (`boosters._earliest_free`), {whose}",
            lambda c=course: boosters._earliest_free(
                c, earliest, earliest + dt.timedelta(days=14), chair=None, now=now
            ),
        )
        three = dataclasses.replace(protocol.series, count=3)
        reader(
            f"extension: 3 visits (`extension._plan`), {whose}",
            lambda c=course, r=three: extension._plan(c, protocol, r, earliest, now=now),
        )
    print(
        f"Read path: 12 chairs, {visits:,} visits over a year around today, "
        f"{Patient.objects.count():,} patients. Database: {connection.vendor}; "
        f"{os.cpu_count()} cores\n"
    )
    print("| read | result |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
