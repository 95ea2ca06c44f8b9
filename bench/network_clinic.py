"""The clinic side of bench/network.py: seeds the network and checks it after each run.

Run by bench/network.py with the database's environment (DATABASE_URL or SUSTAIN_SQLITE_PATH)
and the server's keys. It migrates, seeds, prints one JSON line (the sessions and the patients
each run books), then answers one JSON line per `check` line read on stdin until stdin ends,
and last checks the audit chain.

The seed is bulk-created (it is not what is measured) but holds what the services write:
patients as ``care.register_patient`` leaves them (an MRN from the site's sequence, a weight,
an audit event), courses as ``care.enrol_patient`` does (screening, an audit event), series as
``scheduling.book_series`` does (six visits in one chair with the template's minutes, an audit
event), shifts as ``staff.add_shifts`` (one audit event per weekly run) and phase staffing as
``staff.set_phase_staffing``, every audit event chained (``CHAIN.compute_hash``). The existing
series are placed greedily so that the site's staffing holds, then checked with
``sustain_core.staffing.profile`` before anything is written.
"""

import datetime as dt
import json
import os
import random
import secrets
import string
import sys
import zoneinfo
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sustain.settings")

import django
import django_otp

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.http import HttpRequest  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

from sustain.accounts.audit import CHAIN, verify_chain  # noqa: E402
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory  # noqa: E402
from sustain.accounts.models import AuditChainHead, AuditEvent, Membership, Site, User  # noqa: E402
from sustain.care.enums import CourseStatus  # noqa: E402
from sustain.care.models import Course, MrnSequence, Patient, WeightMeasurement  # noqa: E402
from sustain.scheduling import staff  # noqa: E402
from sustain.scheduling.enums import OCCUPYING, AppointmentStatus, StaffRole  # noqa: E402
from sustain.scheduling.models import (  # noqa: E402
    Appointment,
    Chair,
    OpeningHours,
    PhaseStaffing,
    Shift,
)
from sustain_core import staffing  # noqa: E402
from sustain_core.protocols import DEPRESSION_INDUCTION_V1  # noqa: E402
from sustain_core.series import Interval  # noqa: E402

SITES, CHAIRS = 50, 12
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
OPENS, CLOSES = 8 * 60, 18 * 60  # Monday to Friday, local minutes
# Two nurses 07:45–16:15, two 09:45–18:00, a prescriber 08:00–18:00 (Fridays to 14:00), as in
# bench/series_search.py; 1 nurse to 2 checking in, 4 infusing, 6 recovering; a prescriber
# on site while infusing.
NURSE_SHIFTS = ((7 * 60 + 45, 16 * 60 + 15),) * 2 + ((9 * 60 + 45, 18 * 60),) * 2
RULES = {"check_in": (2, False), "infusion": (4, True), "recovery": (6, False)}
SHIFT_WEEKS = 13  # from this week: the first days asked for, their series and the look-ahead
FIRST_DAYS = 42  # new series start within six weeks from tomorrow
PROTOCOL = DEPRESSION_INDUCTION_V1
TEMPLATE = staff.template_minutes(PROTOCOL)
VISIT = 120  # minutes: 15 check-in, 40 infusing, 60 recovering, 5 discharge
# Existing series: Monday, Wednesday, Friday for two weeks, or Tuesday and Thursday for three,
# in one chair at one time (each ≥ 48 h apart within 21 days, ≤ 3 a week).
PATTERNS = ((0, 2, 4, 7, 9, 11), (14, 16, 18, 21, 23, 25), (1, 3, 8, 10, 15, 17))
FILL = 0.6  # the share of chair time the existing series are offered
SCHEDULERS = 32  # one signed-in scheduler per client of the pool, members of every site
RUNS = (1, 2, 4)  # gunicorn processes: one warm-up, one spread and one concentrated run each
WARM, SPREAD, ONE = 50, 400, 300  # patients waiting per warm-up and run


def local(tz: zoneinfo.ZoneInfo, day: dt.date, minutes: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz) + dt.timedelta(minutes=minutes)


