"""`sustain demo`: load a realistic demo clinic into an empty development database.

Everything clinical goes through the real services (sustain.care.services,
sustain.scheduling.services, sustain.infusion.services), so audit rows, constraints and
scoring are the real ones.

The demo clock: with ``--today`` it is 12:00 local time on that day (deterministic, for
tests); without it, the real current time. Visits under way by then are told at the chair up
to the clock (sustain.clinic.story); later ones stay booked. Each service is given the moment its
action happened in the demo's story (registration, enrolment, each questionnaire, each
booking); only the audit trail stamps its own, real time.
"""

import argparse
import datetime as dt
import math
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from sustain.accounts import directors
from sustain.accounts.bounds import date_argument
from sustain.accounts.enums import Channel, Role
from sustain.accounts.models import Membership, OutboxMessage, Site, User
from sustain.care import services
from sustain.care.enums import AlertKind, AlertStatus, Condition, CourseStatus, Sex, Timepoint
from sustain.care.models import Alert, Course, Patient
from sustain.care.protocol_versions import protocol_for
from sustain.clinic import history, story
from sustain.infusion import chairside
from sustain.infusion import services as infusion
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity
from sustain.ledger import counts as ledger_counts
from sustain.ledger import services as ledger_services
from sustain.ledger.enums import BusinessTime, InventoryKind
from sustain.ledger.models import (
    Container,
    Inventory,
    LedgerEntry,
    Location,
    Product,
    SiteRegistration,
    Supplier,
)
from sustain.portal import services as portal_services
from sustain.reports import forecast
from sustain.scheduling import reminders, replies, staff
from sustain.scheduling import services as scheduling
from sustain.scheduling.enums import AppointmentStatus, StaffRole
from sustain.scheduling.models import Appointment, Chair, Closure, OpeningHours
from sustain_core import instruments, outcomes
from sustain_core.errors import ClinicalValueError
from sustain_core.protocols import DEPRESSION_INDUCTION_V1, Protocol, get_protocol

SITE_NAME = "Riverside Infusion Clinic"
SITE_TZ = "America/New_York"
SITE_ADDRESS = "40 Market Street, Poughkeepsie, NY 12601"  # the registered location (made up)
CHAIRS = 6
EXTENDED_CHAIRS = ("Chair 6",)  # reclines fully: for 4-hour pain infusions
# Staffing rules (clinic settings, unconfirmed): patients per nurse in each phase and where a
# prescriber must be on site; and the weekly shifts (weekday, username, role, from, to).
PHASE_STAFFING = {
    "check_in": (2, False),
    "infusion": (4, True),
    "recovery": (6, False),
    "discharge": (2, False),
}
SHIFTS = (
    *((day, "nurse.ben", "nurse", dt.time(7, 45), dt.time(16)) for day in range(5)),
    *((day, "nurse.cleo", "nurse", dt.time(10), dt.time(18)) for day in range(5)),
    *((day, "dr.ada", "prescriber", dt.time(8), dt.time(18)) for day in range(5)),
    (5, "nurse.cleo", "nurse", dt.time(9), dt.time(13)),
    (5, "dr.ada", "prescriber", dt.time(9), dt.time(13)),
)
SHIFT_WEEKS = 26  # from 12 weeks back: the demo's past series and the weeks ahead
# (weekday, opens, closes): Monday–Friday 08:00–18:00, Saturday 09:00–13:00.
HOURS = (*tuple((day, dt.time(8), dt.time(18)) for day in range(5)), (5, dt.time(9), dt.time(13)))
# Shared by every demo account; printed at the end. Demo database only.
DEMO_PASSWORD = "ketamine-demo-2026"  # noqa: S105 - demo accounts only, refused unless DEBUG
# Second infusions stopped early at the patient's request, their remainder wasted with a witness.
STOPPED_EARLY = 3
PROTOCOL = DEPRESSION_INDUCTION_V1
# Today's board at every stage of the chair-side record: (given name, family name, sex,
# weight kg, how many minutes before the demo clock the visit starts, the stage reached).
TODAY_AT_THE_CHAIR = (
    ("Nia", "Okoro", Sex.FEMALE, "61.0", 165, "signed"),
    ("Tomas", "Halloran", Sex.MALE, "84.0", 125, "discharged"),
    ("Lena", "Brandt", Sex.FEMALE, "72.0", 80, "recovering"),
    ("Theo", "Marsh", Sex.MALE, "95.0", 45, "stopped"),
    ("Ines", "Duarte", Sex.FEMALE, "58.0", 35, "infusing"),
    ("Ravi", "Menon", Sex.MALE, "77.0", 5, "checked in"),
)
DEFAULT_SEED = 7
# Demo heights by sex (invented, not clinical figures): the clinic's default rule doses on
# adjusted body weight from a BMI of 30, which needs a height (sustain_core.clinic_rules).
# Invented contacts and allergies for the demo patients (issue 13; not clinical figures),
# picked from each patient's name, so the seeded draws of the rest of the demo do not move.
DEMO_CONTACT_GIVEN_NAMES = ("Alex", "Jordan", "Morgan", "Casey", "Riley", "Sam")
DEMO_RELATIONS = ("spouse", "sister", "son", "friend", "partner", "daughter")
DEMO_ALLERGIES = (
    ("Penicillin", "hives", "moderate"),
    ("Sulfonamides", "rash", "mild"),
    ("Latex", "contact dermatitis", "mild"),
)
# The antidepressant some patients keep taking through the course (one in four; none of them
# interacts with ketamine in sustain_core.medications, so no gate item waits on them).
DEMO_MEDICATIONS = (
    ("Sertraline", "100 mg once a day"),
    ("Escitalopram", "20 mg once a day"),
    ("Bupropion XL", "300 mg every morning"),
)
# Third infusions with a mild nausea in recovery (the first ADVERSE_EVENTS of them).
ADVERSE_EVENTS = 2
DEMO_NAUSEA = (
    AdverseEventKind.NAUSEA, AdverseEventSeverity.MILD,
    "Nausea in recovery, no vomiting; settled within 20 minutes", "Observed; sips of water",
)  # fmt: skip
DEMO_HEIGHT_CM = {
    Sex.FEMALE: Decimal("163.0"),
    Sex.MALE: Decimal("177.0"),
    Sex.OTHER: Decimal("170.0"),
    Sex.UNKNOWN: Decimal("170.0"),
}

# (username, first name, last name, role)
STAFF = (
    ("dr.ada", "Ada", "Okafor", Role.PRESCRIBER),
    ("nurse.ben", "Ben", "Hart", Role.NURSE),
    ("nurse.cleo", "Cleo", "Ruiz", Role.NURSE),
    ("sam.scheduler", "Sam", "Patel", Role.SCHEDULER),
    ("alex.admin", "Alex", "Kim", Role.CLINIC_ADMIN),
    ("ivy.auditor", "Ivy", "Chen", Role.AUDITOR),
)

# The prescriber who publishes the demo clinic's dosing and safety changes to its protocols.
MEDICAL_DIRECTOR = "dr.ada"

