"""One patient's progress report (issue 17, item 2): the course(s), the infusions with the
doses given, each instrument's trajectory with its severity bands and infusion markers, the
outcome against the baseline (response, remission, relapse), the adverse events and the
maintenance plan, for the referring clinician or, in plain words, for the patient.

The outcomes are the patient page's (sustain.care.queries.measure_summaries, which classify by
sustain_core.outcomes: baseline the last score at or before the first infusion; response a fall
of at least the protocol's response fraction, 50 % unless the protocol says otherwise, 30 % for
PTSD [Feder2021]; remission at or below the instrument's threshold, PHQ-9 < 5 [McInnes2022];
relapse a confirmed loss of response). The boosters due are the signed review's plan
(care.queries.due_boosters, sustain_core.maintenance.plan_boosters).

Clinical roles only: the report shows scores and doses (care.view_assessment, and
care.view_patient at one of the patient's sites, through get_patient_for_user, which audits
the read).
"""

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.db.models import Prefetch
from django.utils.safestring import SafeString

from sustain.accounts.access import require_permission
from sustain.accounts.enums import DataCategory
from sustain.accounts.models import User
from sustain.care import charts
from sustain.care import queries as care_queries
from sustain.care.models import ACTIVE_COURSE_STATUSES, Course, CourseReview, Patient
from sustain.care.protocol_versions import protocols_for
from sustain.infusion.enums import AdverseEventKind
from sustain.infusion.models import AdverseEvent, InfusionRecord
from sustain.scheduling import queries as scheduling_queries
from sustain_core import maintenance, outcomes, protocols
from sustain_core.numbers import plain

SCORES = care_queries.SCORES  # the report is scores and doses: clinical roles only


class Audience(StrEnum):
    """Who the report is written for (?for=)."""

    CLINICIAN = "clinician"
    PATIENT = "patient"


# Each instrument's score in the patient's words; every one of them is "lower is better"
# (each instrument's bands rise with severity: sustain_core.instruments). The suicide-risk
# screen is not in the patient's version (no item-level or risk details there).
PLAIN_NAMES = {
    "phq9": "depression score",
    "gad7": "anxiety score",
    "pcl5": "score for stress after trauma",
    "qids_sr16": "depression score (16 questions)",
    "pain_nrs": "pain score",
    "bpi_sf": "pain questionnaire score",
    "fiqr": "fibromyalgia score",
    "cadss": "score for feeling detached during the infusion",
    "madrs": "depression score (rated by your clinician)",
    "ymrs": "score for raised mood (rated by your clinician)",
}
NOT_FOR_THE_PATIENT = frozenset({"cssrs_screener"})

# Adverse events in plain words for the patient (infusion.enums.AdverseEventKind's labels are
# the clinician's: tachycardia, emergence reaction, diplopia or nystagmus).
PLAIN_EVENTS = {
    AdverseEventKind.DROWSINESS: "drowsiness",
    AdverseEventKind.DIZZINESS: "dizziness",
    AdverseEventKind.DISSOCIATION: "feeling detached from yourself or your surroundings",
    AdverseEventKind.NAUSEA: "feeling sick or being sick",
    AdverseEventKind.HEADACHE: "headache",
    AdverseEventKind.ANXIETY: "feeling anxious",
    AdverseEventKind.HYPERTENSION: "a rise in blood pressure",
    AdverseEventKind.TACHYCARDIA: "a fast heartbeat",
    AdverseEventKind.EMERGENCE: "a distressing reaction while waking up",
    AdverseEventKind.VISUAL: "double vision or jumpy eye movements",
    AdverseEventKind.OTHER: "another side effect",
}


PLAIN_CONDITIONS = {
    "depression": "depression",
    "anxiety": "anxiety",
    "ptsd": "stress after trauma",
    "chronic_pain": "long-lasting pain",
    "bipolar_depression": "low mood in bipolar disorder",
    "suicidal_ideation": "thoughts of suicide",
}
# The course's phases in the patient's words (care.enums.CourseStatus).
PLAIN_PHASES = {
    "referred": "referred to the clinic",
    "screening": "checks before treatment",
    "ready": "ready to start your infusions",
    "induction": "your first series of infusions",
    "review": "looking back at your first series with your doctor",
    "maintenance": "booster infusions to keep the benefit",
    "relapsed": "your symptoms have come back; your care team is planning what is next",
    "completed": "finished",
    "discontinued": "stopped",
    "paused": "paused",
}


