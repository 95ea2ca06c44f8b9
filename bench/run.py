"""Sustain benchmarks: `make bench`. Prints a Markdown table for the README.

Runs on a throwaway SQLite file (or on DATABASE_URL's PostgreSQL, in a scratch database named
by the test runner's convention) with the real services, so every figure includes the audit
write and the locks.
"""

import datetime as dt
import os
import statistics
import sys
import tempfile
import threading
import time
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sustain.settings")
SCRATCH = Path(tempfile.mkdtemp(prefix="sustain-bench-"))
os.environ.setdefault("SUSTAIN_SQLITE_PATH", str(SCRATCH / "bench.sqlite3"))

import django  # noqa: E402 - after the environment is set
import django_otp  # noqa: E402

django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

from sustain.accounts.audit import record_event, verify_chain  # noqa: E402
from sustain.accounts.enums import AuditAction, DataCategory  # noqa: E402
from sustain.accounts.models import Membership, Site, User  # noqa: E402
from sustain.care import services as care  # noqa: E402
from sustain.scheduling import services as scheduling  # noqa: E402
from sustain.scheduling import staff  # noqa: E402
from sustain.scheduling.enums import StaffRole  # noqa: E402
from sustain.scheduling.models import Chair, OpeningHours  # noqa: E402
from sustain_core import instruments, series  # noqa: E402

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
MONDAY = dt.datetime(2027, 1, 4, 0, 0, tzinfo=NEW_YORK)


def signed_in(user: "User") -> Client:
    """A client signed in as `user` and past the second factor with a confirmed authenticator,
    as a person at the desk is (sustain.accounts.mfa): the figures include its device read."""
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    request = HttpRequest()
    request.session, request.user = client.session, user
    django_otp.login(request, TOTPDevice.objects.create(user=user, name="bench", confirmed=True))
    request.session.save()
    return client


def timed(work: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and 95th percentile of `runs` calls, in milliseconds."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def core_plan_series() -> tuple[float, float]:
    hours = tuple(
        series.OpeningHours(weekday=d, opens=dt.time(8), closes=dt.time(18)) for d in range(5)
    )
    chairs = tuple(series.ChairId(n) for n in range(1, 7))
    # Each chair is busy 08:00–16:00 every weekday for 20 weeks (100 intervals per chair).
    busy = {
        chair: [
            series.Interval(
                start=(MONDAY + dt.timedelta(days=day, hours=8)).astimezone(dt.UTC),
                end=(MONDAY + dt.timedelta(days=day, hours=16)).astimezone(dt.UTC),
            )
            for day in range(140)
            if (MONDAY + dt.timedelta(days=day)).weekday() < 5
        ]
        for chair in chairs
    }

    def plan() -> object:
        return series.plan_series(
            series.SeriesRules(
                count=6, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=21)
            ),
            earliest=MONDAY, duration=dt.timedelta(minutes=120),
            calendar=series.SiteCalendar(tz=NEW_YORK, hours=hours),
            chairs=series.Chairs(order=chairs, busy=busy), patient=series.PatientDiary(),
        )  # fmt: skip

    return timed(plan, 200)


def core_score() -> tuple[float, float]:
    answers = {str(i): i % 4 for i in range(1, 10)}
    return timed(lambda: [instruments.score("phq9", answers) for _ in range(1000)], 20)


def clinic() -> tuple[Site, User, User, User]:
    call_command("migrate", verbosity=0)
    site = Site.objects.create(name="Bench Clinic", timezone="America/New_York")
    for weekday in range(5):
        OpeningHours.objects.create(
            site=site, weekday=weekday, opens=dt.time(8), closes=dt.time(18)
        )
    for n in range(6):
        Chair.objects.create(site=site, name=f"Chair {n + 1}")
    users = {}
    for name, role in (
        ("ada", "prescriber"), ("ben", "nurse"), ("cleo", "nurse"), ("sam", "scheduler"),
        ("alex", "clinic_admin"),
    ):  # fmt: skip
        user = User.objects.create_user(name, password=None)
        user.groups.add(Group.objects.get(name=role))
        Membership.objects.create(user=user, site=site)
        users[name] = user
    # Staffing is checked: 1 nurse to 2 checking in, 4 infusing, 6 recovering; a prescriber
    # on site for infusions; two nurses and a prescriber every weekday for 26 weeks.
    rules = {"check_in": (2, False), "infusion": (4, True), "recovery": (6, False)}
    staff.set_phase_staffing(site=site, rules=rules, by=users["alex"], now=MONDAY)
    for day in range(5):
        for name, role in (("ada", "prescriber"), ("ben", "nurse"), ("cleo", "nurse")):
            request = staff.ShiftRequest(
                staff=users[name], role=StaffRole(role),
                day=(MONDAY + dt.timedelta(days=day)).date(),
                starts=dt.time(8), ends=dt.time(18), weeks=26,
            )  # fmt: skip
            staff.add_shifts(site=site, request=request, by=users["alex"])
    return site, users["ada"], users["ben"], users["sam"]