# Invented patients: common given and family names paired at random, no real people.
GIVEN_NAMES = (
    ("Amara", Sex.FEMALE), ("Priya", Sex.FEMALE), ("Mei", Sex.FEMALE), ("Sofia", Sex.FEMALE),
    ("Fatima", Sex.FEMALE), ("Hannah", Sex.FEMALE), ("Keisha", Sex.FEMALE), ("Lucia", Sex.FEMALE),
    ("Ingrid", Sex.FEMALE), ("Yuki", Sex.FEMALE), ("Zainab", Sex.FEMALE), ("Grace", Sex.FEMALE),
    ("Rosa", Sex.FEMALE), ("Nadia", Sex.FEMALE), ("Leila", Sex.FEMALE), ("Chloe", Sex.FEMALE),
    ("Anika", Sex.FEMALE), ("Maya", Sex.FEMALE), ("Elena", Sex.FEMALE), ("Robin", Sex.OTHER),
    ("Daniel", Sex.MALE), ("Omar", Sex.MALE), ("Kenji", Sex.MALE), ("Mateo", Sex.MALE),
    ("Samuel", Sex.MALE), ("Tariq", Sex.MALE), ("Liam", Sex.MALE), ("Arjun", Sex.MALE),
    ("Jamal", Sex.MALE), ("Felix", Sex.MALE), ("Ravi", Sex.MALE), ("Diego", Sex.MALE),
    ("Noah", Sex.MALE), ("Hiroshi", Sex.MALE), ("Kwame", Sex.MALE), ("Lucas", Sex.MALE),
    ("Ethan", Sex.MALE), ("Andre", Sex.MALE), ("Marco", Sex.MALE), ("Theo", Sex.MALE),
)  # fmt: skip
FAMILY_NAMES = (
    "Adeyemi", "Bergstrom", "Castillo", "Delacroix", "Eriksen", "Fontaine", "Gallagher",
    "Haddad", "Ishikawa", "Jaramillo", "Kowalski", "Lindqvist", "Mahlangu", "Nakamura",
    "O'Connell", "Petrov", "Quintero", "Rahman", "Sandoval", "Thibodeaux", "Underwood", "Varga",
    "Whitfield", "Xiong", "Yilmaz", "Zielinski", "Abernathy", "Brennan", "Chaudhry",
    "Dimitriou", "Esposito", "Fairbanks", "Greenberg", "Hollis", "Iyer", "Juarez", "Kaminski",
    "Lachance", "Morrow", "Nwosu",
)  # fmt: skip

# Invented postal addresses (the dispensing record names one with each administration):
# streets and towns near a Hudson Valley clinic, picked by a number (the patient's place in the
# list), so the seeded random draws are unchanged.
DEMO_STREETS = (
    "Maple Avenue", "Church Street", "Hudson Terrace", "Orchard Lane", "Mill Road",
    "Willow Court", "Academy Street", "Ridge Road", "Cedar Drive", "Main Street",
)  # fmt: skip
DEMO_TOWNS = ("Poughkeepsie, NY 12601", "Beacon, NY 12508", "Kingston, NY 12401")


def demo_address(number: int) -> str:
    """An invented address for the demo's `number`th patient (no real person lives there)."""
    street = DEMO_STREETS[number % len(DEMO_STREETS)]
    town = DEMO_TOWNS[number % len(DEMO_TOWNS)]
    return f"{12 + 37 * number} {street}\n{town}"


# Stages and how many patients are in each (40 in all).
NO_COURSE, SCREENING, INDUCTION, REVIEW, MAINTENANCE, RELAPSED = (
    "no course", "screening", "mid-induction", "post-induction review", "maintenance",
    "relapsed",
)  # fmt: skip
STAGE_SIZES = {
    NO_COURSE: 5, SCREENING: 7, INDUCTION: 12, REVIEW: 2, MAINTENANCE: 8, RELAPSED: 6,
}  # fmt: skip
BOOSTERS = 4  # maintenance patients with a booster visit booked in the coming 2 weeks

# End-of-induction outcome classes. Over the 16 patients who finish induction (review,
# maintenance, relapsed) this gives 9 responders (56 %) of whom 4 remit (25 %), close to
# McInnes 2022 (53.6 % response, 28.9 % remission). Relapse needs a gain to lose, so relapsers
# are mostly responders; the two still in review are the non-responders awaiting a decision.
REMIT, RESPOND, PARTIAL, NONE = "remission", "response", "partial", "none"
STAGE_OUTCOMES = {
    INDUCTION: [REMIT] * 3 + [RESPOND] * 3 + [PARTIAL] * 3 + [NONE] * 3,
    REVIEW: [NONE, PARTIAL],
    MAINTENANCE: [REMIT] * 3 + [RESPOND] * 2 + [PARTIAL] * 3,
    RELAPSED: [REMIT] + [RESPOND] * 3 + [PARTIAL] * 2,
}
# Fraction of the baseline-to-end drop reached before infusion k (k = 1..6): ketamine's effect
# is fast, most of the drop comes with the first few infusions. The first follow-up (a week
# after infusion 6) is the end-of-induction score.
DROP_BEFORE_INFUSION = (0.0, 0.35, 0.55, 0.7, 0.82, 0.9)
# Item 9 is 0 everywhere except these timepoints (one patient each), which raise alerts.
ITEM9_SCREENING_BASELINE = "screening baseline"  # stays open
ITEM9_INDUCTION_FIRST = "induction first pre-infusion"  # acknowledged by the prescriber
ITEM9_RELAPSE_LAST = "relapse last follow-up"  # stays open
PHQ9_ITEMS = 9
ITEM_MAX = 3


_parse_date = date_argument("--today")  # within sustain.accounts.bounds (TST-03)
HISTORY_MAX = 600  # a year's induction series fill about half the 6 chairs at 600


def _history_size(value: str) -> int:
    """--history: a whole number of patients from 0 to HISTORY_MAX (argparse's type)."""
    allowed = f"the history is a whole number of patients from 0 to {HISTORY_MAX}"
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{allowed}; got {value!r}") from None
    if not 0 <= number <= HISTORY_MAX:
        raise argparse.ArgumentTypeError(f"{allowed}; got {number}")
    return number


def _planned(day: dt.date | None) -> dt.date:
    if day is None:
        raise CommandError("demo plan error: a date the stage needs was not planned")
    return day


@dataclass
class Plan:
    """Everything random about one patient, drawn up front from the seeded Random."""

    stage: str
    given_name: str
    family_name: str
    sex: str
    date_of_birth: dt.date
    weight_kg: Decimal
    phone: str
    email: str
    address: str = ""
    baseline: int = 0
    end: int = 0
    outcome: str = NONE
    series_day: dt.date | None = None
    baseline_day: dt.date | None = None
    registered_on: dt.date | None = None
    relapse_week: int = 0
    vial: Decimal = Decimal("50")
    booster: bool = False
    item9: str = ""
    profile: list[float] = field(default_factory=list)


