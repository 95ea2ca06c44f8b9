"""Reads of patient data. Each named query checks the permission it needs; what a role may
not see is never loaded (it returns None instead). A read of a patient's record writes one
audit event; the write a view goes on to make is audited by its service.
"""

import datetime as dt
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn, TypeVar

from django.core.paginator import Page, Paginator
from django.db.models import Count, Model, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils.safestring import SafeString

from sustain.accounts.access import require_permission, sites_for_user
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import User
from sustain.care import break_glass, charts, protocol_versions
from sustain.care.enums import AlertStatus
from sustain.care.models import (
    Alert,
    Allergy,
    Assessment,
    Consent,
    Course,
    Medication,
    Patient,
    PatientRevision,
)
from sustain_core import instruments, maintenance, measurement, medications, outcomes, protocols
from sustain_core.errors import ClinicalValueError

SCORES = "care.view_assessment"  # scores, item answers, charts, outcomes
ALERTS = "care.view_alert"  # alert kinds, the scores behind them, who they are for
COURSE_DETAILS = "care.view_course"  # the course's timeline, consent, screen and sources
MEDICATIONS = "care.view_medication"  # the medication list and its interactions
ALLERGIES = "care.view_allergy"  # clinical data: never loaded for the front desk


def _find_patient(user: User, patient_id: int) -> Patient:
    patient = _patient_at_sites_of(user, patient_id)
    if patient is None:
        _refuse_patient(user, patient_id)
    return patient


def _patient_at_sites_of(user: User, patient_id: int) -> Patient | None:
    return (
        Patient.objects.select_related("site")
        .filter(pk=patient_id, site__memberships__user=user)
        .first()
    )


def _refuse_patient(user: User, patient_id: int) -> NoReturn:
    """Another site's patient (or none) looks like no patient at all: an audited 404."""
    record_event(
        actor=user,
        action=AuditAction.READ,
        category=DataCategory.PATIENT_RECORD,
        outcome=AuditOutcome.DENIED,
        patient_id=patient_id if Patient.objects.filter(pk=patient_id).exists() else None,
    )
    raise Http404("No such patient.")


def get_patient_for_user(user: User, patient_id: int, *, now: dt.datetime | None = None) -> Patient:
    """The patient, read: `user` needs care.view_patient and one of the patient's sites
    (another site's patient is a 404, and the attempt is audited), or an active break-glass
    grant for exactly this patient at `now` (sustain.care.break_glass, BTG-02; read only: the
    write lookups below ignore grants; without `now` no grant is looked at), whose read event
    is marked "BTG" (BTG-03). Writes the read event."""
    require_permission(user, "care.view_patient", category=DataCategory.PATIENT_RECORD)
    patient = _patient_at_sites_of(user, patient_id)
    if patient is not None:
        record_patient_read(user, patient)
        return patient
    grant = None if now is None else break_glass.active_grant(user, patient_id, now=now)
    if grant is None:
        _refuse_patient(user, patient_id)
    record_patient_read(user, grant.patient, reason=break_glass.READ_REASON)
    return grant.patient


def get_patient_for_change(
    user: User, patient_id: int, perm: str, *, category: DataCategory
) -> Patient:
    """The patient, to act on: `user` needs `perm` and one of the patient's sites (as
    get_patient_for_user, but a break-glass grant does not count: emergency access reads).
    No read is audited here: the service audits the write, and a page that then shows the
    record records the read (record_patient_read)."""
    require_permission(user, perm, category=category)
    return _find_patient(user, patient_id)


def record_patient_read(user: User, patient: Patient, *, reason: str = "") -> None:
    """Audit that `user` was shown the patient's record (a page rendered with it); `reason`
    "BTG" for a read under a break-glass grant."""
    record_event(
        actor=user,
        action=AuditAction.READ,
        category=DataCategory.PATIENT_RECORD,
        site=patient.site,
        patient_id=patient.pk,
        obj=patient,
        reason=reason,
    )


PATIENTS_PER_PAGE = 50
# The patient list's orders (issue 13): by name or by date of birth, each either way (the
# reverse wholly reversed, so the same index reads it backwards); the primary key last, so a
# page never repeats or skips a patient between two requests.
PATIENT_ORDERS = {
    "name": ("family_name", "given_name", "pk"),
    "-name": ("-family_name", "-given_name", "-pk"),
    "born": ("date_of_birth", "family_name", "given_name", "pk"),
    "-born": ("-date_of_birth", "-family_name", "-given_name", "-pk"),
}
_DATE_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}")


