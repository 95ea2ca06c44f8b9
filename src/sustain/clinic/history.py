"""The demo clinic's year of history (issue 17, item 6): about 300 depression courses whose
induction series all lie in the year before the demo's current patients, written in bulk.

The rows are the ones the services leave for a closed record, written with ``bulk_create``
so the year loads in seconds (the chair-side services take ~0.3 s an infusion):

- patients with MRNs from the site's sequence, a weight at registration and at each infusion
  day the clinic's weight rule needs, consent and a signed contraindication screen;
- courses with their timeline (screening → ready → induction → review → maintenance, then
  relapsed, completed or discontinued), the prescriber's review with its plan, the futility
  review at infusion 3 (closed with its decision) and the worsening alerts a score raised
  (closed): the rules are the core's own (protocols.futility_review, outcomes.worsenings);
- visits (completed, a few boosters missed: no-show; the rest of a series stopped at the
  futility review cancelled) in chairs within opening hours, never overlapping each other or
  the demo's own visits, 48 h apart or more;
- assessments with item answers scored by sustain_core.instruments;
- the dose given at each infusion (sustain_core.session_dose, on the clinic's dosing weight)
  and the adverse events recorded at it.

The infusions were given before the clinic's controlled-substance ledger started: they carry
no ledger draw (InfusionRecord.draw is null, as for every infusion recorded before the ledger;
"carried over from the clinic's previous system") and no chair-side record. The ledger's
chain, balances and counts are therefore untouched, and `sustain verify-ledger` and the
nightly reconciliation stay green; the outcomes (doses, adverse events per 100 infusions,
no-shows, chair use) are all there.

Bulk rows bypass the per-row audit; one audit event per site says the history was loaded
and how many patients, so the trail stays whole (`sustain verify-audit`).

Outcomes drawn (synthetic; the figures are targets, not data): end-of-induction response
about 62 % and remission about 35 % on PHQ-9, between [McInnes2022] (53.6 % / 28.9 %) and
[Murrough2013] (70.8 % response); some courses stopped at the futility review; responders
lose their response a median of about 21 days after their last infusion [Murrough2013]
(18 days) [Shiroma2014] (16 days), boosters every 4 weeks delaying it; relapse is confirmed by
the core's rule (a loss of response confirmed ≥ 7 days later: outcomes.assess_trajectory) on
weekly, then fortnightly, follow-ups. Adverse events: a few per 100 infusions, mild or
moderate ([Rodrigues2020]: nausea 13.3 % of patients over a series).
"""

import bisect
import datetime as dt
import math
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import holidays
from django.db import connection, transaction
from django.db.models import Field, Max, Model

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site, User
from sustain.care.enums import (
    AlertKind,
    AlertStatus,
    Condition,
    CourseStatus,
    ReviewDecision,
    Timepoint,
)
from sustain.care.models import (
    Alert,
    Assessment,
    AssessmentAnswer,
    ClinicRules,
    Consent,
    ContraindicationScreen,
    Course,
    CourseReview,
    CourseTransition,
    MrnSequence,
    Patient,
    WeightMeasurement,
)
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity
from sustain.infusion.models import AdverseEvent, InfusionRecord, VisitAssessment
from sustain.scheduling.enums import OCCUPYING, AppointmentStatus, CancellationReason
from sustain.scheduling.models import Appointment, Chair
from sustain_core import dosing, instruments, outcomes, protocols, session_dose
from sustain_core.maintenance import MaintenanceKind
from sustain_core.protocols import Protocol

DEFAULT_PATIENTS = 300
# Series starts from this many days before the demo's today back a year: the demo's own
# post-induction patients started theirs 28–56 days ago.
NEAREST_DAYS, FARTHEST_DAYS = 63, 63 + 365
# End-of-induction classes among those who finish induction (targets, see the docstring).
REMIT, RESPOND, PARTIAL, NONE = "remission", "response", "partial", "none"
CLASS_WEIGHTS = ((REMIT, 0.3), (RESPOND, 0.27), (PARTIAL, 0.23), (NONE, 0.2))
FUTILITY_STOP = 0.5  # of the non-responders whose futility review fired: stopped there
# Fraction of the baseline-to-end drop reached before infusion k (as the demo's own patients).
DROP_BEFORE_INFUSION = (0.0, 0.35, 0.55, 0.7, 0.82, 0.9)
# Days from a responder's last infusion until the response wears off: log-normal with this
# median (near [Murrough2013]'s 18 and [Shiroma2014]'s 16 days to relapse, which count to the
# confirming visit) and spread; each infusion's own effect varies around the patient's.
DURABILITY_MEDIAN_DAYS, DURABILITY_SIGMA, DURABILITY_PER_INFUSION_SIGMA = 16.0, 0.55, 0.25
# The plan's first booster 3 days after the review (10 days after the series), then every
# 4 weeks; repeated boosters hold the response longer (a synthetic assumption, no source gives
# a figure: [Phillips2019] only reports that maintenance infusions held the gains).
FIRST_BOOSTER_AFTER_REVIEW_DAYS, BOOSTER_DURABILITY_FACTOR = 3, 1.6
BOOSTER_SHARE = 0.55  # of responders: a booster every 4 weeks; the rest: on confirmed loss
BOOSTER_NO_SHOW = 0.07  # a booster visit missed (rebooked a week later)
LOST_TO_FOLLOW_UP = 0.12  # of responders: stop coming at some point (course discontinued)
GAD7_FOLLOW_UP = 0.4  # patients whose follow-ups include a GAD-7
WEEKLY_FOLLOW_UP_WEEKS = 8  # then fortnightly
# Adverse events per infusion, mild or moderate (a few per 100 infusions; clinical-facts §5e).
ADVERSE_EVENT_RATES = (
    (AdverseEventKind.NAUSEA, 0.025, "Nausea in recovery, no vomiting", "Observed; settled"),
    (AdverseEventKind.DIZZINESS, 0.015, "Dizzy on standing", "Rested in the chair 20 minutes"),
    (AdverseEventKind.HEADACHE, 0.01, "Mild headache after the infusion", "Paracetamol 1 g"),
    (AdverseEventKind.ANXIETY, 0.008, "Anxious during the infusion", "Reassured; eased"),
    (AdverseEventKind.HYPERTENSION, 0.007, "Blood pressure rose during the infusion",
     "Rate held; settled in recovery"),
)  # fmt: skip
SLOT_MINUTES = 15
HISTORY_AUDIT_REASON = "demo history loaded: {n} patients"  # ≤ 40 characters