def concurrent_booking(
    site: Site, ada: User, sam: User, *, spread: bool = False
) -> list[tuple[str, str]]:
    """8 threads book 5 series each at once (40 six-visit series racing for 6 chairs), all
    from one first day; or, `spread`, each thread from its own first day 2 weeks after the
    last one's (from week 8, after the series booked before), so that no two threads' series
    compete for a chair or a nurse: only the site's lock, if any, makes them wait."""
    threads, each = 8, 5
    weeks = [8 + 2 * i if spread else 4 for i in range(threads)]
    courses = []
    for n in range(threads * each):
        patient = care.register_patient(
            by=sam, site=site, given_name=f"C{n}", family_name="Race" + "s" * spread,
            sex="unknown",
            date_of_birth=dt.date(1980, 1, 1) + dt.timedelta(days=n), phone="", email="",
            primary_condition="depression",
            weight_kg=Decimal("72.5"), today=dt.date(2027, 1, 1), now=timezone.now()
        )  # fmt: skip
        courses.append(
            care.enrol_patient(
                patient=patient,
                protocol_key="depression-induction",
                protocol_version=1,
                by=ada,
                now=timezone.now(),
            )
        )
    latencies: list[float] = []
    failures: list[str] = []
    barrier = threading.Barrier(threads)

    def work(mine: list, first_week: int) -> None:  # type: ignore[type-arg]
        try:
            barrier.wait()
            for course in mine:
                start = time.perf_counter()
                try:
                    scheduling.book_series(
                        course=course,
                        earliest=MONDAY + dt.timedelta(weeks=first_week),
                        by=sam,
                        now=timezone.now(),
                    )
                    latencies.append((time.perf_counter() - start) * 1000)
                except Exception as error:
                    failures.append(type(error).__name__)
        finally:
            connection.close()

    started = time.perf_counter()
    pool = [
        threading.Thread(target=work, args=(courses[i * each : (i + 1) * each], weeks[i]))
        for i in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    short = [
        segment
        for segment in staff.site_profile(site, MONDAY, MONDAY + dt.timedelta(weeks=26))
        if segment.short
    ]
    overlaps = scheduling.Appointment.objects.raw(
        "SELECT a.id FROM scheduling_appointment a JOIN scheduling_appointment b"
        " ON a.chair_id = b.chair_id AND a.id < b.id AND a.starts_at < b.ends_at"
        " AND b.starts_at < a.ends_at WHERE a.status = 'booked' AND b.status = 'booked'"
    )
    return [
        (
            f"book a series under concurrency: {threads} threads × {each} series"
            f"{', each thread from its own first day' if spread else ', from one first day'} "
            f"({len(latencies)} booked, {len(failures)} refused, {len(list(overlaps))} overlaps, "
            f"{len(short)} understaffed moments)",
            f"{statistics.median(latencies):.1f} ms (p95 {p95:.1f}); "
            f"{len(latencies) / wall:.1f} series/s",
        )
    ]


def main() -> None:
    rows: list[tuple[str, str]] = []
    median, p95 = core_plan_series()
    rows.append(
        ("core: plan 6 visits, 6 chairs × 100 busy intervals", f"{median:.2f} ms (p95 {p95:.2f})")
    )

    median, p95 = core_score()
    rows.append(("core: score 1,000 PHQ-9 responses", f"{median:.1f} ms (p95 {p95:.1f})"))

    site, ada, ben, sam = clinic()
    n = 0

    def book_new_patient() -> None:
        nonlocal n
        n += 1
        patient = care.register_patient(
            by=sam, site=site, given_name=f"P{n}", family_name="Bench", sex="unknown",
            date_of_birth=dt.date(1980, 1, 1) + dt.timedelta(days=n), phone="", email="",
            primary_condition="depression",
            weight_kg=Decimal("72.5"), today=dt.date(2027, 1, 1), now=timezone.now()
        )  # fmt: skip
        course = care.enrol_patient(
            patient=patient,
            protocol_key="depression-induction",
            protocol_version=1,
            by=ada,
            now=timezone.now(),
        )
        scheduling.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())

    median, p95 = timed(book_new_patient, 60)
    rows.append(
        (
            "register + enrol + book a 6-visit series (60 patients into 6 chairs, staffing "
            "checked)",
            f"{median:.1f} ms (p95 {p95:.1f})",
        )
    )

    rows.extend(concurrent_booking(site, ada, sam))
    rows.extend(concurrent_booking(site, ada, sam, spread=True))

    patient = care.Patient.objects.order_by("pk").first()
    for week in range(12):  # a chart's worth of PHQ-9 and GAD-7
        for code, items in (("phq9", 9), ("gad7", 7)):
            care.record_assessment(
                patient=patient, instrument=code, timepoint="follow_up", by=ben,
                answers={str(i): week % 3 for i in range(1, items + 1)},
                completed_at=MONDAY + dt.timedelta(weeks=week), now=timezone.now()
            )  # fmt: skip
    client = signed_in(ben)

    def get(url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")

    queries: list[str] = []

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        get(f"/patients/{patient.pk}/")
    median, p95 = timed(lambda: get(f"/patients/{patient.pk}/"), 50)
    rows.append(
        (
            f"patient page with 24 scores, 2 charts, {len(queries)} queries",
            f"{median:.1f} ms (p95 {p95:.1f})",
        )
    )
    median, p95 = timed(lambda: get("/"), 20)
    rows.append(("patient list, 60 patients", f"{median:.1f} ms (p95 {p95:.1f})"))

    def append() -> None:
        record_event(actor=ben, action=AuditAction.READ, category=DataCategory.PATIENT_RECORD)

    median, _ = timed(append, 2000)
    rows.append(("audit: append one event (own transaction)", f"{median:.2f} ms"))
    start = time.perf_counter()
    report = verify_chain()
    rows.append(
        (
            f"audit: verify the chain of {report.rows_checked} events",
            f"{(time.perf_counter() - start) * 1000:.0f} ms",
        )
    )

    print(
        f"Database: {connection.vendor}; Python {sys.version.split()[0]}; {os.cpu_count()} cores\n"
    )
    print("| benchmark | result |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