def plan_in_words(plan: maintenance.MaintenanceOption) -> str:
    """The maintenance plan for the patient: when the boosters come."""
    if plan.kind == maintenance.MaintenanceKind.FIXED_INTERVAL and plan.interval is not None:
        return f"a booster infusion every {plan.interval.days} days"
    if plan.kind == maintenance.MaintenanceKind.TAPER:
        return ", then ".join(
            f"{count} booster infusion{'s' if count > 1 else ''} {interval.days} days apart"
            for count, interval in plan.steps
        )
    return "a booster infusion if your symptoms come back"


@dataclass(frozen=True)
class CourseRow:
    """A course as the report lists it: its protocol, its phase now and its phases' dates."""

    course: Course
    protocol: protocols.Protocol
    phases: list[tuple[str, dt.datetime]]  # (the phase's label, when it began)

    @property
    def plain_title(self) -> str:
        """The course in the patient's words: what the infusions are for."""
        condition = PLAIN_CONDITIONS.get(self.protocol.condition, "your symptoms")
        return f"Ketamine infusions for {condition}"

    @property
    def plain_phase(self) -> str:
        """Where the course is, in the patient's words."""
        return PLAIN_PHASES.get(self.course.status, self.course.get_status_display().lower())


@dataclass(frozen=True)
class InfusionRow:
    """An infusion given, from its chair-side dose record."""

    record: InfusionRecord
    number: int
    given_at: dt.datetime
    booster: bool
    adverse_events: list[AdverseEvent]


@dataclass(frozen=True)
class ItemAnswer:
    """One item of the latest score as answered: its short label, the value and, where the
    scale anchors every value, the anchor's words."""

    label: str
    value: int
    words: str


@dataclass(frozen=True)
class Measure:
    """One instrument's trajectory, in the report's words."""

    summary: care_queries.MeasureSummary
    chart: SafeString
    name: str  # the instrument's title, or its plain name for the patient
    baseline: int | Decimal | None
    latest: int | Decimal
    # The fall from the baseline in percent (positive: lower than at the start); None
    # without a baseline before the latest score, or a baseline of 0.
    drop_percent: Decimal | None
    status: outcomes.TrajectoryStatus | None
    words: list[str]  # the change and the outcome in sentences, for the audience

    @property
    def latest_answers(self) -> list[ItemAnswer]:
        """The latest score's answers item by item, in the instrument's order (skipped items
        absent); the clinician's version shows them."""
        latest = self.summary.latest
        if latest is None:
            return []
        given = {a.item: a.value for a in latest.answers.all()}
        return [
            ItemAnswer(
                label=item.label,
                value=given[item.key],
                words=item.answer_labels[given[item.key] - item.min_value]
                if item.answer_labels
                else "",
            )
            for item in self.summary.instrument.items
            if item.key in given
        ]

    @property
    def print_chart(self) -> SafeString:
        """The chart for the PDF, its styles inside it (care.charts.with_style)."""
        return charts.with_style(self.chart, charts.TRAJECTORY_STYLE)


@dataclass(frozen=True)
class Progress:
    """Everything the report shows, for `audience`."""

    audience: Audience
    patient: Patient
    course: Course | None  # the active course, else the latest
    protocol: protocols.Protocol | None
    courses: list[CourseRow]
    infusions: list[InfusionRow]
    measures: list[Measure]
    adverse_events: list[tuple[InfusionRow, AdverseEvent]]
    review: CourseReview | None
    plan: maintenance.MaintenanceOption | None
    boosters: list[tuple[maintenance.Booster, care_queries.Visit | None]]
    now: dt.datetime

    @property
    def for_patient(self) -> bool:
        return self.audience == Audience.PATIENT

    @property
    def plan_words(self) -> str:
        return plan_in_words(self.plan) if self.plan is not None else ""

    @property
    def patient_events(self) -> list[tuple[InfusionRow, AdverseEvent, str]]:
        """The adverse events with their kind in plain words."""
        return [
            (row, event, PLAIN_EVENTS.get(AdverseEventKind(event.kind), "a side effect"))
            for row, event in self.adverse_events
        ]


def parse_audience(value: str | None) -> Audience | None:
    """The audience `?for=` names (clinician when absent), or None for anything else."""
    if value is None:
        return Audience.CLINICIAN
    return Audience(value) if value in Audience.__members__.values() else None


def check_access(user: User) -> None:
    """Refuse (403, audited) a role that does not see scores: the report is made of them."""
    require_permission(user, SCORES, category=DataCategory.QUESTIONNAIRE)