class Command(BaseCommand):
    help = (
        "Load a demo clinic (Riverside Infusion Clinic: 6 staff, 40 synthetic patients at every "
        "stage) into an empty database. Refused unless DEBUG is on and there are no users."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--today",
            type=_parse_date,
            default=None,
            help="The demo's today, YYYY-MM-DD (default: today in America/New_York); the "
            "demo clock is then 12:00 local on that day.",
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"Random seed (default {DEFAULT_SEED})"
        )
        parser.add_argument(
            "--history",
            type=_history_size,
            default=history.DEFAULT_PATIENTS,
            help=f"Patients in the clinic's year of history, written in bulk (default "
            f"{history.DEFAULT_PATIENTS}; 0: none, {HISTORY_MAX} at most).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "sustain demo refused: DEBUG is off. Demo users exist only in the demo "
                "database; run it on a development database with SUSTAIN_DEBUG=1."
            )
        if User.objects.exists() or Site.objects.exists():
            raise CommandError(
                "sustain demo refused: the database is not empty (it already has users or "
                "sites). Demo users exist only in the demo database; run it on a fresh one."
            )
        started = time.perf_counter()
        self.tz = ZoneInfo(SITE_TZ)
        today: dt.date | None = options["today"]
        if today is None:
            self.today = timezone.now().astimezone(self.tz).date()
            self.now = timezone.now()
        else:
            self.today = today
            self.now = self._at(today, 12)
        self.rng = random.Random(options["seed"])  # noqa: S311 - synthetic data, not secrets
        # GAD-7 answers draw from their own stream, so the PHQ-9 data stay as they were.
        self.gad_rng = random.Random(options["seed"] + 1)  # noqa: S311 - synthetic data
        self.stdout.write(
            f"Loading the demo clinic for {self.today} (clock {self.now.astimezone(self.tz):%H:%M} "
            f"{SITE_TZ}, seed {options['seed']})"
        )

        self._create_site()
        self._create_staff()
        plans = self._plan_patients()
        self._receive_stock(plans)
        with transaction.atomic():  # booked the week before: today's chairs are theirs
            self._load_todays_chairs()
        runners = {
            MAINTENANCE: self._load_post_induction,
            REVIEW: self._load_post_induction,
            RELAPSED: self._load_post_induction,
            INDUCTION: self._load_induction,
            SCREENING: self._load_screening,
            NO_COURSE: self._load_registered,
        }
        # Oldest series first, as a clinic would have booked them.
        for stage in (RELAPSED, MAINTENANCE, REVIEW, INDUCTION, SCREENING, NO_COURSE):
            stage_started = time.perf_counter()
            stage_plans = [p for p in plans if p.stage == stage]
            stage_plans.sort(key=lambda p: p.series_day or self.today)
            for plan in stage_plans:
                with transaction.atomic():
                    runners[stage](plan)
            self.stdout.write(
                f"  {stage:<22} {len(stage_plans):>2} patients "
                f"({time.perf_counter() - stage_started:.1f} s)"
            )
        with transaction.atomic():
            self._load_pain_patient()
        with transaction.atomic():
            invited = self._invite_next_patients()
        self.stdout.write(
            f"  self-report links       {invited} in the outbox (sign in as alex.admin)"
        )
        with transaction.atomic():
            reminded = self._remind_and_answer()
        self.stdout.write(
            f"  visit reminders         {reminded} in the outbox; one visit confirmed by its "
            f"patient, one asking to change (the day page)"
        )
        with transaction.atomic():
            self._load_counts()
        self.history: history.HistorySummary | None = None
        if options["history"]:
            self._load_history(options["history"], options["seed"])
        fit_started = time.perf_counter()
        fit = forecast.fit_all_sites(now=self.now)[0]  # as the worker does nightly
        checked = fit.backtest
        concordance = checked["concordance"]
        self.stdout.write(
            f"  relapse model          fitted on {fit.parameters['clinic_episodes']} episodes "
            f"({fit.parameters['clinic_relapses']} relapses), median "
            f"{fit.parameters['median_days']:.0f} days; backtest: {checked['n']} forecasts, "
            f"{checked['events']} relapses, concordance "
            f"{'—' if concordance is None else f'{concordance:.2f}'}, "
            f"{len(fit.open_episodes)} responders forecast "
            f"({time.perf_counter() - fit_started:.1f} s)"
        )
        self._summary()
        self.stdout.write(f"Done in {time.perf_counter() - started:.1f} s.")

    # -- time helpers ---------------------------------------------------------------------

    def _at(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=self.tz)

    def _open_weekdays(self, first: dt.date, last: dt.date) -> list[dt.date]:
        days = []
        day = first
        while day <= last:
            if day.weekday() < 5 and day not in self.closed:
                days.append(day)
            day += dt.timedelta(days=1)
        return days

    # -- site and staff -------------------------------------------------------------------

    def _closure(self) -> tuple[dt.date, str]:
        """The Thanksgiving or Christmas Day nearest the demo's today (the demo window)."""
        holidays = []
        for year in (self.today.year - 1, self.today.year, self.today.year + 1):
            november_first = dt.date(year, 11, 1)
            first_thursday = november_first + dt.timedelta(days=(3 - november_first.weekday()) % 7)
            holidays.append((first_thursday + dt.timedelta(weeks=3), "Thanksgiving Day"))
            holidays.append((dt.date(year, 12, 25), "Christmas Day"))
        # Prefer one in the window (8 weeks back, 2 weeks ahead), else the next one ahead.
        window = [h for h in holidays if -56 <= (h[0] - self.today).days <= 14]
        if window:
            return min(window, key=lambda h: abs((h[0] - self.today).days))
        return min((h for h in holidays if h[0] > self.today), key=lambda h: h[0])

    @transaction.atomic
    def _create_site(self) -> None:
        self.site = Site(
            name=SITE_NAME, timezone=SITE_TZ, holiday_country="US", holiday_subdivision="NY",
            address=SITE_ADDRESS, phone="+1 (845) 555-0100",
        )  # fmt: skip
        self.site.full_clean()
        self.site.save()
        for weekday, opens, closes in HOURS:
            OpeningHours.objects.create(site=self.site, weekday=weekday, opens=opens, closes=closes)
        closure_day, reason = self._closure()
        Closure.objects.create(site=self.site, date=closure_day, reason=f"{reason} (clinic closed)")
        self.closed = {closure_day}
        for n in range(1, CHAIRS + 1):
            name = f"Chair {n}"
            capabilities = ["extended"] if name in EXTENDED_CHAIRS else []
            Chair.objects.create(site=self.site, name=name, capabilities=capabilities)
        self.stdout.write(
            f"  site                   {SITE_NAME}: {CHAIRS} chairs, Mon–Fri 08–18, Sat 09–13, "
            f"closed {closure_day} ({reason})"
        )

    @transaction.atomic
    def _receive_stock(self, plans: list[Plan]) -> None:
        """The clinic's DEA registration, its supplier and ketamine received into the safe a
        week before the first series (sustain.clinic.story.stock): each infusion draws from a
        numbered vial of it."""
        first = min([p.series_day for p in plans if p.series_day] + [self.today])
        received = first - dt.timedelta(days=7)
        admin = self.staff["alex.admin"]
        vials = [
            *story.stock(
                self.site,
                admin,
                on=received,
                strength_mg_per_ml=50,
                containers=20,
                address=SITE_ADDRESS,
            ),
            *story.stock(self.site, admin, on=received, strength_mg_per_ml=10, containers=15),
        ]
        self.stdout.write(
            f"  stock                  {len(vials)} vials received {received} (50 mg/mL × 10 mL, "
            "10 mg/mL × 20 mL) into the safe"
        )

    @transaction.atomic
    def _create_staff(self) -> None:
        self.staff: dict[str, User] = {}
        for username, first, last, role in STAFF:
            user = User(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{first}.{last}@example.org".lower(),
            )
            validate_password(DEMO_PASSWORD, user)
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.add(Group.objects.get(name=role))
            Membership.objects.create(user=user, site=self.site)
            self.staff[username] = user
        self.prescriber = self.staff["dr.ada"]
        self.nurses = [self.staff["nurse.ben"], self.staff["nurse.cleo"]]
        self.stopped_early = 0
        self.adverse_events = 0
        self.scheduler = self.staff["sam.scheduler"]
        admin = self.staff["alex.admin"]
        directors.designate_medical_director(
            site=self.site, user=self.staff[MEDICAL_DIRECTOR], designated=True, by=admin
        )
        staff.set_phase_staffing(site=self.site, rules=PHASE_STAFFING, by=admin, now=self.now)
        this_monday = self.today - dt.timedelta(days=self.today.weekday())
        first_monday = this_monday - dt.timedelta(weeks=12)
        for weekday, username, shift_role, starts, ends in SHIFTS:
            staff.add_shifts(
                site=self.site,
                request=staff.ShiftRequest(
                    staff=self.staff[username],
                    role=StaffRole(shift_role),
                    day=first_monday + dt.timedelta(days=weekday),
                    starts=starts,
                    ends=ends,
                    weeks=SHIFT_WEEKS,
                ),
                by=admin,
            )
        self.stdout.write(
            f"  staff                  {len(self.staff)} users; nurse and prescriber shifts for "
            f"{SHIFT_WEEKS} weeks from {first_monday}"
        )

    # -- planning (all random draws) ------------------------------------------------------

    def _plan_patients(self) -> list[Plan]:
        rng = self.rng
        given = list(GIVEN_NAMES)
        family = list(FAMILY_NAMES)
        rng.shuffle(given)
        rng.shuffle(family)
        stages = [stage for stage, size in STAGE_SIZES.items() for _ in range(size)]
        rng.shuffle(stages)
        plans = []
        for number, ((given_name, sex), family_name, stage) in enumerate(
            zip(given, family, stages, strict=True)
        ):
            age_days = rng.randint(22 * 366, 71 * 365)  # aged 22–70 today
            slug = "".join(
                c for c in f"{given_name}.{family_name}".lower() if c.isalnum() or c == "."
            )
            plans.append(
                Plan(
                    stage=stage,
                    given_name=given_name,
                    family_name=family_name,
                    sex=sex,
                    date_of_birth=self.today - dt.timedelta(days=age_days),
                    weight_kg=Decimal(f"{rng.uniform(50, 120):.1f}"),
                    phone=f"555-01{number:02d}",
                    email=f"{slug}@example.com",
                    address=demo_address(number),
                )
            )
        for stage, classes in STAGE_OUTCOMES.items():
            group = [p for p in plans if p.stage == stage]
            shuffled = list(classes)
            rng.shuffle(shuffled)
            for plan, outcome in zip(group, shuffled, strict=True):
                plan.outcome = outcome
        for plan in plans:
            self._plan_clinical(plan)
        maintenance = sorted(
            (p for p in plans if p.stage == MAINTENANCE), key=lambda p: p.series_day or self.today
        )
        for plan in maintenance[:BOOSTERS]:  # the longest since their series
            plan.booster = True
        # Item 9 above 0 at one timepoint for three patients: the first of each group.
        for stage, where in (
            (SCREENING, ITEM9_SCREENING_BASELINE),
            (INDUCTION, ITEM9_INDUCTION_FIRST),
            (RELAPSED, ITEM9_RELAPSE_LAST),
        ):
            group = [p for p in plans if p.stage == stage]
            # The earliest series (or baseline), so its first visit is certainly given.
            min(group, key=lambda p: p.series_day or p.baseline_day or self.today).item9 = where
        return plans

    def _plan_clinical(self, plan: Plan) -> None:
        rng, today = self.rng, self.today
        plan.profile = [rng.uniform(0.4, 1.6) for _ in range(PHQ9_ITEMS - 1)]
        plan.vial = Decimal("10") if rng.random() < 0.25 else Decimal("50")
        plan.baseline = rng.randint(15, 24)  # 8 items × 3 = 24 with item 9 at 0
        plan.end = self._end_score(plan.baseline, plan.outcome)
        # Series start (the `earliest` passed to book_series): weekdays, 08:00 local.
        # Mid-induction 1–9 days ago: 6 visits ≥ 48 h apart take ≥ 10 days, so some remain.
        # Post-induction 23+ days ago: the series (≤ 21 days) is over; relapsers 47+ days ago so
        # 3–5 weekly follow-ups fit after it.
        windows = {
            INDUCTION: (1, 9), REVIEW: (23, 27), MAINTENANCE: (28, 56), RELAPSED: (47, 56),
        }  # fmt: skip
        if plan.stage in windows:
            far, near = windows[plan.stage][1], windows[plan.stage][0]
            days = self._open_weekdays(
                today - dt.timedelta(days=far), today - dt.timedelta(days=near)
            )
            plan.series_day = rng.choice(days)
            plan.baseline_day = plan.series_day - dt.timedelta(days=rng.randint(3, 10))
            plan.relapse_week = rng.randint(3, 5)
        elif plan.stage == SCREENING:
            plan.baseline_day = today - dt.timedelta(days=rng.randint(1, 10))
        first_seen = plan.baseline_day or today - dt.timedelta(days=rng.randint(0, 14))
        plan.registered_on = first_seen - dt.timedelta(days=rng.randint(0, 3))

    def _end_score(self, baseline: int, outcome: str) -> int:
        """The end-of-induction PHQ-9 total for the outcome class (outcomes module's rules)."""
        rng = self.rng
        if outcome == REMIT:
            return rng.randint(1, 4)
        if outcome == RESPOND:
            return max(5, min(baseline // 2, round(baseline * (1 - rng.uniform(0.5, 0.7)))))
        drop = rng.uniform(0.25, 0.45) if outcome == PARTIAL else rng.uniform(0.05, 0.2)
        return max(baseline // 2 + 1, round(baseline * (1 - drop)))

    def _answers(self, plan: Plan, total: int, *, item9: int = 0) -> list[int]:
        """Nine item answers (0–3) summing to `total`, shaped by the patient's profile."""
        total = max(item9, min(total, (PHQ9_ITEMS - 1) * ITEM_MAX + item9))
        answers = [0] * PHQ9_ITEMS
        answers[-1] = item9
        for _ in range(total - item9):
            room = [i for i in range(PHQ9_ITEMS - 1) if answers[i] < ITEM_MAX]
            pick = self.rng.choices(room, weights=[plan.profile[i] for i in room])[0]
            answers[pick] += 1
        return answers

    def _noise(self, score: float, spread: int = 1) -> int:
        return max(0, min(24, round(score) + self.rng.randint(-spread, spread)))

    # -- loading (services only) ----------------------------------------------------------

    def _register(self, plan: Plan) -> Patient:
        """Register the patient with their contacts; a nurse records an allergy for one in
        five, "no known allergies" for two in five (the rest not asked yet)."""
        k = sum(map(ord, plan.given_name + plan.family_name))
        contact = f"{DEMO_CONTACT_GIVEN_NAMES[k % 6]} {plan.family_name}"
        patient = self._register_only(plan, contacts={
            "emergency_contact_name": contact, "emergency_contact_relation": DEMO_RELATIONS[k % 6],
            "emergency_contact_phone": f"555-02{k % 100:02d}", "escort_name": contact,
            "escort_phone": f"555-02{k % 100:02d}", "contact_channel": "sms" if k % 3 == 0 else "",
        })  # fmt: skip
        at = self._at(_planned(plan.registered_on), 10)
        if k % 5 == 0:
            substance, reaction, severity = DEMO_ALLERGIES[k % 3]
            services.record_allergy(
                patient=patient, substance=substance, reaction=reaction, severity=severity,
                by=self.nurses[0], now=at,
            )  # fmt: skip
        elif k % 5 in {1, 2}:
            services.record_no_known_allergies(patient=patient, by=self.nurses[0], now=at)
        if k % 4 == 0:
            name, dose = DEMO_MEDICATIONS[k % 3]
            services.add_medication(
                patient=patient, name=name, dose=dose, started_on=None, by=self.nurses[0], now=at
            )
        return patient

    def _register_only(self, plan: Plan, *, contacts: dict[str, str]) -> Patient:
        return services.register_patient(
            by=self.scheduler,
            site=self.site,
            given_name=plan.given_name,
            family_name=plan.family_name,
            date_of_birth=plan.date_of_birth,
            sex=plan.sex,
            phone=plan.phone,
            email=plan.email,
            address=plan.address,
            primary_condition=Condition.DEPRESSION,
            weight_kg=plan.weight_kg,
            height_cm=DEMO_HEIGHT_CM[Sex(plan.sex)],
            today=_planned(plan.registered_on),
            now=self._at(_planned(plan.registered_on), 9),
            contacts=contacts,
        )

    def _phq9(
        self,
        plan: Plan,
        patient: Patient,
        total: int,
        timepoint: Timepoint,
        completed_at: dt.datetime,
        *,
        item9: int = 0,
        appointment: Appointment | None = None,
    ) -> None:
        answers = self._answers(plan, total, item9=item9)
        items = {str(n): value for n, value in enumerate(answers, start=1)}
        nurse = self.rng.choice(self.nurses)
        if appointment is not None:
            assessment = infusion.record_visit_assessment(
                appointment=appointment, instrument="phq9", answers=items, timepoint=timepoint,
                by=nurse, completed_at=completed_at, now=completed_at,
            )  # fmt: skip
        else:
            assessment = services.record_assessment(
                patient=patient, instrument="phq9", answers=items, timepoint=timepoint, by=nurse,
                completed_at=completed_at, now=completed_at,
            )  # fmt: skip
        if timepoint in (Timepoint.BASELINE, Timepoint.FOLLOW_UP):
            self._gad7(patient, total, timepoint, completed_at)
        if plan.item9 == ITEM9_INDUCTION_FIRST and item9:
            services.acknowledge_alert(
                alert=assessment.alerts.get(kind="suicide_risk"),
                by=self.prescriber,
                note="Called the patient the same day: passive thoughts, no plan; safety plan "
                "reviewed.",
                now=completed_at + dt.timedelta(hours=2),
            )

    def _gad7(
        self, patient: Patient, phq9_total: int, timepoint: Timepoint, at: dt.datetime
    ) -> None:
        """A GAD-7 beside the PHQ-9, about 0.7 of it (anxiety tracks depression here)."""
        total = max(0, min(21, round(phq9_total * 0.7) + self.gad_rng.randint(-1, 1)))
        answers = [0] * 7
        for _ in range(total):
            pick = self.gad_rng.choice([i for i in range(7) if answers[i] < ITEM_MAX])
            answers[pick] += 1
        services.record_assessment(
            patient=patient,
            instrument="gad7",
            answers={str(n): value for n, value in enumerate(answers, start=1)},
            timepoint=timepoint,
            by=self.nurses[0],
            completed_at=at + dt.timedelta(minutes=5),
            now=at + dt.timedelta(minutes=5),
        )

    def _invite_next_patients(self) -> int:
        """Self-report links (PHQ-9 and GAD-7) for the next mid-induction visits: the worker
        would send these; here they wait in the outbox."""
        upcoming = (
            Appointment.objects.filter(
                status=AppointmentStatus.BOOKED, course__status=CourseStatus.INDUCTION
            )
            .filter(starts_at__gt=self.now)
            .order_by("starts_at")
            .select_related("patient")
        )
        invited: list[int] = []
        for appointment in upcoming:
            if appointment.patient_id in invited or not appointment.patient.email:
                continue
            portal_services.invite_patient(
                patient=appointment.patient,
                instrument_codes=["phq9", "gad7"],
                channel=Channel.EMAIL,
                timepoint=Timepoint.PRE_INFUSION,
                by=None,
                now=self.now,
            )
            invited.append(appointment.patient_id)
            if len(invited) == 3:
                break
        return len(invited)

    def _remind_and_answer(self) -> int:
        """The visit reminders the worker would send now (each with its link), and two patients
        who answered theirs: the first visit confirmed, the second asking to change."""
        reminded = reminders.send_due_reminders(now=self.now)
        bodies = OutboxMessage.objects.filter(body__contains="/v/").order_by("pk")
        tokens = [re.findall(r"/v/([^/\s]+)/", m.body)[0] for m in bodies.only("body")]
        for token, confirm in zip(tokens, (True, False), strict=False):
            replies.answer_visit(
                token=token,
                confirm=confirm,
                note="" if confirm else "Could we make it an afternoon? Mornings are hard.",
                now=self.now,
            )
        return reminded

    def _enrol_with_baseline(self, plan: Plan) -> tuple[Patient, Course]:
        patient = self._register(plan)
        course = services.enrol_patient(
            patient=patient,
            protocol_key=PROTOCOL.key,
            protocol_version=PROTOCOL.version,
            by=self.prescriber,
            now=self._at(_planned(plan.baseline_day), 10),
        )
        flagged = int(plan.item9 == ITEM9_SCREENING_BASELINE)
        self._phq9(
            plan,
            patient,
            plan.baseline,
            Timepoint.BASELINE,
            self._at(_planned(plan.baseline_day), 11, self.rng.choice((0, 15, 30, 45))),
            item9=flagged,
        )
        signed_at = self._at(_planned(plan.baseline_day), 12)
        services.record_consent(
            course=course, signed_on=signed_at.date(), document="Ketamine treatment consent v3",
            by=self.nurses[0], now=signed_at,
        )  # fmt: skip
        if plan.stage != SCREENING:  # screening patients still wait for the prescriber's screen
            protocol = protocol_for(course)
            items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
            services.sign_contraindication_screen(
                course=course, answers=dict.fromkeys(items, False), notes="",
                by=self.prescriber, now=signed_at,
            )  # fmt: skip
        return patient, course

    def _book_series(self, plan: Plan, course: Course) -> list[Appointment]:
        """book_series from the planned day; when nothing fits, try the next open weekday."""
        first = _planned(plan.series_day)
        candidates = self._open_weekdays(first, first + dt.timedelta(days=30))
        for day in candidates:
            try:
                return scheduling.book_series(
                    course=course, earliest=self._at(day, 8), by=self.scheduler,
                    now=min(self.now, self._at(first, 10) - dt.timedelta(days=3)),
                )  # fmt: skip
            except ClinicalValueError as error:
                self.stdout.write(f"    no series from {day} ({error}); trying the next day")
        raise CommandError(f"no induction series fits for {plan.given_name} {plan.family_name}")

    def _give_infusions(
        self, plan: Plan, patient: Patient, appointments: list[Appointment]
    ) -> list[Appointment]:
        """Pre-infusion PHQ-9 and the infusion day at the chair (sustain.clinic.story) for
        each visit under way by the demo clock, up to the clock: a patient who arrived but
        whose infusion has not started yet is checked in and ready. The visits given."""
        given = []
        for appointment in appointments:
            if appointment.starts_at + dt.timedelta(minutes=5) > self.now:
                break
            k = appointment.number
            expected = plan.baseline - (plan.baseline - plan.end) * DROP_BEFORE_INFUSION[k - 1]
            flagged = int(plan.item9 == ITEM9_INDUCTION_FIRST and k == 1)
            self._phq9(
                plan,
                patient,
                self._noise(expected),
                Timepoint.PRE_INFUSION,
                appointment.starts_at - dt.timedelta(minutes=15),
                item9=flagged,
                appointment=appointment,
            )
            infusion_at = appointment.starts_at + dt.timedelta(minutes=appointment.check_in_minutes)
            if infusion_at > self.now:
                story.check_in_and_ready(appointment, self.nurses[0], at=appointment.starts_at)
                break
            clearance = "Seen at the chair: passive thoughts, no plan; safe to proceed today."
            nurse = self.rng.choice(self.nurses)
            # The first STOPPED_EARLY second infusions are stopped at the patient's request at
            # 30 minutes: the pump's share is given and the rest wasted before the other nurse.
            stopped = k == 2 and self.stopped_early < STOPPED_EARLY
            self.stopped_early += stopped
            nauseous = k == 3 and self.adverse_events < ADVERSE_EVENTS
            self.adverse_events += nauseous
            witness = next(n for n in self.nurses if n != nurse)
            story.uneventful_infusion(
                appointment, nurse, self.prescriber, vial_mg_per_ml=plan.vial, until=self.now,
                clearance=clearance if flagged else "", stop_at_minute=30 if stopped else None,
                witness=(witness, DEMO_PASSWORD) if stopped else None,
                adverse_event=DEMO_NAUSEA if nauseous else None,
            )  # fmt: skip
            given.append(appointment)
        return given

    def _set_course_status(
        self, course: Course, status: CourseStatus, maintenance_from: dt.datetime
    ) -> None:
        """Review signed with the protocol's first maintenance plan (at the first follow-up),
        then relapsed for some, through the services."""
        services.sign_review(
            course=course,
            option=PROTOCOL.maintenance_options[0],
            summary={},
            notes="Responded; maintenance as planned.",
            by=self.prescriber,
            now=maintenance_from,
        )
        if status == CourseStatus.RELAPSED:
            services.change_course_status(
                course=course, status=status, by=self.prescriber, at=self.now
            )

    def _load_registered(self, plan: Plan) -> None:
        self._register(plan)

    def _load_screening(self, plan: Plan) -> None:
        self._enrol_with_baseline(plan)

    def _load_induction(self, plan: Plan) -> None:
        patient, course = self._enrol_with_baseline(plan)
        appointments = self._book_series(plan, course)
        given = self._give_infusions(plan, patient, appointments)
        if len(given) == len(appointments):
            raise CommandError(f"demo plan error: {patient} finished induction already")

    def _load_post_induction(self, plan: Plan) -> None:
        patient, course = self._enrol_with_baseline(plan)
        appointments = self._book_series(plan, course)
        given = self._give_infusions(plan, patient, appointments)
        if len(given) != PROTOCOL.induction_infusions:
            raise CommandError(f"demo plan error: {patient} has not finished induction")
        last = given[-1].starts_at.astimezone(self.tz).date()
        follow_ups = []
        week = 1
        while (at := self._at(last + dt.timedelta(weeks=week), 10)) <= self.now:
            follow_ups.append(at)
            week += 1
        relapse_week = min(plan.relapse_week, len(follow_ups))
        for week, at in enumerate(follow_ups, start=1):
            if week == 1:
                total = plan.end  # the end-of-induction score, exactly its outcome class
            elif plan.stage == RELAPSED and week >= relapse_week:
                # Lose more than half the gain: above end + (baseline − end) / 2.
                lost = min(1.0, 0.6 + 0.1 * (week - relapse_week) + self.rng.uniform(0, 0.1))
                total = min(24, plan.end + math.ceil((plan.baseline - plan.end) * lost))
                total = max(total, plan.end + (plan.baseline - plan.end) // 2 + 1)
            else:
                total = max(0, min(plan.end + self.rng.randint(-1, 2), 24))
                if plan.outcome == REMIT:
                    total = min(total, 4)
            flagged = int(plan.item9 == ITEM9_RELAPSE_LAST and week == len(follow_ups))
            self._phq9(plan, patient, total, Timepoint.FOLLOW_UP, at, item9=flagged)
        if plan.stage == MAINTENANCE:
            self._set_course_status(course, CourseStatus.MAINTENANCE, follow_ups[0])
            if plan.booster:
                self._book_booster(course)
        elif plan.stage == RELAPSED:
            self._set_course_status(course, CourseStatus.RELAPSED, follow_ups[0])

    def _load_todays_chairs(self) -> None:
        """Today's board at every stage of the chair-side record (TODAY_AT_THE_CHAIR): each
        patient starts their series today at the demo clock less the stage's lead, and the
        day is told through the real services (sustain.clinic.story) up to the clock. A stage
        whose visit cannot fit today's opening hours before the clock is left out, and said."""
        shown: list[str] = []
        hours = self.site.opening_hours.filter(weekday=self.today.weekday()).first()
        for given, family, sex, weight, lead_minutes, stage in TODAY_AT_THE_CHAIR:
            wanted = self.now - dt.timedelta(minutes=lead_minutes)
            wanted -= dt.timedelta(minutes=wanted.minute % 15, seconds=wanted.second,
                                   microseconds=wanted.microsecond)  # fmt: skip
            start, end = (
                wanted.astimezone(self.tz),
                (wanted + PROTOCOL.visit_length).astimezone(self.tz),
            )
            if hours is None or not (
                start.date() == end.date() == self.today
                and hours.opens <= start.time()
                and end.time() <= hours.closes
            ):
                continue
            try:
                with transaction.atomic():  # all of this patient, or nothing
                    course = self._ready_today(given, family, sex, Decimal(weight), booked=wanted)
                    visit = scheduling.book_series(
                        course=course, earliest=wanted, by=self.scheduler,
                        now=wanted - dt.timedelta(days=7),
                    )[0]  # fmt: skip
                    if visit.starts_at != wanted:
                        raise ClinicalValueError("start", "the chairs are taken at that time")
                    self._tell(visit, stage)
            except ClinicalValueError:
                continue
            shown.append(stage)
        self.stdout.write(
            f"  {'at the chair today':<22} {len(shown):>2} patients ({', '.join(shown)})"
            if shown
            else "  at the chair today      none: the clinic is not open at this hour"
        )

    def _ready_today(
        self, given: str, family: str, sex: Sex, weight: Decimal, *, booked: dt.datetime
    ) -> Course:
        """A patient registered, enrolled, with baseline scores, consent and a signed screen
        the week before `booked`."""
        week_before = booked - dt.timedelta(days=8)
        patient = services.register_patient(
            by=self.scheduler, site=self.site, given_name=given, family_name=family,
            date_of_birth=self.today - dt.timedelta(days=40 * 365), sex=sex, phone="555-0188",
            email=f"{given.lower()}.{family.lower()}@example.com",
            address=demo_address(sum(map(ord, given + family))),
            primary_condition=Condition.DEPRESSION, weight_kg=weight,
            height_cm=DEMO_HEIGHT_CM[sex], today=week_before.astimezone(self.tz).date(),
            now=week_before,
        )  # fmt: skip
        course = services.enrol_patient(
            patient=patient, protocol_key=PROTOCOL.key, protocol_version=PROTOCOL.version,
            by=self.prescriber, now=week_before,
        )  # fmt: skip
        for code, answers in (
            ("phq9", {str(n): 2 for n in range(1, 9)} | {"9": 0}),
            ("gad7", {str(n): 2 for n in range(1, 8)}),
        ):
            services.record_assessment(
                patient=patient, instrument=code, answers=answers, timepoint=Timepoint.BASELINE,
                by=self.nurses[0], completed_at=week_before, now=week_before,
            )  # fmt: skip
        self._consent_and_screen(course, PROTOCOL, week_before)
        return course

    def _tell(self, visit: Appointment, stage: str) -> None:
        """The visit's day at the chair up to `stage`, never past the demo clock."""
        nurse, start = self.nurses[0], visit.starts_at
        infusion_start = start + dt.timedelta(minutes=visit.check_in_minutes)
        infusion_end = infusion_start + dt.timedelta(minutes=visit.infusion_minutes)
        if stage == "checked in":
            record = chairside.check_in(appointment=visit, by=nurse, now=start)
            chairside.answer_checks(
                record=record, answers={"identity_confirmed": True, "escort_present": True},
                by=nurse, now=min(self.now, start + dt.timedelta(minutes=2)),
            )  # fmt: skip
            return
        cut = {
            "signed": self.now,
            "discharged": infusion_end + dt.timedelta(minutes=62),
            "recovering": infusion_end + dt.timedelta(minutes=20),
            "stopped": infusion_start + dt.timedelta(minutes=16),
            "infusing": infusion_start + dt.timedelta(minutes=16),
        }[stage]
        # Today's signed visit was stopped at the patient's request: the nurse records what the
        # pump delivered and wastes the rest with a second nurse as witness.
        story.uneventful_infusion(
            visit, nurse, self.prescriber, until=min(self.now, cut),
            stop_at_minute=30 if stage == "signed" else None,
            witness=(self.nurses[1], DEMO_PASSWORD),
        )  # fmt: skip
        stop_at = infusion_start + dt.timedelta(minutes=25)
        if stage == "stopped" and stop_at <= self.now:
            chairside.record_vitals(
                record=visit.chairside, vitals=story.HYPERTENSIVE, by=nurse, now=stop_at
            )

    def _load_pain_patient(self) -> None:
        """One CRPS patient ready and waiting for their series: 10 weekday visits of 5 h 20 min
        that only the extended chair takes (the scheduler books them in the tour)."""
        crps = get_protocol("crps-schwartzman-2009", 1)
        patient = services.register_patient(
            by=self.scheduler, site=self.site, given_name="Marisol", family_name="Ventura",
            date_of_birth=self.today - dt.timedelta(days=round(47.5 * 365.25)), sex=Sex.FEMALE,
            phone="555-0199", email="marisol.ventura@example.com", address=demo_address(99),
            primary_condition=Condition.CHRONIC_PAIN, weight_kg=Decimal("68.0"),
            height_cm=DEMO_HEIGHT_CM[Sex.FEMALE], today=self.today - dt.timedelta(days=5),
            now=self._at(self.today - dt.timedelta(days=5), 9),
        )  # fmt: skip
        course = services.enrol_patient(
            patient=patient, protocol_key=crps.key, protocol_version=crps.version,
            by=self.prescriber, now=self._at(self.today - dt.timedelta(days=1), 9),
        )  # fmt: skip
        measured_at = self._at(self.today - dt.timedelta(days=1), 10)
        for code in crps.baseline_measures:  # pain about 7 of 10 on every item
            questions = instruments.get_instrument(code).items
            services.record_assessment(
                patient=patient, instrument=code, answers={item.key: 7 for item in questions},
                timepoint=Timepoint.BASELINE, by=self.nurses[0], completed_at=measured_at,
                now=measured_at,
            )  # fmt: skip
        self._consent_and_screen(course, crps, measured_at)
        self.stdout.write("  waiting for a series     1 CRPS patient (extended chair only)")

    def _consent_and_screen(self, course: Course, protocol: Protocol, at: dt.datetime) -> None:
        """Consent signed and the protocol's contraindication screen signed (all absent)."""
        services.record_consent(
            course=course, signed_on=at.astimezone(self.tz).date(),
            document="Ketamine treatment consent v3", by=self.nurses[0], now=at,
        )  # fmt: skip
        items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
        services.sign_contraindication_screen(
            course=course, answers=dict.fromkeys(items, False), notes="", by=self.prescriber,
            now=at,
        )  # fmt: skip

    def _book_booster(self, course: Course) -> None:
        """One booster visit in the coming 2 weeks, in the first free chair and time."""
        chairs = list(Chair.objects.filter(site=self.site).order_by("pk"))
        start_day = self.today + dt.timedelta(days=self.rng.randint(1, 10))
        for day in self._open_weekdays(start_day, self.today + dt.timedelta(days=14)):
            for minutes in range(8 * 60, 16 * 60 + 1, 30):
                starts_at = self._at(day, minutes // 60, minutes % 60)
                for chair in chairs:
                    try:
                        scheduling.book_visit(
                            course=course, chair=chair, starts_at=starts_at, by=self.scheduler,
                            now=self.now,
                        )  # fmt: skip
                    except ClinicalValueError:
                        continue
                    return
        raise CommandError("no booster visit fits in the coming 2 weeks")

    # -- report ---------------------------------------------------------------------------

    # -- the ledger's end-of-day counts (issue 12, items 4 and 9) -------------------------

    def _receive_count_stock(self) -> None:
        """A small stock for the counts when the demo has received none: two 500 mg vials two
        weeks back, with the site's registration, a supplier and the safe. Harmless once the
        demo receives its own stock (then this never runs)."""
        admin = self.staff["alex.admin"]
        SiteRegistration.objects.get_or_create(site=self.site, defaults={"dea_number": "FR9876543"})
        supplier, _ = Supplier.objects.get_or_create(
            dea_number="PD0000019",
            defaults={"name": "Demo Pharmaceutical Supply", "address": "1 Depot Way, Albany NY"},
        )
        product, _ = Product.objects.get_or_create(
            ndc="00000-0001-01",
            defaults={"strength_mg_per_ml": 50, "container_volume_ml": Decimal("10")},
        )
        safe, _ = Location.objects.get_or_create(site=self.site, name="Safe")
        day = self.today - dt.timedelta(days=14)
        ledger_services.receive_stock(
            location=safe, supplier=supplier, invoice_number="DEMO-0001", product=product,
            lot_number="DEMO-K1", expires_on=self.today + dt.timedelta(days=365), containers=2,
            received_on=day, by=admin, now=self._at(day, 8, 30),
        )  # fmt: skip

    def _load_counts(self) -> None:
        """The initial inventory on the day stock first arrived, then each open day's count of
        every location at 17:45 (two nurses: one counts, the other confirms), matching the
        ledger, except yesterday's count of one container, 5 mg short: the one open
        discrepancy to resolve. Works on whatever containers the demo holds."""
        if not Container.objects.filter(location__site=self.site).exists():
            self._receive_count_stock()
        first = LedgerEntry.objects.filter(site=self.site).order_by("occurred_on").first()
        if first is None:
            return
        admin = self.staff["alex.admin"]
        if not Inventory.objects.filter(site=self.site).exists():
            ledger_counts.record_inventory(
                site=self.site, kind=InventoryKind.INITIAL, taken_on=first.occurred_on,
                time_of_day=BusinessTime.OPENING, taken_by=admin, amounts=[], by=admin,
                now=self._at(first.occurred_on, 8),
            )  # fmt: skip
        days = self._open_weekdays(
            max(first.occurred_on, self.today - dt.timedelta(days=14)),
            self.today - dt.timedelta(days=1),
        )
        counter, confirmer = self.nurses
        locations = list(self.site.storage_locations.order_by("name"))
        short = False
        for day in days:
            at = self._at(day, 17, 45)
            for location in locations:
                held = ledger_counts.holdings([location], at)
                amounts = [ledger_counts.Amount(h.container.pk, h.held_mg, "mg") for h in held]
                if day == days[-1] and not short and held and held[-1].held_mg >= 5:
                    last = amounts[-1]
                    amounts[-1] = ledger_counts.Amount(last.container_id, last.amount - 5, "mg")
                    short = True
                ledger_counts.submit_count(
                    location=location, amounts=amounts, confirmed_by=confirmer,
                    confirmed_password=DEMO_PASSWORD, by=counter, now=at,
                )  # fmt: skip
            counter, confirmer = confirmer, counter
        self.stdout.write(
            f"  {'ledger counts':<22} {len(days) * len(locations)} end-of-day counts, "
            f"{'one open discrepancy' if short else 'no discrepancy'} (sign in as alex.admin)"
        )

    def _load_history(self, patients: int, seed: int) -> None:
        """The clinic's year of history (sustain.clinic.history), written in bulk."""
        started = time.perf_counter()
        names = [(given, family, str(sex)) for family in FAMILY_NAMES for given, sex in GIVEN_NAMES]
        random.Random(seed + 2).shuffle(names)  # noqa: S311 - synthetic data
        try:
            self.history = history.HistoryLoader(
                site=self.site,
                staff=history.HistoryStaff(
                    prescriber=self.prescriber, nurses=self.nurses, scheduler=self.scheduler
                ),
                protocol=PROTOCOL, today=self.today, now=self.now, seed=seed + 3, names=names,
                address=demo_address, height_cm=lambda sex: DEMO_HEIGHT_CM[Sex(sex)],
            ).load(patients)  # fmt: skip
        except history.NoRoom as error:
            raise CommandError(f"sustain demo: {error}; ask for fewer --history patients") from None
        h = self.history
        self.stdout.write(
            f"  {'history':<22} {h.patients} patients, {h.infusions} infusions "
            f"({h.boosters} boosters), {h.no_shows} no-shows, {h.adverse_events} adverse "
            f"events ({time.perf_counter() - started:.1f} s)"
        )

    def _history_summary(self, h: history.HistorySummary) -> None:
        """The history's line: its patients and courses, and its end-of-induction response
        and remission counted from the database as the line above counts the others."""
        finished, responders, remitters = history.history_outcomes(h.patient_ids)
        statuses = ", ".join(
            f"{CourseStatus(s).label.lower()} {n}" for s, n in sorted(h.statuses.items())
        )
        self.stdout.write(
            f"History (a year before): {h.patients} patients, {h.courses} courses ({statuses}); "
            f"end of induction (n={finished}): response {responders} "
            f"({100 * responders / max(finished, 1):.0f} %), remission {remitters} "
            f"({100 * remitters / max(finished, 1):.0f} %); {h.futility_stops} stopped at the "
            f"futility review, {h.relapses} relapses"
        )

    def _summary(self) -> None:
        past = self.history.patient_ids if self.history else []
        courses = Course.objects.exclude(patient_id__in=past)
        statuses = Counter(courses.values_list("status", flat=True))
        patients = Patient.objects.exclude(pk__in=past)
        no_course = patients.filter(courses__isnull=True).count()
        counts = ", ".join(
            f"{CourseStatus(s).label.lower()} {n}" for s, n in sorted(statuses.items())
        )
        self.stdout.write(f"Patients: {patients.count()} ({counts}, no course {no_course})")
        finished = courses.filter(
            status__in=(CourseStatus.REVIEW, CourseStatus.MAINTENANCE, CourseStatus.RELAPSED)
        )
        results: Counter[outcomes.Outcome] = Counter()
        for course in finished.select_related("patient__site"):
            protocol = protocol_for(course)  # its own response and partial-response rules
            scores = list(
                course.assessments.filter(
                    instrument=protocol.instrument,
                    timepoint__in=(Timepoint.BASELINE, Timepoint.FOLLOW_UP),
                ).values_list("total_score", flat=True)[:2]
            )
            # A protocol's outcome instrument always has rules (protocol validation).
            rules = cast(outcomes.OutcomeRules, protocol.outcome_rules(protocol.instrument))
            results[
                outcomes.classify(rules, baseline_score=scores[0], current_score=scores[1])
            ] += 1
        n = sum(results.values())
        responders = results[outcomes.Outcome.RESPONSE] + results[outcomes.Outcome.REMISSION]
        partial = results[outcomes.Outcome.PARTIAL_RESPONSE]
        self.stdout.write(
            f"End of induction (n={n}): response {responders} ({100 * responders / n:.0f} %), "
            f"remission {results[outcomes.Outcome.REMISSION]} "
            f"({100 * results[outcomes.Outcome.REMISSION] / n:.0f} %), "
            f"partial response {partial} ({100 * partial / n:.0f} %)"
        )
        if self.history is not None:
            self._history_summary(self.history)
        upcoming = Appointment.objects.filter(
            status=AppointmentStatus.BOOKED, starts_at__gte=self.now
        ).count()
        open_alerts = Alert.objects.filter(
            status=AlertStatus.OPEN, kind__in=(AlertKind.SUICIDE_RISK, AlertKind.CSSRS_RISK)
        ).count()
        self.stdout.write(
            f"Upcoming booked visits: {upcoming}; open suicide-risk alerts: {open_alerts}"
        )
        self.stdout.write("")
        self.stdout.write("Demo accounts (this demo database only):")
        self.stdout.write(f"  {'username':<15} {'name':<12} {'role':<31} email")
        for username, first, last, role in STAFF:
            user = self.staff[username]
            label = (
                f"{role.label}, medical director" if username == MEDICAL_DIRECTOR else role.label
            )
            self.stdout.write(f"  {username:<15} {first + ' ' + last:<12} {label:<31} {user.email}")
        self.stdout.write(f"  password for all: {DEMO_PASSWORD}")