@dataclass
class HistoryStaff:
    prescriber: User
    nurses: Sequence[User]
    scheduler: User


@dataclass
class HistorySummary:
    """What was loaded, for the demo's printed summary."""

    patients: int = 0
    courses: int = 0
    finished_induction: int = 0
    responders: int = 0
    remitters: int = 0
    futility_stops: int = 0
    relapses: int = 0
    infusions: int = 0
    boosters: int = 0
    no_shows: int = 0
    adverse_events: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    patient_ids: list[int] = field(default_factory=list)


class NoRoom(Exception):
    """The year has no room left in the chairs for another history series."""


class _Chairs:
    """The site's chairs' occupied intervals (the demo's own visits first), to place each
    history visit in the first free chair without an overlap (half-open, as booking). Kept as
    POSIX seconds: comparing aware datetimes in another zone is slow."""

    def __init__(self, site: Site) -> None:
        self.chairs = list(Chair.objects.filter(site=site).order_by("pk"))
        self.busy: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for chair_id, start, end in Appointment.objects.filter(
            site=site, status__in=OCCUPYING
        ).values_list("chair_id", "starts_at", "ends_at"):
            bisect.insort(self.busy[chair_id], (start.timestamp(), end.timestamp()))

    def take(self, start: dt.datetime, end: dt.datetime) -> Chair | None:
        span = (start.timestamp(), end.timestamp())
        for chair in self.chairs:
            spans = self.busy[chair.pk]
            i = bisect.bisect_left(spans, span)
            if i > 0 and spans[i - 1][1] > span[0]:
                continue
            if i < len(spans) and spans[i][0] < span[1]:
                continue
            spans.insert(i, span)
            return chair
        return None