def prescriber_until(day: dt.date) -> int:
    return 14 * 60 if day.weekday() == 4 else CLOSES


# (from, to) minutes after a visit's start and the twelfths of a nurse it takes then: check-in
# (1:2), infusing (1:4), recovering (1:6); discharge takes none.
PHASE_LOAD = ((0, 15, 6), (15, 55, 3), (55, 115, 2))
INFUSING = PHASE_LOAD[1]


class Load:
    """A site's nurse load per 5-minute slot, in twelfths of a nurse (the ratios' least common
    multiple), for the greedy placement of the existing series."""

    def __init__(self) -> None:
        self.used: dict[dt.date, list[int]] = defaultdict(lambda: [0] * 288)
        self.capacity = [0] * 288
        for start, end in NURSE_SHIFTS:
            for slot in range(start // 5, end // 5):
                self.capacity[slot] += 12

    def _slots(self, minute: int) -> list[tuple[int, int]]:
        return [
            (slot, units)
            for first, last, units in PHASE_LOAD
            for slot in range((minute + first) // 5, (minute + last) // 5)
        ]

    def fits(self, day: dt.date, minute: int) -> bool:
        if minute + INFUSING[1] > prescriber_until(day):
            return False
        used = self.used[day]
        return all(used[slot] + units <= self.capacity[slot] for slot, units in self._slots(minute))

    def add(self, day: dt.date, minute: int) -> None:
        for slot, units in self._slots(minute):
            self.used[day][slot] += units


def place_existing(
    tz: zoneinfo.ZoneInfo, monday: dt.date, earliest: dt.datetime, rng: random.Random
) -> list[list[tuple[int, dt.datetime]]]:
    """Series already booked at a site: [(chair index, start)] × 6 per patient, chosen at
    random among the chair lanes (chair c's visits start (c mod 4) × 15 min past 08:00, then
    every two hours) and kept only when the nurses and prescriber on shift cover them."""
    candidates = []
    for chair in range(CHAIRS):
        minute = OPENS + (chair % 4) * 15
        while minute + VISIT <= CLOSES:
            candidates += [(chair, minute, pattern) for pattern in PATTERNS]
            minute += VISIT
    rng.shuffle(candidates)
    load, placed = Load(), []
    for chair, minute, pattern in candidates:
        days = [monday + dt.timedelta(days=offset) for offset in pattern]
        if rng.random() > FILL or local(tz, days[0], minute) < earliest:
            continue
        if all(load.fits(day, minute) for day in days):
            for day in days:
                load.add(day, minute)
            placed.append([(chair, local(tz, day, minute)) for day in days])
    return placed


def shift_times(tz: zoneinfo.ZoneInfo, day: dt.date) -> list[tuple[int, dt.datetime, dt.datetime]]:
    """(staff index, start, end) on a weekday: nurses 0–3, the prescriber 4."""
    times = [(n, local(tz, day, s), local(tz, day, e)) for n, (s, e) in enumerate(NURSE_SHIFTS)]
    return [*times, (4, local(tz, day, OPENS), local(tz, day, prescriber_until(day)))]


def check_staffed(site: Site, shifts: list[Shift], visits: list[dt.datetime]) -> None:
    """Refuse a seed whose existing visits the shifts do not cover (sustain_core.staffing)."""
    if not visits:
        return
    nurses = [Interval(s.starts_at, s.ends_at) for s in shifts if s.role == StaffRole.NURSE]
    prescribers = [Interval(s.starts_at, s.ends_at) for s in shifts if s.role != StaffRole.NURSE]
    rules = staffing.StaffRules(
        patients_per_nurse={staffing.VisitPhaseName(p): r for p, (r, _) in RULES.items()},
        prescriber_phases=frozenset({staffing.VisitPhaseName.INFUSION}),
    )
    segments = staffing.profile(
        rules,
        nurse_shifts=nurses,
        prescriber_shifts=prescribers,
        booked=[staffing.Visit(start=v, phases=PROTOCOL.visit_phases) for v in visits],
        start=min(visits),
        end=max(visits) + dt.timedelta(minutes=VISIT),
    )
    short = [s for s in segments if s.short]
    if short:
        raise SystemExit(f"seed bug: {site.name} understaffed at {short[0].start}")


class Trail:
    """Audit events as the services record them, chained after their lanes' heads."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def add(
        self,
        actor: User,
        role: str,
        site: Site,
        action: str,
        category: str,
        *,
        obj: Any = None,
        patient_id: int | None = None,
    ) -> None:
        self.events.append(
            AuditEvent(
                recorded_at=timezone.now(),
                actor=actor,
                actor_username=actor.username,
                role=role,
                site=site,
                lane=site.pk,
                patient_id=patient_id,
                action=action,
                category=category,
                object_type=obj._meta.label if obj is not None else "",
                object_id=str(obj.pk) if obj is not None else "",
                outcome=AuditOutcome.SUCCESS,
                reason="",
                ip=None,
                request_id="",
            )
        )

    def write(self) -> None:
        """Chain each site's events in its own lane (sustain.accounts.audit: lane = site id)."""
        for lane in sorted({event.lane for event in self.events}):
            head, _ = AuditChainHead.objects.select_for_update().get_or_create(lane=lane)
            for event in (event for event in self.events if event.lane == lane):
                event.seq = head.last_seq + 1
                event.prev_hash = head.last_hash
                event.row_hash = CHAIN.compute_hash(event, head.last_hash)
                head.last_seq, head.last_hash = event.seq, event.row_hash
            head.save(update_fields=["last_seq", "last_hash"])
        AuditEvent.objects.bulk_create(self.events, batch_size=2000)


def users(names: list[str], group: str) -> list[User]:
    made = User.objects.bulk_create(
        User(username=name, password=make_password(None)) for name in names
    )
    role = Group.objects.get(name=group)
    User.groups.through.objects.bulk_create(
        User.groups.through(user_id=user.pk, group_id=role.pk) for user in made
    )
    return made


def session_cookie(user: User) -> str:
    """A session signed in as `user` past the second factor (as bench/load/seed.py does)."""
    client = Client()
    client.force_login(user)
    request = HttpRequest()
    request.session, request.user = client.session, user
    django_otp.login(request, TOTPDevice.objects.create(user=user, name="bench", confirmed=True))
    request.session.save()
    return client.cookies[settings.SESSION_COOKIE_NAME].value


class Registry:
    """Patients registered and enrolled, as register_patient and enrol_patient write them."""

    def __init__(self, trail: Trail, now: dt.datetime) -> None:
        self.trail, self.now = trail, now
        self.mrn: dict[int, int] = defaultdict(int)
        self.pending: list[tuple[Patient, User, User]] = []

    def patient(self, site: Site, scheduler: User, prescriber: User) -> Patient:
        self.mrn[site.pk] += 1
        n = self.mrn[site.pk]
        patient = Patient(
            site=site,
            mrn=f"S{site.pk}-{n:06d}",
            given_name=f"N{n:05d}",
            family_name="Network",
            date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=n * 7),
            sex="unknown",
            primary_condition="depression",
            created_at=self.now,
            created_by=scheduler,
        )
        self.pending.append((patient, scheduler, prescriber))
        return patient

    def write(self) -> dict[int, Course]:
        """Insert the patients, their weights and courses; the courses by patient id."""
        Patient.objects.bulk_create([p for p, _, _ in self.pending], batch_size=2000)
        WeightMeasurement.objects.bulk_create(
            (
                WeightMeasurement(
                    patient=p,
                    weight_kg=Decimal("72.5"),
                    recorded_at=self.now,
                    measured_on=self.now.astimezone(p.site.tz).date(),
                    recorded_by=by,
                )
                for p, by, _ in self.pending
            ),
            batch_size=2000,
        )
        courses = Course.objects.bulk_create(
            (
                Course(
                    patient=p,
                    protocol_key=PROTOCOL.key,
                    protocol_version=PROTOCOL.version,
                    status=CourseStatus.SCREENING,
                    prescriber=doctor,
                    enrolled_at=self.now,
                    enrolled_by=doctor,
                )
                for p, _, doctor in self.pending
            ),
            batch_size=2000,
        )
        for (patient, by, doctor), course in zip(self.pending, courses, strict=True):
            self.trail.add(
                by,
                "scheduler",
                patient.site,
                AuditAction.CREATE,
                DataCategory.DEMOGRAPHICS,
                obj=patient,
                patient_id=patient.pk,
            )
            self.trail.add(
                doctor,
                "prescriber",
                patient.site,
                AuditAction.CREATE,
                DataCategory.COURSE,
                obj=course,
                patient_id=patient.pk,
            )
        MrnSequence.objects.bulk_create(
            MrnSequence(site_id=site, last=last) for site, last in self.mrn.items()
        )
        return {course.patient_id: course for course in courses}


@transaction.atomic
def seed() -> dict[str, Any]:
    rng = random.Random(2027)  # noqa: S311 - synthetic bookings, not secrets
    now = timezone.now()
    trail = Trail()
    sites = Site.objects.bulk_create(
        Site(name=f"Network {n:02d}", timezone=ZONES[n % len(ZONES)]) for n in range(SITES)
    )
    admin = users(["network.admin"], "clinic_admin")[0]
    schedulers = users([f"scheduler{n:02d}" for n in range(SCHEDULERS)], "scheduler")
    nurses = users([f"nurse{s:02d}.{n}" for s in range(SITES) for n in range(4)], "nurse")
    doctors = users([f"prescriber{s:02d}" for s in range(SITES)], "prescriber")
    Membership.objects.bulk_create(
        [Membership(user=u, site=s) for s in sites for u in (admin, *schedulers)]
        + [
            Membership(user=nurses[4 * n + k], site=s)
            for n, s in enumerate(sites)
            for k in range(4)
        ]
        + [Membership(user=doctors[n], site=s) for n, s in enumerate(sites)]
    )
    OpeningHours.objects.bulk_create(
        OpeningHours(site=s, weekday=d, opens=dt.time(8), closes=dt.time(18))
        for s in sites
        for d in range(5)
    )
    chairs = Chair.objects.bulk_create(
        Chair(site=s, name=f"Chair {c + 1}") for s in sites for c in range(CHAIRS)
    )
    PhaseStaffing.objects.bulk_create(
        PhaseStaffing(site=s, phase=p, patients_per_nurse=r, prescriber_on_site=needs)
        for s in sites
        for p, (r, needs) in (*RULES.items(), ("discharge", (None, False)))
    )
    registry = Registry(trail, now)
    shifts: list[Shift] = []
    existing: list[tuple[Patient, int, list[tuple[int, dt.datetime]]]] = []
    waiting: dict[str, list[tuple[Patient, dt.date]]] = defaultdict(list)
    for n, site in enumerate(sites):
        tz = site.tz
        trail.add(admin, "clinic_admin", site, AuditAction.UPDATE, DataCategory.SCHEDULE)
        tomorrow = now.astimezone(tz).date() + dt.timedelta(days=1)
        monday = tomorrow - dt.timedelta(days=tomorrow.weekday())
        staff_of_site = [*nurses[4 * n : 4 * n + 4], doctors[n]]
        site_shifts = []
        for weekday in range(5):
            for who in range(5):
                run = []
                for week in range(SHIFT_WEEKS):
                    day = monday + dt.timedelta(weeks=week, days=weekday)
                    _, start, end = shift_times(tz, day)[who]
                    role = StaffRole.NURSE if who < 4 else StaffRole.PRESCRIBER
                    run.append(
                        Shift(
                            site=site,
                            staff=staff_of_site[who],
                            role=role,
                            starts_at=start,
                            ends_at=end,
                            created_by=admin,
                        )
                    )
                site_shifts += run
        shifts += site_shifts
        placed = place_existing(tz, monday, now + dt.timedelta(days=1), rng)
        check_staffed(site, site_shifts, [start for visits in placed for _, start in visits])
        for visits in placed:
            scheduler = schedulers[rng.randrange(SCHEDULERS)]
            existing.append((registry.patient(site, scheduler, doctors[n]), n, visits))
        for run_number, _ in enumerate(RUNS):
            for kind, count in (("warm", WARM), ("spread", SPREAD)):
                for k in range(count // SITES):
                    first = tomorrow + dt.timedelta(days=(k * 7 + n * 3) % FIRST_DAYS)
                    patient = registry.patient(site, schedulers[0], doctors[n])
                    waiting[f"{kind}-{run_number}"].append((patient, first))
            if n == run_number:  # each concentrated run has a site of its own
                for k in range(ONE):
                    first = tomorrow + dt.timedelta(days=(k * 5) % FIRST_DAYS)
                    patient = registry.patient(site, schedulers[0], doctors[n])
                    waiting[f"one-{run_number}"].append((patient, first))
    Shift.objects.bulk_create(shifts, batch_size=2000)
    for first in shifts[::SHIFT_WEEKS]:  # one add_shifts call per person and weekday
        trail.add(
            admin, "clinic_admin", first.site, AuditAction.CREATE, DataCategory.SCHEDULE, obj=first
        )
    courses = registry.write()
    appointments = [
        Appointment(
            site=patient.site,
            chair=chairs[n * CHAIRS + chair],
            patient=patient,
            course=courses[patient.pk],
            number=number,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=VISIT),
            status=AppointmentStatus.BOOKED,
            booked_at=now,
            booked_by=patient.created_by,
            **TEMPLATE,
        )
        for patient, n, visits in existing
        for number, (chair, start) in enumerate(visits, start=1)
    ]
    Appointment.objects.bulk_create(appointments, batch_size=2000)
    for patient, _, _ in existing:
        trail.add(
            patient.created_by,
            "scheduler",
            patient.site,
            AuditAction.CREATE,
            DataCategory.SCHEDULE,
            obj=courses[patient.pk],
            patient_id=patient.pk,
        )
    trail.write()
    csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    return {
        "sites": [site.pk for site in sites],
        "sessions": [session_cookie(user) for user in schedulers],
        "csrf": csrf,
        "existing": {"series": len(existing), "visits": len(appointments)},
        "waiting": {
            run: [[p.pk, p.site_id, first.isoformat()] for p, first in patients]
            for run, patients in waiting.items()
        },
    }


OVERLAPS = (
    "SELECT COUNT(*) FROM scheduling_appointment a JOIN scheduling_appointment b"
    " ON a.{column} = b.{column} AND a.id < b.id AND a.starts_at < b.ends_at"
    " AND b.starts_at < a.ends_at WHERE a.status IN (%s, %s) AND b.status IN (%s, %s)"
)


def check(patients: list[int]) -> dict[str, int]:
    """The series booked for these patients (their courses with visits), overlapping visits in
    a chair and of a patient (all the network's), and understaffed moments where these
    patients' visits were booked."""
    new = Appointment.objects.filter(patient_id__in=patients, status__in=OCCUPYING)
    found: dict[str, int] = {"series": new.values("course_id").distinct().count()}
    with connection.cursor() as cursor:
        for name, column in (("chair_overlaps", "chair_id"), ("patient_overlaps", "patient_id")):
            cursor.execute(OVERLAPS.format(column=column), [*OCCUPYING, *OCCUPYING])
            found[name] = cursor.fetchone()[0]
    short = 0
    for site in Site.objects.filter(pk__in=new.values("site_id")):
        times = new.filter(site=site).values_list("starts_at", "ends_at")
        start, end = min(t[0] for t in times), max(t[1] for t in times)
        short += sum(1 for s in staff.site_profile(site, start, end) if s.short)
    found["understaffed"] = short
    return found


def main() -> None:
    call_command("migrate", verbosity=0)
    print(json.dumps(seed()), flush=True)
    connection.close()
    for line in sys.stdin:
        print(json.dumps(check(json.loads(line)["patients"])), flush=True)
        connection.close()  # no connection held while the server runs
    report = verify_chain()
    print(json.dumps({"audit_chain_ok": report.ok, "rows": report.rows_checked}), flush=True)


if __name__ == "__main__":
    main()
