"""The series preview through Django with the site's diary index (issue 15) against the path
before it (`services.propose_series_reference`), on one clinic, in one run:
`SUSTAIN_DEBUG=1 python bench/diary_preview.py` (SQLite scratch file, or DATABASE_URL).

The clinic: 12 chairs, staffing checked (two nurses and a prescriber every weekday for 26
weeks), `SERIES` induction series booked through book_series, and two other patients'
series held. Each timed preview is compared with the reference's answer.
"""

import datetime as dt
import os
import statistics
import sys
import tempfile
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

django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from sustain.accounts.models import Membership, Site, User  # noqa: E402
from sustain.care import services as care  # noqa: E402
from sustain.care.models import Course  # noqa: E402
from sustain.scheduling import services, staff  # noqa: E402
from sustain.scheduling.enums import StaffRole  # noqa: E402
from sustain.scheduling.models import Chair, OpeningHours  # noqa: E402

MONDAY = dt.datetime(2027, 1, 4, 8, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
SERIES = 60
RUNS = 30


def timed(work: Callable[[], object]) -> tuple[float, float]:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def clinic() -> tuple[Site, dict[str, User]]:
    call_command("migrate", verbosity=0)
    site = Site.objects.create(name="Bench Clinic", timezone="America/New_York")
    for weekday in range(5):
        OpeningHours.objects.create(
            site=site, weekday=weekday, opens=dt.time(8), closes=dt.time(18)
        )
    for n in range(12):
        Chair.objects.create(site=site, name=f"Chair {n + 1:02}")
    users = {}
    for name, role in (
        ("ada", "prescriber"), ("ben", "nurse"), ("cleo", "nurse"), ("sam", "scheduler"),
        ("alex", "clinic_admin"),
    ):  # fmt: skip
        user = User.objects.create_user(name, password=None)
        user.groups.add(Group.objects.get(name=role))
        Membership.objects.create(user=user, site=site)
        users[name] = user
    rules = {"check_in": (2, False), "infusion": (4, True), "recovery": (6, False)}
    staff.set_phase_staffing(site=site, rules=rules, by=users["alex"], now=timezone.now())
    for day in range(5):
        for name, role in (("ada", "prescriber"), ("ben", "nurse"), ("cleo", "nurse")):
            request = staff.ShiftRequest(
                staff=users[name], role=StaffRole(role),
                day=(MONDAY + dt.timedelta(days=day)).date(),
                starts=dt.time(8), ends=dt.time(18), weeks=26,
            )  # fmt: skip
            staff.add_shifts(site=site, request=request, by=users["alex"])
    return site, users


def course(site: Site, users: dict[str, User], n: int) -> Course:
    patient = care.register_patient(
        by=users["sam"], site=site, given_name=f"P{n}", family_name="Bench", sex="unknown",
        date_of_birth=dt.date(1980, 1, 1) + dt.timedelta(days=n), phone="", email="",
        primary_condition="depression", weight_kg=Decimal("72.5"), today=dt.date(2026, 12, 1),
        now=timezone.now(),
    )  # fmt: skip
    return care.enrol_patient(
        patient=patient, protocol_key="depression-induction", protocol_version=1,
        by=users["ada"], now=timezone.now(),
    )  # fmt: skip


def same(found: object, expected: object) -> None:
    if found != expected:
        raise SystemExit(f"the indexed preview differs from the reference: {found} != {expected}")


def main() -> None:
    site, users = clinic()
    for n in range(SERIES):
        services.book_series(
            course=course(site, users, n), earliest=MONDAY + dt.timedelta(days=n % 20),
            by=users["sam"], now=timezone.now(),
        )  # fmt: skip
    for n in range(2):  # other schedulers' holds
        held = course(site, users, 1000 + n)
        now = timezone.now()
        result = services.propose_series(
            course=held, request=services.SeriesRequest(earliest=MONDAY), now=now
        )
        services.hold_series(course=held, result=result, by=users["sam"], now=now)
    wanted = course(site, users, 2000)
    request = services.SeriesRequest(earliest=MONDAY)
    now = timezone.now()

    def indexed() -> object:
        return services.propose_series(course=wanted, request=request, now=now)

    def reference() -> object:
        return services.propose_series_reference(course=wanted, request=request, now=now)

    same(indexed(), reference())
    rows = []
    for name, work in (("indexed (cache warm)", indexed), ("reference", reference)):
        with CaptureQueriesContext(connection) as queries:
            work()
        median, p95 = timed(work)
        rows.append((name, median, p95, len(queries)))
    other = course(site, users, 3000)
    chair = Chair.objects.filter(site=site).get(name="Chair 12")
    days = [MONDAY + dt.timedelta(days=d, hours=1) for d in range(40, 120)]
    patched = []
    for n, day in enumerate([d for d in days if d.weekday() < 5][:RUNS]):
        # A visit booked elsewhere before each preview: the cache patches it in each time.
        services.book_visit(
            course=other, chair=chair, starts_at=day, by=users["sam"], now=timezone.now(),
            number=n + 1,
        )  # fmt: skip
        start = time.perf_counter()
        found = indexed()
        patched.append((time.perf_counter() - start) * 1000)
        same(found, reference())
    ref_median = rows[1][1]
    print(f"{connection.vendor}, 12 chairs, {SERIES} series booked, 2 held, {RUNS} runs")
    print("| propose_series | median ms | p95 ms | queries | vs reference |")
    print("|---|---|---|---|---|")
    for name, median, p95, count in rows:
        print(f"| {name} | {median:.2f} | {p95:.2f} | {count} | {ref_median / median:.2f}× |")
    print(
        f"| indexed, a visit booked since (patched) | {statistics.median(patched):.2f} | "
        f"{sorted(patched)[int(RUNS * 0.95) - 1]:.2f} | – | "
        f"{ref_median / statistics.median(patched):.2f}× |"
    )


if __name__ == "__main__":
    main()