def patient_search(q: str) -> Q:
    """What the patient list's search term matches: each word a part of the given or family
    name, or of the phone number (case-insensitive), or the exact MRN, or a word typed as
    YYYY-MM-DD the exact date of birth. Refused, naming the term, for a YYYY-MM-DD word that
    is no date."""
    found = Q()
    for word in q.split():
        if _DATE_LIKE.fullmatch(word):
            try:
                found &= Q(date_of_birth=dt.date.fromisoformat(word))
            except ValueError:
                raise ClinicalValueError("q", f"{word} is not a date (YYYY-MM-DD)") from None
        else:
            found &= (
                Q(given_name__icontains=word)
                | Q(family_name__icontains=word)
                | Q(phone__icontains=word)
                | Q(mrn=word.upper())
            )
    return found


def patients_for_user(
    user: User, *, q: str = "", sort: str = "name", page: int | None = None
) -> Page:
    """Page `page` (PATIENTS_PER_PAGE a page; the last for one past the end) of the patients
    of the user's sites matching `q` (patient_search), in the order `sort` names
    (PATIENT_ORDERS), with their latest course's status and, for roles that see alerts, their
    open alerts. The page's patients are found first, then only they are read with their
    course and alerts, so a page of 10,000 patients reads 50. One audit event for the list."""
    found = _patients_found(user, q, sort)
    listed = Paginator(found.values_list("pk", flat=True), PATIENTS_PER_PAGE).get_page(page)
    shown = _with_list_columns(user, found.filter(pk__in=list(listed.object_list)))
    listed.object_list = list(shown)  # type: ignore[arg-type]
    record_event(actor=user, action=AuditAction.READ, category=DataCategory.DEMOGRAPHICS)
    return listed


def patients_to_export(user: User, *, q: str = "", sort: str = "name") -> QuerySet[Patient]:
    """Every patient the list finds for `q` in the order `sort` (patients_for_user, all its
    pages), with the same columns; the caller audits the export."""
    return _with_list_columns(user, _patients_found(user, q, sort))


def _patients_found(user: User, q: str, sort: str) -> QuerySet[Patient]:
    require_permission(user, "care.view_patient", category=DataCategory.DEMOGRAPHICS)
    if sort not in PATIENT_ORDERS:
        raise ClinicalValueError("sort", f"the list is sorted by {', '.join(PATIENT_ORDERS)}")
    return Patient.objects.filter(patient_search(q), site__in=sites_for_user(user)).order_by(
        *PATIENT_ORDERS[sort]
    )