def progress_for_user(
    user: User, patient_id: int, *, audience: Audience, now: dt.datetime
) -> Progress:
    """The patient's progress report for `user`: care.view_assessment, then the audited read
    of the patient (get_patient_for_user: care.view_patient at one of the patient's sites, or
    a break-glass grant at `now`)."""
    check_access(user)
    patient = care_queries.get_patient_for_user(user, patient_id, now=now)
    tz = patient.site.tz
    courses = list(
        patient.courses.select_related("patient__site")
        .prefetch_related("transitions")
        .order_by("enrolled_at", "pk")
    )
    protocol_of = protocols_for(courses)
    # The course the patient page shows (care.services.active_course, else the latest).
    active = [c for c in courses if c.status in ACTIVE_COURSE_STATUSES]
    course = active[-1] if active else (courses[-1] if courses else None)
    protocol = protocol_of[course.pk] if course is not None else None
    appointments = list(patient.appointments.all())
    visits = scheduling_queries.as_visits(appointments)
    induction = course.induction_infusions(protocol) if course and protocol else None
    summaries = care_queries.measure_summaries(
        list(patient.assessments.prefetch_related("answers")), visits, protocol=protocol, tz=tz,
        induction_infusions=induction,
    )  # fmt: skip
    records = list(
        InfusionRecord.objects.filter(patient=patient)
        .select_related("appointment")
        .prefetch_related(Prefetch("adverse_events", AdverseEvent.objects.order_by("recorded_at")))
        .order_by("appointment__starts_at", "pk")
    )
    by_course = {c.pk: c for c in courses}
    infusions = [
        InfusionRow(
            record=r,
            number=r.appointment.number,
            given_at=r.appointment.starts_at + dt.timedelta(minutes=r.appointment.check_in_minutes),
            booster=r.appointment.number
            > by_course[r.course_id].induction_infusions(protocol_of[r.course_id]),
            adverse_events=list(r.adverse_events.all()),
        )
        for r in records
    ]
    review = course.reviews.select_related("signed_by").first() if course is not None else None
    plan = (
        protocols.maintenance_option_from_dict(review.plan)
        if review is not None and review.plan
        else None
    )
    for_patient = audience == Audience.PATIENT
    return Progress(
        audience=audience,
        patient=patient,
        course=course,
        protocol=protocol,
        courses=[
            CourseRow(course=c, protocol=protocol_of[c.pk], phases=_phases(c)) for c in courses
        ],
        infusions=infusions,
        measures=[
            _measure(s, visits, induction or 0, tz=tz, for_patient=for_patient)
            for s in summaries
            if not (for_patient and s.instrument.code in NOT_FOR_THE_PATIENT)
        ],
        adverse_events=[(row, event) for row in infusions for event in row.adverse_events],
        review=review,
        plan=plan,
        boosters=care_queries.due_boosters(
            course, visits, summaries, today=now.astimezone(tz).date(), tz=tz
        )
        if plan is not None
        else [],
        now=now,
    )


def _phases(course: Course) -> list[tuple[str, dt.datetime]]:
    """The course's phases with the instant each began: enrolment, then each change of phase
    (a dose change within a phase is not a phase)."""
    phases = [("Enrolled", course.enrolled_at)]
    phases.extend(
        (t.get_to_status_display(), t.at)
        for t in course.transitions.all()
        if t.to_status != t.from_status
    )
    return phases


def _measure(
    summary: care_queries.MeasureSummary,
    visits: list[care_queries.Visit],
    induction: int,
    *,
    tz: dt.tzinfo,
    for_patient: bool,
) -> Measure:
    baseline = summary.baseline.total_score if summary.baseline is not None else None
    latest = summary.latest.total_score if summary.latest is not None else Decimal(0)
    change = summary.change_percent
    chart = summary.chart
    name = summary.instrument.title
    if for_patient:
        name = PLAIN_NAMES.get(summary.instrument.code, "score")
        chart = _plain_chart(summary, visits, induction, name=name, tz=tz)
    drop = -change if change is not None else None
    words = (
        _patient_words(summary, name, baseline, latest, drop)
        if for_patient
        else _clinician_words(summary, baseline, latest, change, tz=tz)
    )
    return Measure(
        summary=summary,
        chart=chart,
        name=name,
        baseline=baseline,
        latest=latest,
        drop_percent=drop,
        status=summary.trajectory.status if summary.trajectory is not None else None,
        words=words,
    )