class HistoryLoader:
    """Loads historical courses at a site (see the module's docstring): `names` are (given
    name, family name, sex) triples, taken in turn; deterministic with `seed`."""

    def __init__(
        self,
        *,
        site: Site,
        staff: HistoryStaff,
        protocol: Protocol,
        today: dt.date,
        now: dt.datetime,
        seed: int,
        names: Sequence[tuple[str, str, str]],
        address: Callable[[int], str],
        height_cm: Callable[[str], Decimal],
    ) -> None:
        self.site, self.staff, self.protocol = site, staff, protocol
        self.today, self.now, self.tz = today, now, site.tz
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
        self.names, self.address, self.height_cm = names, address, height_cm
        self.rules_row = ClinicRules.objects.filter(site=site).order_by("-version").first()
        if self.rules_row is None:
            raise ValueError("the site has no clinic rules")
        self.rules = self.rules_row.as_rules()
        self.closed = set(site.closures.values_list("date", flat=True))
        years = range(today.year - 2, today.year + 1)
        self.holidays = set(
            holidays.country_holidays(
                site.holiday_country or "US", subdiv=site.holiday_subdivision or None, years=years
            )
        )
        self.hours = {h.weekday: (h.opens, h.closes) for h in site.opening_hours.all()}
        self.chairs = _Chairs(site)
        self.phq9 = instruments.get_instrument("phq9")
        self.gad7 = instruments.get_instrument("gad7")
        self.outcome_rules = cast(outcomes.OutcomeRules, protocol.outcome_rules("phq9"))
        self.summary = HistorySummary()
        # Rows to write, in dependency order.
        self.patients: list[Patient] = []
        self.rows: dict[str, list[Model]] = defaultdict(list)

    @transaction.atomic
    def load(self, patients: int = DEFAULT_PATIENTS) -> HistorySummary:
        """Write `patients` historical courses, their first infusions spread over the year, in
        one transaction."""
        first = self.today - dt.timedelta(days=FARTHEST_DAYS)
        spread = FARTHEST_DAYS - NEAREST_DAYS
        days = sorted(
            self.next_open(first + dt.timedelta(days=self.rng.randint(0, spread)))
            for _ in range(patients)
        )
        for number, day in enumerate(days):
            self.patient(number, day)
        self.worsening_alerts()
        self.write()
        return self.summary

    # -- time -------------------------------------------------------------------------

    def at(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=self.tz)

    def open_day(self, day: dt.date) -> bool:
        return (
            day.weekday() < 5
            and day.weekday() in self.hours
            and day not in self.closed
            and day not in self.holidays
        )

    def next_open(self, day: dt.date) -> dt.date:
        while not self.open_day(day):
            day += dt.timedelta(days=1)
        return day

    def place(
        self, day: dt.date, *, not_before: dt.datetime, latest_day: dt.date
    ) -> tuple[Chair, dt.datetime] | None:
        """The first free chair and start on `day` or the next open days (up to
        `latest_day`), from a preferred time of day, starting at `not_before` or later."""
        length = self.protocol.visit_length
        preferred = self.rng.randrange(0, 8 * 60 + 1, 30)  # minutes after opening
        while day <= latest_day:
            if self.open_day(day):
                opens, closes = self.hours[day.weekday()]
                first = dt.datetime.combine(day, opens, tzinfo=self.tz)
                last = dt.datetime.combine(day, closes, tzinfo=self.tz) - length
                span = int((last - first).total_seconds() // 60)
                offsets = list(range(0, span + 1, SLOT_MINUTES))
                start_at = min(preferred - preferred % SLOT_MINUTES, offsets[-1])
                order = [m for m in offsets if m >= start_at] + [m for m in offsets if m < start_at]
                for minutes in order:
                    start = first + dt.timedelta(minutes=minutes)
                    if start < not_before:
                        continue
                    chair = self.chairs.take(start, start + length)
                    if chair is not None:
                        return chair, start
            day += dt.timedelta(days=1)
        return None

    # -- scores -----------------------------------------------------------------------

    def answers(self, code: str, total: int, profile: Sequence[float]) -> dict[str, int]:
        """Item answers (0–3) summing to `total`; PHQ-9 item 9 stays 0 in the history."""
        items = 8 if code == "phq9" else 7
        total = max(0, min(total, items * 3))
        values = [0] * items
        for _ in range(total):
            room = [i for i in range(items) if values[i] < 3]
            values[self.rng.choices(room, weights=[profile[i] for i in room])[0]] += 1
        if code == "phq9":
            values.append(0)
        return {str(n): v for n, v in enumerate(values, start=1)}

    def assessment(
        self,
        course: Course,
        code: str,
        total: int,
        *,
        timepoint: Timepoint,
        at: dt.datetime,
        profile: Sequence[float],
        visit: Appointment | None = None,
    ) -> Assessment:
        patient = course.patient
        answers = self.answers(code, total, profile)
        score = instruments.score(
            code, answers,
            qids_suicide_threshold=self.rules.qids_suicide_threshold,
            madrs_suicide_threshold=self.rules.madrs_suicide_threshold,
            fiqr_min_answered_per_domain=self.rules.fiqr_min_answered_per_domain,
            ymrs_alert_threshold=self.rules.ymrs_alert_threshold,
        )  # fmt: skip
        row = Assessment(
            patient=patient, course=course, instrument=code, timepoint=timepoint,
            completed_at=at, recorded_by=self.rng.choice(self.staff.nurses),
            total_score=Decimal(score.total),
            subscales={k: str(v) for k, v in score.subscales.items()},
            severity=score.severity or "", flags=list(score.flags),
        )  # fmt: skip
        row._answers = answers  # type: ignore[attr-defined]
        row._visit = visit  # type: ignore[attr-defined]
        self.rows["assessments"].append(row)
        return row

    # -- one patient --------------------------------------------------------------------

    def plan_class(self) -> str:
        r, total = self.rng.random(), 0.0
        for name, weight in CLASS_WEIGHTS:
            total += weight
            if r < total:
                return name
        return NONE

    def end_score(self, baseline: int, outcome: str) -> int:
        """The end-of-induction PHQ-9 for the class (the protocol's rules: remission < 5,
        response a fall ≥ 50 %, partial ≥ 25 %), as the demo's own patients."""
        rng = self.rng
        if outcome == REMIT:
            return rng.randint(1, 4)
        if outcome == RESPOND:
            return max(5, min(baseline // 2, round(baseline * (1 - rng.uniform(0.5, 0.7)))))
        drop = rng.uniform(0.26, 0.45) if outcome == PARTIAL else rng.uniform(0.0, 0.2)
        return min(baseline, max(baseline // 2 + 1, round(baseline * (1 - drop))))

    def transition(
        self, course: Course, move: tuple[str, str], at: dt.datetime, by: User, reason: str = ""
    ) -> None:
        frm, to = move
        self.rows["transitions"].append(
            CourseTransition(
                course=course, from_status=frm, to_status=to, at=at, by=by, reason=reason
            )
        )

    def patient(self, number: int, series_day: dt.date) -> None:  # noqa: PLR0912, PLR0915
        rng, protocol, staff = self.rng, self.protocol, self.staff
        given, family, sex = self.names[number % len(self.names)]
        baseline_day = series_day - dt.timedelta(days=rng.randint(3, 10))
        while baseline_day.weekday() > 4:
            baseline_day -= dt.timedelta(days=1)
        registered_on = baseline_day - dt.timedelta(days=rng.randint(0, 3))
        registered_at = self.at(registered_on, 9)
        weight = Decimal(f"{rng.uniform(50, 120):.1f}")
        height = self.height_cm(sex)
        slug = "".join(c for c in f"{given}.{family}".lower() if c.isalnum() or c == ".")
        patient = Patient(
            site=self.site, given_name=given, family_name=family,
            date_of_birth=self.today - dt.timedelta(days=rng.randint(22 * 366, 70 * 365)),
            sex=sex, phone=f"555-01{number % 100:02d}", email=f"{slug}.{number}@example.com",
            address=self.address(100 + number), primary_condition=Condition.DEPRESSION,
            height_cm=height, created_at=registered_at, created_by=staff.scheduler, mrn="",
            escort_name=f"{rng.choice(('Alex', 'Jordan', 'Morgan', 'Casey'))} {family}",
            escort_phone=f"555-02{number % 100:02d}",
        )  # fmt: skip
        self.patients.append(patient)
        weights = [(registered_on, weight)]
        self.rows["weights"].append(
            WeightMeasurement(
                patient=patient,
                weight_kg=weight,
                measured_on=registered_on,
                recorded_at=registered_at,
                recorded_by=staff.scheduler,
            )
        )
        enrolled_at = self.at(baseline_day, 10)
        course = Course(
            patient=patient, protocol_key=protocol.key, protocol_version=protocol.version,
            status=CourseStatus.SCREENING, prescriber=staff.prescriber, enrolled_at=enrolled_at,
            enrolled_by=staff.prescriber,
        )  # fmt: skip
        self.rows["courses"].append(course)
        self.summary.courses += 1
        profile = [rng.uniform(0.4, 1.6) for _ in range(8)]
        gad_profile = [rng.uniform(0.6, 1.4) for _ in range(7)]
        gad_follow_up = rng.random() < GAD7_FOLLOW_UP
        outcome = self.plan_class()
        baseline = rng.randint(15, 24)
        end = self.end_score(baseline, outcome)
        vial = Decimal("10") if rng.random() < 0.25 else Decimal("50")

        def gad(total_phq9: int, timepoint: Timepoint, at: dt.datetime) -> None:
            total = max(0, min(21, round(total_phq9 * 0.7) + rng.randint(-1, 1)))
            self.assessment(
                course, "gad7", total, timepoint=timepoint, at=at + dt.timedelta(minutes=5),
                profile=gad_profile,
            )  # fmt: skip

        measured = self.at(baseline_day, 11, rng.choice((0, 15, 30, 45)))
        self.assessment(
            course, "phq9", baseline, timepoint=Timepoint.BASELINE, at=measured, profile=profile
        )
        gad(baseline, Timepoint.BASELINE, measured)
        signed_at = self.at(baseline_day, 12)
        self.rows["consents"].append(
            Consent(
                course=course,
                signed_on=baseline_day,
                document="Ketamine treatment consent v3",
                recorded_by=staff.nurses[0],
                recorded_at=signed_at,
            )
        )
        items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
        self.rows["screens"].append(
            ContraindicationScreen(
                course=course,
                answers=dict.fromkeys(items, False),
                absolute_present=False,
                relative_present=False,
                signed_by=staff.prescriber,
                signed_at=signed_at,
            )
        )

        # The series: six visits 48 h apart or more within 21 days, booked 3 days before.
        booked_at = self.at(series_day, 10) - dt.timedelta(days=3)
        visits: list[Appointment] = []
        day, not_before = series_day, self.at(series_day, 0)
        for number_in_series in range(1, protocol.induction_infusions + 1):
            placed = self.place(
                day, not_before=not_before, latest_day=series_day + dt.timedelta(days=20)
            )
            if placed is None:
                break
            chair, start = placed
            visits.append(
                self.visit(course, chair, start, number=number_in_series, booked_at=booked_at)
            )
            not_before = start.astimezone(dt.UTC) + protocol.min_gap  # elapsed, not wall
            day = not_before.astimezone(self.tz).date()
        if len(visits) < protocol.induction_infusions:
            raise NoRoom(f"no room in the chairs for a history series from {series_day}")

        infusion_times: list[dt.datetime] = []
        scores: list[int] = []
        futility_stop = False
        for k, visit in enumerate(visits, start=1):
            expected = baseline - (baseline - end) * DROP_BEFORE_INFUSION[k - 1]
            total = baseline if k == 1 else round(expected) + rng.randint(-1, 1)
            total = max(end, min(total, scores[-1] if scores else baseline))
            pre_at = visit.starts_at - dt.timedelta(minutes=15)
            self.assessment(
                course, "phq9", total, timepoint=Timepoint.PRE_INFUSION, at=pre_at,
                profile=profile, visit=visit,
            )  # fmt: skip
            scores.append(total)
            if k == (protocol.futility_after or 0) + 1:
                detail = protocols.futility_review(
                    protocol, infusions_given=k - 1, baseline_score=scores[0], latest_score=total
                )
                if detail is not None:
                    futility_stop = outcome == NONE and rng.random() < FUTILITY_STOP
                    self.review_task(course, patient, detail, pre_at, stop=futility_stop)
                if futility_stop:
                    for rest in visits[k - 1 :]:
                        rest.status = AppointmentStatus.CANCELLED
                        rest.cancel_reason = CancellationReason.OTHER
                        rest.cancel_note = "Stopped at the futility review"
                        rest.cancelled_at = pre_at + dt.timedelta(hours=1)
                        rest.cancelled_by = staff.prescriber
                    course.status = CourseStatus.DISCONTINUED
                    course.ended_reason = "No response after 3 infusions (futility review)"
                    self.transition(
                        course,
                        (CourseStatus.INDUCTION, CourseStatus.DISCONTINUED),
                        pre_at + dt.timedelta(hours=1),
                        staff.prescriber,
                        course.ended_reason,
                    )
                    self.summary.futility_stops += 1
                    break
            given_at = self.infuse(patient, course, visit, weights, vial)
            infusion_times.append(given_at)
            if k == 1:
                nurse = visit._nurse  # type: ignore[attr-defined]
                self.transition(
                    course, (CourseStatus.SCREENING, CourseStatus.READY), given_at, nurse
                )
                self.transition(
                    course, (CourseStatus.READY, CourseStatus.INDUCTION), given_at, nurse
                )
            if k == protocol.futility_after:
                course.futility_checkpoint_at = given_at
            if k == protocol.induction_infusions:
                self.transition(
                    course,
                    (CourseStatus.INDUCTION, CourseStatus.REVIEW),
                    given_at,
                    visit._nurse,  # type: ignore[attr-defined]
                )
        if futility_stop:
            return

        # After induction: weekly follow-ups, then fortnightly; the first is the
        # end-of-induction score and the prescriber's review that day.
        self.summary.finished_induction += 1
        last_day = infusion_times[-1].astimezone(self.tz).date()
        follow_ups = self.follow_up_times(last_day)
        first = follow_ups[0]
        self.assessment(
            course, "phq9", end, timepoint=Timepoint.FOLLOW_UP, at=first, profile=profile
        )
        gad(end, Timepoint.FOLLOW_UP, first)
        result = outcomes.classify(self.outcome_rules, baseline_score=baseline, current_score=end)
        responded = result in (outcomes.Outcome.RESPONSE, outcomes.Outcome.REMISSION)
        self.summary.responders += responded
        self.summary.remitters += result is outcomes.Outcome.REMISSION
        review_at = first + dt.timedelta(hours=3)
        boosted = responded and rng.random() < BOOSTER_SHARE
        option = next(
            o
            for o in protocol.maintenance_options
            if o.kind
            == (MaintenanceKind.FIXED_INTERVAL if boosted else MaintenanceKind.SYMPTOM_TRIGGERED)
        )
        self.rows["reviews"].append(
            CourseReview(
                course=course,
                summary={},
                plan=protocols.maintenance_option_to_dict(option) if responded else {},
                notes="Responded; maintenance as planned."
                if responded
                else "No response at the end of induction; course completed.",
                signed_by=staff.prescriber,
                signed_at=review_at,
            )
        )
        if not responded:
            course.status = CourseStatus.COMPLETED
            self.transition(
                course,
                (CourseStatus.REVIEW, CourseStatus.COMPLETED),
                review_at,
                staff.prescriber,
                "post-induction review",
            )
            return
        course.status = CourseStatus.MAINTENANCE
        course.maintenance_started_at = review_at
        self.transition(
            course,
            (CourseStatus.REVIEW, CourseStatus.MAINTENANCE),
            review_at,
            staff.prescriber,
            "post-induction review",
        )

        # Maintenance: the response wears off `durability` days after each infusion; a
        # booster every 4 weeks (fixed-interval plan) renews it.
        patient_median = DURABILITY_MEDIAN_DAYS * math.exp(rng.gauss(0, DURABILITY_SIGMA))
        if result is outcomes.Outcome.REMISSION:
            patient_median *= 1.25

        def durability() -> dt.timedelta:
            days = patient_median * math.exp(rng.gauss(0, DURABILITY_PER_INFUSION_SIGMA))
            return dt.timedelta(days=days)

        last_infusion = infusion_times[-1]
        wears_off = last_infusion + durability()
        lost_at: dt.datetime | None = None
        if rng.random() < LOST_TO_FOLLOW_UP:
            lost_at = first + dt.timedelta(days=rng.uniform(14, 200))
        interval = option.interval or dt.timedelta(days=28)
        next_booster = review_at + dt.timedelta(days=FIRST_BOOSTER_AFTER_REVIEW_DAYS)
        number = protocol.induction_infusions
        loss_seen: dt.datetime | None = None
        held = end
        for at in follow_ups[1:]:
            if lost_at is not None and at > lost_at:
                course.status = CourseStatus.DISCONTINUED
                course.ended_reason = "Lost to follow-up"
                self.transition(
                    course,
                    (CourseStatus.MAINTENANCE, CourseStatus.DISCONTINUED),
                    at,
                    staff.prescriber,
                    course.ended_reason,
                )
                return
            # Boosters due before this follow-up (and before the response wore off).
            while boosted and next_booster < at and next_booster < wears_off:
                booster_day = next_booster.astimezone(self.tz).date()
                placed = self.place(
                    booster_day, not_before=next_booster - dt.timedelta(hours=12),
                    latest_day=booster_day + dt.timedelta(days=6),
                )  # fmt: skip
                if placed is None or placed[1] >= at or placed[1] > self.now:
                    break
                chair, start = placed
                number += 1
                visit = self.visit(course, chair, start, number=number, booked_at=review_at)
                if rng.random() < BOOSTER_NO_SHOW:
                    visit.status = AppointmentStatus.NO_SHOW
                    self.summary.no_shows += 1
                    next_booster = start + dt.timedelta(days=7)
                    continue
                pre = max(0, min(held + rng.randint(-1, 1), baseline // 2))
                if result is outcomes.Outcome.REMISSION:
                    pre = min(pre, 4)
                self.assessment(
                    course, "phq9", pre, timepoint=Timepoint.PRE_INFUSION,
                    at=start - dt.timedelta(minutes=15), profile=profile, visit=visit,
                )  # fmt: skip
                given_at = self.infuse(patient, course, visit, weights, vial)
                self.summary.boosters += 1
                wears_off = given_at + durability() * BOOSTER_DURABILITY_FACTOR
                next_booster = given_at + interval
            if at >= wears_off:
                lost = rng.uniform(0.55, 0.85)
                total = max(baseline // 2 + 1, round(baseline * lost))
            else:
                total = max(0, min(end + rng.randint(-1, 2), baseline // 2))
                if result is outcomes.Outcome.REMISSION:
                    total = min(total, 4)
            self.assessment(
                course, "phq9", total, timepoint=Timepoint.FOLLOW_UP, at=at, profile=profile
            )
            if gad_follow_up:
                gad(total, Timepoint.FOLLOW_UP, at)
            if at >= wears_off:
                if loss_seen is None:
                    loss_seen = at
                elif _elapsed(loss_seen, at) >= dt.timedelta(
                    days=protocol.relapse_confirmation_days
                ):
                    course.status = CourseStatus.RELAPSED
                    self.transition(
                        course,
                        (CourseStatus.MAINTENANCE, CourseStatus.RELAPSED),
                        at + dt.timedelta(hours=2),
                        staff.prescriber,
                    )
                    self.summary.relapses += 1
                    return

    def follow_up_times(self, last_day: dt.date) -> list[dt.datetime]:
        """10:00 on the weekday a week after the last infusion, weekly for 8 weeks, then
        every fortnight, up to the demo clock."""
        times = []
        day = last_day + dt.timedelta(weeks=1)
        week = 1
        while (at := self.at(day, 10)) <= self.now - dt.timedelta(hours=2):
            times.append(at)
            step = 1 if week < WEEKLY_FOLLOW_UP_WEEKS else 2
            day += dt.timedelta(weeks=step)
            week += step
        return times

    def visit(
        self, course: Course, chair: Chair, start: dt.datetime, *, number: int,
        booked_at: dt.datetime,
    ) -> Appointment:  # fmt: skip
        patient = course.patient
        phases = {
            p.name.value: int(p.length.total_seconds() // 60) for p in self.protocol.visit_phases
        }
        visit = Appointment(
            site=self.site, chair=chair, patient=patient, course=course, number=number,
            starts_at=start, ends_at=start + self.protocol.visit_length,
            status=AppointmentStatus.COMPLETED, booked_at=min(booked_at, start),
            booked_by=self.staff.scheduler,
            check_in_minutes=phases.get("check_in", 0),
            infusion_minutes=phases.get("infusion", 0),
            recovery_minutes=phases.get("recovery", 0),
            discharge_minutes=phases.get("discharge", 0),
        )  # fmt: skip
        visit._nurse = self.rng.choice(self.staff.nurses)  # type: ignore[attr-defined]
        self.rows["visits"].append(visit)
        return visit

    def infuse(
        self,
        patient: Patient,
        course: Course,
        visit: Appointment,
        weights: list[tuple[dt.date, Decimal]],
        vial: Decimal,
    ) -> dt.datetime:
        """The dose given at `visit` (the protocol's, on the clinic's dosing weight, weighed
        again when the last weight is older than the clinic's rule allows) and any adverse
        event; the visit completed. Returns when the dose was confirmed."""
        rng = self.rng
        day = visit.starts_at.astimezone(self.tz).date()
        measured_on, weight = weights[-1]
        if (day - measured_on).days > self.rules.weight_max_age_days:
            weight = Decimal(f"{float(weight) + rng.uniform(-1.5, 1.5):.1f}")
            weights.append((day, weight))
            self.rows["weights"].append(
                WeightMeasurement(
                    patient=patient,
                    weight_kg=weight,
                    measured_on=day,
                    recorded_at=visit.starts_at,
                    recorded_by=visit._nurse,  # type: ignore[attr-defined]
                )
            )
        dosing_weight = dosing.dosing_weight_kg(
            actual_kg=weight, height_cm=patient.height_cm, sex=patient.sex,
            basis=self.rules.dosing_weight_basis, bmi_threshold=self.rules.dosing_bmi_threshold,
        )  # fmt: skip
        plan = None
        for strength in (vial, Decimal("50") if vial != 50 else Decimal("10")):
            candidate = session_dose.plan_protocol_dose(
                self.protocol, weight_kg=dosing_weight, vial_mg_per_ml=strength
            )
            delivered = candidate.preparation.delivered_mg
            if delivered == delivered.quantize(Decimal("0.01")):
                plan = candidate
                break
        if plan is None or not isinstance(plan, dosing.DosePlan):
            raise RuntimeError("no history dose the ledger could have recorded")
        made_up = plan.preparation
        at = visit.starts_at + dt.timedelta(minutes=visit.check_in_minutes)
        nurse = visit._nurse  # type: ignore[attr-defined]
        given = InfusionRecord(
            appointment=visit, patient=patient, course=course, weight_kg=plan.weight_kg,
            vial_mg_per_ml=plan.vial_mg_per_ml, dose_mg=made_up.delivered_mg,
            prescribed_mg=made_up.prescribed_mg, drug_volume_ml=made_up.drawn_ml,
            syringe_ml=made_up.syringe.capacity_ml,
            syringe_graduation_ml=made_up.syringe.graduation_ml, bag_convention=made_up.bag,
            bag_volume_ml=plan.bag_volume_ml, final_volume_ml=made_up.final_volume_ml,
            infusion_minutes=self.protocol.regimen.infusion_minutes,
            pump_rate_ml_per_h=made_up.pump_rate_ml_per_h, confirmed_at=at, confirmed_by=nurse,
            clinic_rules=self.rules_row, draw=None, mg_per_kg=plan.mg_per_kg,
        )  # fmt: skip
        self.rows["infusions"].append(given)
        self.summary.infusions += 1
        visit.status = AppointmentStatus.COMPLETED
        for kind, rate, description, action in ADVERSE_EVENT_RATES:
            if rng.random() < rate:
                self.rows["adverse_events"].append(
                    AdverseEvent(
                        infusion=given,
                        kind=kind,
                        severity=AdverseEventSeverity.MILD
                        if rng.random() < 0.8
                        else AdverseEventSeverity.MODERATE,
                        description=description,
                        action_taken=action,
                        recorded_by=nurse,
                        recorded_at=at + dt.timedelta(minutes=visit.infusion_minutes + 20),
                    )
                )
                self.summary.adverse_events += 1
                break
        return at

    def review_task(
        self, course: Course, patient: Patient, detail: str, at: dt.datetime, *, stop: bool
    ) -> None:
        """The futility review as care.services.judge_futility raises it, closed by the
        prescriber the same day with their decision."""
        self.rows["alerts"].append(
            Alert(
                patient=patient,
                kind=AlertKind.FUTILITY_REVIEW,
                course=course,
                detail=detail,
                assigned_to=self.staff.prescriber,
                raised_at=at,
                status=AlertStatus.ACKNOWLEDGED,
                decision=ReviewDecision.STOP if stop else ReviewDecision.CONTINUE,
                note="No response after 3 infusions: series stopped."
                if stop
                else "Reviewed: continue the series as planned.",
                acknowledged_at=at + dt.timedelta(hours=1),
                acknowledged_by=self.staff.prescriber,
            )
        )

    # -- worsening alerts ---------------------------------------------------------------

    def worsening_alerts(self) -> None:
        """The worsening alerts record_assessment raises (care.services._worsening: against
        the previous score, the best so far and the baseline, by the instrument's MCID), each
        closed by the prescriber the next day."""
        by_course: dict[tuple[int, str], list[Assessment]] = defaultdict(list)
        for row in cast(list[Assessment], self.rows["assessments"]):
            by_course[(id(row.course), row.instrument)].append(row)
        first_infusion = {
            id(i.course): i.confirmed_at
            for i in reversed(cast(list[InfusionRecord], self.rows["infusions"]))
        }
        for (course_key, code), rows in by_course.items():
            rules = outcomes.DEFAULT_RULES[code]
            instrument = self.phq9 if code == "phq9" else self.gad7
            mcid = instrument.mcid
            if mcid is None:
                continue
            rows.sort(key=lambda r: r.completed_at)
            started = first_infusion.get(course_key)
            for i, row in enumerate(rows[1:], start=1):
                earlier = rows[:i]
                before = [r.total_score for r in earlier if started and r.completed_at <= started]
                found = outcomes.worsenings(
                    rules, current=row.total_score, previous=earlier[-1].total_score,
                    best=min(r.total_score for r in earlier),
                    baseline=before[-1] if before else None,
                )  # fmt: skip
                if not found:
                    continue
                changes = "; ".join(w.describe() for w in found)
                total = row.total_score.normalize()
                self.rows["alerts"].append(
                    Alert(
                        patient=row.patient,
                        kind=AlertKind.WORSENING,
                        assessment=row,
                        detail=f"{instrument.short_title} {total:f}: {changes}. Meaningful "
                        f"change: {mcid.source}.",
                        assigned_to=self.staff.prescriber,
                        raised_at=row.completed_at,
                        status=AlertStatus.ACKNOWLEDGED,
                        note="Seen at the time; see the course's timeline.",
                        acknowledged_at=row.completed_at + dt.timedelta(days=1),
                        acknowledged_by=self.staff.prescriber,
                    )
                )

    # -- writing ------------------------------------------------------------------------

    def write(self) -> None:
        """Every row in bulk, parents first (bulk_create sets each foreign key from its saved
        parent), and the one audit event."""
        sequence, _ = MrnSequence.objects.select_for_update().get_or_create(site=self.site)
        for patient in self.patients:
            sequence.last += 1
            patient.mrn = f"S{self.site.pk}-{sequence.last:06d}"
        sequence.save(update_fields=["last"])
        Patient.objects.bulk_create(self.patients)
        models: tuple[tuple[str, type[Model]], ...] = (
            ("weights", WeightMeasurement), ("courses", Course),
            ("transitions", CourseTransition), ("consents", Consent),
            ("screens", ContraindicationScreen), ("reviews", CourseReview),
            ("visits", Appointment), ("infusions", InfusionRecord),
            ("adverse_events", AdverseEvent), ("assessments", Assessment),
        )  # fmt: skip
        for name, model in models:
            model._default_manager.bulk_create(self.rows[name])
        assessments = cast(list[Assessment], self.rows["assessments"])
        # The ~40,000 item answers and the visit links straight to the database: plain rows
        # with nothing to compute, where a model instance each costs more than the insert.
        _insert(
            AssessmentAnswer, ("assessment", "item", "value"),
            [
                (row.pk, item, value)
                for row in assessments
                for item, value in row._answers.items()  # type: ignore[attr-defined]
            ],
        )  # fmt: skip
        _insert(
            VisitAssessment, ("appointment", "assessment"),
            [
                (row._visit.pk, row.pk)  # type: ignore[attr-defined]
                for row in assessments
                if row._visit is not None  # type: ignore[attr-defined]
            ],
        )  # fmt: skip
        Alert.objects.bulk_create(cast(list[Alert], self.rows["alerts"]))
        # One audit event for the whole history (bulk rows bypass the per-row audit).
        record_event(
            actor=None, username="sustain demo", action=AuditAction.CREATE,
            category=DataCategory.PATIENT_RECORD, site=self.site,
            reason=HISTORY_AUDIT_REASON.format(n=len(self.patients)),
        )  # fmt: skip
        self.summary.patients = len(self.patients)
        self.summary.patient_ids = [p.pk for p in self.patients]
        statuses: dict[str, int] = defaultdict(int)
        for course in cast(list[Course], self.rows["courses"]):
            statuses[course.status] += 1
        self.summary.statuses = dict(statuses)


def _elapsed(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """The time elapsed from `start` to `end` (Python subtracts two datetimes of one zone by
    their wall clocks; a DST change would make 7 days an hour short or long)."""
    return end.astimezone(dt.UTC) - start.astimezone(dt.UTC)


def _insert(model: type[Model], fields: Sequence[str], values: list[tuple[int | str, ...]]) -> None:
    """INSERT `values` (one tuple a row, in `fields`' order) into `model`'s table."""
    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(str(cast(Field[Any, Any], model._meta.get_field(name)).column)) for name in fields
    )
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def history_outcomes(patient_ids: Sequence[int]) -> tuple[int, int, int]:
    """Courses finished induction, responders, remitters among `patient_ids`, from the
    database (the first follow-up PHQ-9 against the baseline, the protocol's rules), as
    the demo's printed summary counts its own patients."""
    courses = Course.objects.filter(patient_id__in=patient_ids).annotate(
        reviewed=Max("reviews__pk")
    )
    finished = responders = remitters = 0
    rules = {}
    scores: dict[int, list[Decimal]] = defaultdict(list)
    for course_id, total in (
        Assessment.objects.filter(
            course__patient_id__in=patient_ids,
            instrument="phq9",
            timepoint__in=(Timepoint.BASELINE, Timepoint.FOLLOW_UP),
        )
        .order_by("course_id", "completed_at", "pk")
        .values_list("course_id", "total_score")
    ):
        scores[course_id].append(total)
    for course in courses:
        if course.reviewed is None:
            continue
        key = (course.protocol_key, course.protocol_version)
        if key not in rules:
            protocol = protocols.get_protocol(*key)
            rules[key] = cast(outcomes.OutcomeRules, protocol.outcome_rules(protocol.instrument))
        baseline, end = scores[course.pk][:2]
        result = outcomes.classify(rules[key], baseline_score=baseline, current_score=end)
        finished += 1
        responders += result in (outcomes.Outcome.RESPONSE, outcomes.Outcome.REMISSION)
        remitters += result is outcomes.Outcome.REMISSION
    return finished, responders, remitters