def _with_list_columns(user: User, patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """The list's columns: the latest course's status and, for roles that see alerts, the
    number of open alerts (not computed for the others)."""
    patients = patients.select_related("site").annotate(
        course_status=Subquery(
            Course.objects.filter(patient=OuterRef("pk"))
            .order_by("-enrolled_at")
            .values("status")[:1]
        )
    )
    if user.has_perm(ALERTS):
        patients = patients.annotate(
            open_alerts=Count("alerts", filter=Q(alerts__status=AlertStatus.OPEN))
        )
    return patients


def alerts_for_user(user: User) -> QuerySet[Alert]:
    """The open alerts at the user's sites (care.view_alert). One audit event for the list."""
    alerts = alerts_to_export(user)
    record_event(actor=user, action=AuditAction.READ, category=DataCategory.ALERT)
    return alerts


def alerts_to_export(user: User) -> QuerySet[Alert]:
    """The alert list's alerts (alerts_for_user); the caller audits the export."""
    require_permission(user, ALERTS, category=DataCategory.ALERT)
    return Alert.objects.filter(
        patient__site__in=sites_for_user(user), status=AlertStatus.OPEN
    ).select_related("patient__site", "assessment", "assigned_to")


def open_alerts(user: User, patient: Patient) -> list[Alert] | None:
    """The patient's open alerts, or None for a role that may not see alerts (not loaded)."""
    if not user.has_perm(ALERTS):
        return None
    return list(
        patient.alerts.filter(status=AlertStatus.OPEN).select_related("assessment", "assigned_to")
    )


def get_alert_for_change(user: User, alert_id: int) -> Alert:
    """An alert at one of the user's sites, to acknowledge (care.change_alert), or 404."""
    require_permission(user, "care.change_alert", category=DataCategory.ALERT)
    alert = (
        Alert.objects.select_related("patient__site")
        .filter(pk=alert_id, patient__site__memberships__user=user)
        .first()
    )
    if alert is None:  # another site's alert, or none: audited as a denied lookup (issue 14)
        elsewhere = Alert.objects.filter(pk=alert_id).values_list("patient_id", flat=True).first()
        record_event(
            actor=user, action=AuditAction.READ, category=DataCategory.ALERT,
            outcome=AuditOutcome.DENIED, patient_id=elsewhere, reason=f"alert {alert_id}"[:40],
        )  # fmt: skip
        raise Http404("No such alert.")
    return alert


@dataclass(frozen=True)
class MedicationList:
    """The patient's medication list as the patient page shows it on `day`: the current
    medications with their interactions (sustain_core.medications), the stopped ones, and the
    classes the course's protocol requires that none of the current ones belongs to."""

    current: list[tuple[Medication, tuple[medications.Interaction, ...]]]
    stopped: list[Medication]
    classes_missing: list[str]

    @property
    def interacting(self) -> list[tuple[Medication, tuple[medications.Interaction, ...]]]:
        return [(medication, found) for medication, found in self.current if found]


def medication_list(
    user: User, patient: Patient, *, day: dt.date, protocol: protocols.Protocol | None
) -> MedicationList | None:
    """The patient's medications on `day`, or None for a role that may not see them (the
    front desk: nothing is loaded). The page's read is audited by get_patient_for_user."""
    if not user.has_perm(MEDICATIONS):
        return None
    rows = list(patient.medications.with_current(day).select_related("recorded_by", "stopped_by"))
    current = [m for m in rows if m.current]
    on_the_list = [drug for m in current for drug in m.drugs]
    required = protocol.required_medication_classes if protocol else ()
    return MedicationList(
        current=[(m, m.interactions) for m in current],
        stopped=[m for m in rows if not m.current],
        classes_missing=[
            medications.CLASS_TITLES[code]
            for code in required
            if not medications.has_class(on_the_list, code)
        ],
    )


@dataclass(frozen=True)
class AllergyList:
    """The patient's allergies as the patient page and the chair side show them: those on the
    chart, those removed (kept, with who and why), and whether "no known allergies" was
    stated."""

    current: list[Allergy]
    removed: list[Allergy]
    no_known_allergies: bool


def allergy_list(user: User, patient: Patient) -> AllergyList | None:
    """The patient's allergies, in one query, or None for a role that may not see them (the
    front desk: allergies are clinical data, never loaded)."""
    if not user.has_perm(ALLERGIES):
        return None
    rows = list(patient.allergies.select_related("recorded_by", "removed_by"))
    return AllergyList(
        current=[a for a in rows if a.removed_at is None],
        removed=[a for a in rows if a.removed_at is not None],
        no_known_allergies=patient.no_known_allergies_at is not None,
    )


Row = TypeVar("Row", bound=Model)


def _found_at_users_sites(
    rows: QuerySet[Row], pk: int, user: User, *, site: str, category: DataCategory, noun: str
) -> Row:
    """The row `pk` of `rows` whose `site` (a lookup path) is one of the user's, or 404; the
    attempt on anything else is audited as a denied read."""
    row = rows.filter(pk=pk, **{f"{site}__memberships__user": user}).first()
    if row is None:
        record_event(
            actor=user, action=AuditAction.READ, category=category, outcome=AuditOutcome.DENIED
        )
        raise Http404(f"No such {noun}.")
    return row


def get_allergy_for_change(user: User, allergy_id: int) -> Allergy:
    """An allergy of a patient at one of the user's sites, to remove, or 404."""
    require_permission(user, "care.change_allergy", category=DataCategory.PATIENT_RECORD)
    return _found_at_users_sites(
        Allergy.objects.select_related("patient__site"), allergy_id, user,
        site="patient__site", category=DataCategory.PATIENT_RECORD, noun="allergy",
    )  # fmt: skip


def get_consent_for_change(user: User, consent_id: int) -> Consent:
    """A consent of a patient at one of the user's sites, for a prescriber to correct
    (care.change_consent), or 404."""
    require_permission(user, "care.change_consent", category=DataCategory.COURSE)
    return _found_at_users_sites(
        Consent.objects.select_related("course__patient__site"), consent_id, user,
        site="course__patient__site", category=DataCategory.COURSE, noun="consent",
    )  # fmt: skip


def corrections(patient: Patient) -> list[PatientRevision]:
    """The corrections of the patient's details, latest first (each role that sees the
    patient sees their demographics; the page's read is audited)."""
    return list(patient.revisions.select_related("changed_by"))


def get_medication_for_change(user: User, medication_id: int, perm: str) -> Medication:
    """A medication of a patient at one of the user's sites, to act on (`perm`), or 404."""
    require_permission(user, perm, category=DataCategory.PATIENT_RECORD)
    return _found_at_users_sites(
        Medication.objects.select_related("patient__site"), medication_id, user,
        site="patient__site", category=DataCategory.PATIENT_RECORD, noun="medication",
    )  # fmt: skip


def scored_assessments(user: User, patient: Patient) -> list[Assessment] | None:
    """The patient's questionnaires with their scores, or None for a role that may not see
    scores (not loaded)."""
    if not user.has_perm(SCORES):
        return None
    return list(patient.assessments.select_related("recorded_by"))


def completions(patient: Patient) -> list[measurement.Completion]:
    """When each questionnaire was completed, without its score (due lists, for every role)."""
    return [
        measurement.Completion(instrument=code, at=at)
        for code, at in patient.assessments.values_list("instrument", "completed_at")
    ]


@dataclass(frozen=True)
class Visit:
    """A course's visit as the measures see it (the scheduling layer maps its appointments to
    these, cancelled ones left out): its number, when, when its infusion starts (after
    check-in: the measurement plan's before-infusion windows close then, and the baseline is
    the last score before the first), and whether the infusion was given."""

    number: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    infusion_at: dt.datetime
    given: bool


@dataclass(frozen=True)
class MeasureSummary:
    """One instrument's scores for a patient, with its outcome and chart (patient page)."""

    instrument: instruments.Instrument
    assessments: list[Assessment]
    baseline: Assessment | None
    latest: Assessment | None
    outcome: outcomes.Outcome | None
    trajectory: outcomes.Trajectory | None
    change_percent: Decimal | None
    remission_max: int | Decimal | None
    chart: SafeString
    rules: outcomes.OutcomeRules | None = None  # what classified it (the protocol's, if primary)

    @property
    def response_percent(self) -> Decimal | None:
        """The fall from baseline that counts as a response, in percent (50, or 30 for PTSD)."""
        return None if self.rules is None else self.rules.response_fraction * 100

    @property
    def partial_percent(self) -> Decimal | None:
        """The fall from baseline that counts as a partial response, in percent, if any."""
        partial = self.rules.partial_response_fraction if self.rules else None
        return None if partial is None else partial * 100


def measure_summaries(
    assessments: Sequence[Assessment],
    visits: Sequence[Visit],
    *,
    protocol: protocols.Protocol | None,
    tz: zoneinfo.ZoneInfo,
    induction_infusions: int | None = None,
) -> list[MeasureSummary]:
    """Group a patient's scores by instrument and classify each against its baseline.

    Baseline, response, partial response, remission and relapse follow sustain_core.outcomes
    (the last score at or before the first infusion). The protocol's own rules classify its
    outcome instrument: its response fraction (e.g. ≥ 30 % for PTSD [Feder2021]), its
    partial-response band and its remission override (Protocol.outcome_rules); other
    instruments keep their defaults (≥ 50 %). `induction_infusions` is the course's induction
    (Course.induction_infusions: more after an extension); None: the protocol's.
    """
    if induction_infusions is None:
        induction_infusions = protocol.induction_infusions if protocol else 0
    first_infusion = visits[0].infusion_at if visits else None
    induction = [a for a in visits if a.number <= induction_infusions]
    last_induction = (
        induction[-1].infusion_at if len(induction) >= induction_infusions and induction else None
    )
    markers = [
        charts.Marker(
            at=a.infusion_at.astimezone(tz),
            label=f"Infusion {a.number}",
            booster=a.number > induction_infusions,
        )
        for a in visits
        if a.given
    ]
    by_code: dict[str, list[Assessment]] = {}
    for assessment in assessments:
        by_code.setdefault(assessment.instrument, []).append(assessment)
    summaries = []
    for code, rows in by_code.items():
        instrument = instruments.get_instrument(code)
        rules = protocol.outcome_rules(code) if protocol else outcomes.DEFAULT_RULES.get(code)
        observations = [outcomes.Observation(at=a.completed_at, score=a.total_score) for a in rows]
        base_obs = (
            outcomes.baseline(observations, first_infusion_at=first_infusion)
            if first_infusion is not None
            else observations[-1]  # no infusion yet: the latest score is the baseline so far
        )
        base = rows[observations.index(base_obs)] if base_obs is not None else None
        latest = rows[-1]
        outcome = trajectory = None
        if rules is not None and base is not None and latest is not base:
            outcome = outcomes.classify(
                rules, baseline_score=base.total_score, current_score=latest.total_score
            )
        if rules is not None and first_infusion is not None:
            trajectory = outcomes.assess_trajectory(
                rules,
                observations,
                first_infusion_at=first_infusion,
                last_induction_infusion_at=last_induction,
                relapse_confirmation_days=protocol.relapse_confirmation_days if protocol else 7,
            )
        response_line = base.total_score * (1 - rules.response_fraction) if rules and base else None
        partial = rules.partial_response_fraction if rules else None
        partial_line = base.total_score * (1 - partial) if partial and base else None
        chart = charts.trajectory_chart(
            instrument,
            [(a.completed_at.astimezone(tz), a.total_score) for a in rows],
            markers,
            induction=(induction[0].starts_at.astimezone(tz), induction[-1].ends_at.astimezone(tz))
            if induction
            else None,
            response_line=response_line,
            partial_line=partial_line,
            remission_line=rules.remission_max if rules else None,
        )
        summaries.append(
            MeasureSummary(
                instrument=instrument,
                assessments=rows,
                baseline=base,
                latest=latest,
                outcome=outcome,
                trajectory=trajectory,
                change_percent=outcomes.score_percent_change(
                    baseline_score=base.total_score, current_score=latest.total_score
                )
                if base is not None and latest is not base
                else None,
                remission_max=rules.remission_max if rules else None,
                chart=chart,
                rules=rules,
            )
        )
    order = {code: n for n, code in enumerate(instruments.INSTRUMENTS)}
    return sorted(summaries, key=lambda s: order[s.instrument.code])


def due_measures(
    course: Course | None,
    visits: Sequence[Visit],
    completed: Sequence[measurement.Completion],
    *,
    now: dt.datetime,
    protocol: protocols.Protocol | None = None,
) -> tuple[measurement.DueItem, ...]:
    """What the course's measurement plan asks for now: due, overdue, missed, done, upcoming.

    The plan is the protocol's (sustain_core.protocols), `protocol` when the caller has read it
    already; timing rules are in sustain_core.measurement.due_items.
    """
    if course is None:
        return ()
    if protocol is None:
        protocol = protocol_versions.protocol_for(course)
    events = measurement.TreatmentEvents(
        infusions=tuple(a.infusion_at for a in visits),
        induction_count=course.induction_infusions(protocol),
        maintenance_started_at=course.maintenance_started_at,
    )
    return measurement.due_items(protocol.measurement_plan, events, completed, now=now)


def due_boosters(
    course: Course | None,
    visits: Sequence[Visit],
    measures: Sequence[MeasureSummary],
    *,
    today: dt.date,
    tz: zoneinfo.ZoneInfo,
) -> list[tuple[maintenance.Booster, Visit | None]]:
    """The boosters the signed review's plan makes due in the next 60 days, each with the
    visit booked in its window, if any (sustain_core.maintenance.plan_boosters)."""
    review = course.reviews.first() if course is not None else None
    if course is None or review is None or not review.plan:
        return []
    protocol = protocol_versions.protocol_for(course)
    option = protocols.maintenance_option_from_dict(review.plan)
    count = course.induction_infusions(protocol)
    induction = [a for a in visits if a.number <= count]
    if not induction:
        return []
    boosters_given = [a for a in visits if a.number > count and a.given]
    primary = next((m for m in measures if m.instrument.code == protocol.instrument), None)
    relapse_at = primary.trajectory.relapse_at if primary and primary.trajectory else None
    planned = maintenance.plan_boosters(
        option,
        last_infusion_on=induction[-1].starts_at.astimezone(tz).date(),
        until=today + dt.timedelta(days=60),
        relapse_confirmed_on=relapse_at.astimezone(tz).date() if relapse_at else None,
        last_booster_on=boosters_given[-1].starts_at.astimezone(tz).date()
        if boosters_given
        else None,
    )
    later = [a for a in visits if a.number > count]

    def booked_in(booster: maintenance.Booster) -> Visit | None:
        days = (booster.earliest_on, booster.latest_on)
        return next(
            (a for a in later if days[0] <= a.starts_at.astimezone(tz).date() <= days[1]), None
        )

    return [(booster, booked_in(booster)) for booster in planned]


def primary_measure(
    measures: Sequence[MeasureSummary], protocol: protocols.Protocol | None
) -> MeasureSummary | None:
    """The summary of the protocol's outcome instrument, if it was measured."""
    if protocol is None:
        return None
    return next((m for m in measures if m.instrument.code == protocol.instrument), None)


def has_responded(measures: Sequence[MeasureSummary], protocol: protocols.Protocol | None) -> bool:
    """Whether the protocol's outcome measure shows response or remission so far, by the
    protocol's own response fraction (measure_summaries)."""
    primary = primary_measure(measures, protocol)
    return (
        primary is not None
        and primary.trajectory is not None
        and primary.trajectory.status
        in {
            outcomes.TrajectoryStatus.RESPONDED,
            outcomes.TrajectoryStatus.REMITTED,
        }
    )