def _patient_words(
    summary: care_queries.MeasureSummary,
    name: str,
    baseline: int | Decimal | None,
    latest: int | Decimal,
    drop: Decimal | None,
) -> list[str]:
    """The change and the outcome for the patient: no instrument names, no thresholds'
    names (response, remission, relapse), the numbers as they are."""
    if baseline is None or summary.latest is summary.baseline:
        return [f"Your {name} is {plain(latest)} so far; lower is better."]
    moved = f"Your {name} went from {plain(baseline)} to {plain(latest)}; lower is better"
    if drop is None:
        words = [f"{moved}."]
    elif drop > 0:
        words = [f"{moved}; that is a drop of {plain(drop)} %."]
    elif drop < 0:
        words = [f"{moved}; that is a rise of {plain(-drop)} %."]
    else:
        words = [f"Your {name} is {plain(latest)}, the same as before your first infusion."]
    status = summary.trajectory.status if summary.trajectory is not None else None
    fall = plain(summary.response_percent) if summary.response_percent is not None else ""
    statuses = outcomes.TrajectoryStatus
    if status == statuses.REMITTED and summary.remission_max is not None:
        words.append(
            f"It is now at or below {plain(summary.remission_max)}: the range where symptoms "
            "are few or none."
        )
    elif status == statuses.RESPONDED:
        words.append(
            f"It has fallen by {fall} % or more since before your first infusion: the "
            "treatment is working for you."
        )
    elif status == statuses.PARTIAL_RESPONSE:
        words.append(f"It has fallen, but not yet by {fall} % or more.")
    elif status == statuses.NOT_YET_RESPONDED:
        words.append(f"It has not yet fallen by {fall} % or more.")
    elif status == statuses.LOSS_UNCONFIRMED:
        words.append("It has gone up again; your care team will check it again soon.")
    elif status == statuses.RELAPSED:
        words.append(
            "It went back up and stayed up when checked again; your care team will talk "
            "with you about what to do next."
        )
    return words


def _clinician_words(
    summary: care_queries.MeasureSummary,
    baseline: int | Decimal | None,
    latest: int | Decimal,
    change: Decimal | None,
    *,
    tz: dt.tzinfo,
) -> list[str]:
    """Baseline, latest, change, and response, remission and relapse with their dates."""
    code = summary.instrument.short_title
    severity = f" ({summary.latest.severity})" if summary.latest and summary.latest.severity else ""
    line = (
        f"{code}: baseline {plain(baseline)}, latest {plain(latest)}{severity}"
        if baseline is not None
        else f"{code}: no baseline before the first infusion; latest {plain(latest)}{severity}"
    )
    words = [line + (f"; change {plain(change)} %." if change is not None else ".")]
    trajectory = summary.trajectory
    if trajectory is None:
        return words
    words.append(f"Status: {trajectory.status}.")
    if trajectory.first_response_at is not None and summary.response_percent is not None:
        days = trajectory.days_to_response
        words.append(
            f"Response (≥ {plain(summary.response_percent)} % below baseline) first on "
            f"{trajectory.first_response_at.astimezone(tz):%Y-%m-%d}"
            + (f", {days} days after the first infusion." if days is not None else ".")
        )
    if trajectory.first_remission_at is not None and summary.remission_max is not None:
        words.append(
            f"Remission ({code} ≤ {plain(summary.remission_max)}) first on "
            f"{trajectory.first_remission_at.astimezone(tz):%Y-%m-%d}."
        )
    if trajectory.relapse_at is not None:
        days = trajectory.days_to_relapse
        words.append(
            f"Relapse (loss of response, confirmed) from "
            f"{trajectory.relapse_at.astimezone(tz):%Y-%m-%d}"
            + (f", {days} days after the last induction infusion." if days is not None else ".")
        )
    return words


def _plain_chart(
    summary: care_queries.MeasureSummary,
    visits: list[care_queries.Visit],
    induction: int,
    *,
    name: str,
    tz: dt.tzinfo,
) -> SafeString:
    """The trajectory chart for the patient: the scores over the instrument's severity bands
    with a line at each infusion, titled in plain words and without the clinician's lines
    (response level, remission threshold) or the induction's shading."""
    instrument = dataclasses.replace(summary.instrument, short_title=f"Your {name}")
    markers = [
        charts.Marker(
            at=v.infusion_at.astimezone(tz),
            label=f"Infusion {v.number}",
            booster=v.number > induction,
        )
        for v in visits
        if v.given
    ]
    return charts.trajectory_chart(
        instrument, [(a.completed_at.astimezone(tz), a.total_score) for a in summary.assessments],
        markers,
    )  # fmt: skip
