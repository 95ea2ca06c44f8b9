"""Reads of patient data. Each one checks access and writes an audit event."""

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.http import Http404
from django.utils.safestring import SafeString

from sustain.accounts.access import require_permission
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import User
from sustain.care import charts, protocol_versions
from sustain.care.models import ACTIVE_COURSE_STATUSES, Alert, Assessment, Course, Patient
from sustain.scheduling.enums import OCCUPYING, AppointmentStatus
from sustain.scheduling.models import Appointment
from sustain_core import instruments, maintenance, measurement, outcomes, protocols


def get_patient_for_user(user: User, patient_id: int, *, audit_read: bool = True) -> Patient:
    """Return the patient if `user` may see them; another site's patient is a 404.

    `audit_read=False` is for views that may not show the record (a write that redirects is
    audited by its service); they call `audit_patient_read` when they do render it.
    """
    require_permission(user, "care.view_patient", category=DataCategory.PATIENT_RECORD)
    patient = (
        Patient.objects.select_related("site")
        .filter(pk=patient_id, site__memberships__user=user)
        .first()
    )
    if patient is None:
        record_event(
            actor=user,
            action=AuditAction.READ,
            category=DataCategory.PATIENT_RECORD,
            outcome=AuditOutcome.DENIED,
            patient_id=patient_id if Patient.objects.filter(pk=patient_id).exists() else None,
        )
        raise Http404("No such patient.")
    if audit_read:
        audit_patient_read(user, patient)
    return patient


def audit_patient_read(user: User, patient: Patient) -> None:
    record_event(
        actor=user,
        action=AuditAction.READ,
        category=DataCategory.PATIENT_RECORD,
        site=patient.site,
        patient_id=patient.pk,
        obj=patient,
    )


def next_booked_visit(patient: Patient) -> Appointment | None:
    """The patient's earliest visit still booked (the one a pre-infusion PHQ-9 precedes)."""
    return (
        patient.appointments.filter(status=AppointmentStatus.BOOKED).order_by("starts_at").first()
    )


def get_appointment_for_user(user: User, appointment_id: int) -> Appointment:
    """An appointment at one of the user's sites (no audit: callers audit the write)."""
    appointment = (
        Appointment.objects.select_related("patient", "course", "chair", "site")
        .filter(pk=appointment_id, site__memberships__user=user)
        .first()
    )
    if appointment is None:
        raise Http404("No such appointment.")
    return appointment


def get_alert_for_user(user: User, alert_id: int) -> Alert:
    alert = (
        Alert.objects.select_related("patient__site")
        .filter(pk=alert_id, patient__site__memberships__user=user)
        .first()
    )
    if alert is None:
        raise Http404("No such alert.")
    return alert


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


def measure_summaries(
    assessments: Sequence[Assessment],
    appointments: Sequence[Appointment],
    *,
    protocol: protocols.Protocol | None,
    tz: zoneinfo.ZoneInfo,
) -> list[MeasureSummary]:
    """Group a patient's scores by instrument and classify each against its baseline.

    Baseline, response, remission and relapse follow sustain_core.outcomes (the last score at
    or before the first infusion; ≥ 50 % reduction; per-instrument remission thresholds). The
    protocol's remission override applies to its primary instrument only.
    """
    induction_infusions = protocol.induction_infusions if protocol else 0
    visits = [a for a in appointments if a.status != AppointmentStatus.CANCELLED]
    first_infusion = visits[0].starts_at if visits else None
    induction = [a for a in visits if a.number <= induction_infusions]
    last_induction = (
        induction[-1].starts_at if len(induction) >= induction_infusions and induction else None
    )
    markers = [
        charts.Marker(
            at=a.starts_at.astimezone(tz),
            label=f"Infusion {a.number}",
            booster=a.number > induction_infusions,
        )
        for a in visits
        if a.status == AppointmentStatus.COMPLETED
    ]
    by_code: dict[str, list[Assessment]] = {}
    for assessment in assessments:
        by_code.setdefault(assessment.instrument, []).append(assessment)
    summaries = []
    for code, rows in by_code.items():
        instrument = instruments.get_instrument(code)
        rules = outcomes.DEFAULT_RULES.get(code)
        if (
            rules is not None
            and protocol is not None
            and protocol.remission_max_override is not None
            and code == protocol.instrument
        ):
            rules = outcomes.rules_for(code, remission_max=protocol.remission_max_override)
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
        chart = charts.trajectory_chart(
            instrument,
            [(a.completed_at.astimezone(tz), a.total_score) for a in rows],
            markers,
            induction=(induction[0].starts_at.astimezone(tz), induction[-1].ends_at.astimezone(tz))
            if induction
            else None,
            response_line=response_line,
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
            )
        )
    order = {code: n for n, code in enumerate(instruments.INSTRUMENTS)}
    return sorted(summaries, key=lambda s: order[s.instrument.code])


def due_measures(
    course: Course | None,
    appointments: Sequence[Appointment],
    assessments: Sequence[Assessment],
    *,
    now: dt.datetime,
) -> tuple[measurement.DueItem, ...]:
    """What the course's measurement plan asks for now: due, overdue, missed, done, upcoming.

    The plan is the protocol's (sustain_core.protocols); timing rules are in
    sustain_core.measurement.due_items.
    """
    if course is None:
        return ()
    protocol = protocol_versions.protocol_for(course)
    visits = [a for a in appointments if a.status != AppointmentStatus.CANCELLED]
    events = measurement.TreatmentEvents(
        infusions=tuple(a.starts_at for a in visits),
        induction_count=protocol.induction_infusions,
        maintenance_started_at=course.maintenance_started_at,
    )
    completions = [
        measurement.Completion(instrument=a.instrument, at=a.completed_at) for a in assessments
    ]
    return measurement.due_items(protocol.measurement_plan, events, completions, now=now)


def due_by_patient(
    patient_ids: Sequence[int], *, now: dt.datetime
) -> dict[int, list[measurement.DueItem]]:
    """Due and overdue measures for several patients at once (three queries, for day boards)."""
    courses = {
        c.patient_id: c
        for c in Course.objects.filter(
            patient_id__in=patient_ids, status__in=ACTIVE_COURSE_STATUSES
        )
    }
    appointments: dict[int, list[Appointment]] = {pid: [] for pid in patient_ids}
    for appointment in Appointment.objects.filter(
        course__in=courses.values(),
        status__in=OCCUPYING,
    ).order_by("starts_at"):
        appointments[appointment.patient_id].append(appointment)
    assessments: dict[int, list[Assessment]] = {pid: [] for pid in patient_ids}
    for assessment in Assessment.objects.filter(patient_id__in=patient_ids).only(
        "patient_id", "instrument", "completed_at"
    ):
        assessments[assessment.patient_id].append(assessment)
    return {
        pid: [
            item
            for item in due_measures(courses.get(pid), appointments[pid], assessments[pid], now=now)
            if item.status in {measurement.DueStatus.DUE, measurement.DueStatus.OVERDUE}
        ]
        for pid in patient_ids
    }


def due_boosters(
    course: Course | None,
    appointments: Sequence[Appointment],
    measures: Sequence[MeasureSummary],
    *,
    today: dt.date,
    tz: zoneinfo.ZoneInfo,
) -> list[tuple[maintenance.Booster, Appointment | None]]:
    """The boosters the signed review's plan makes due in the next 60 days, each with the
    visit booked in its window, if any (sustain_core.maintenance.plan_boosters)."""
    review = course.reviews.first() if course is not None else None
    if course is None or review is None or not review.plan:
        return []
    protocol = protocol_versions.protocol_for(course)
    option = protocols.maintenance_option_from_dict(review.plan)
    visits = [a for a in appointments if a.status != AppointmentStatus.CANCELLED]
    induction = [a for a in visits if a.number <= protocol.induction_infusions]
    if not induction:
        return []
    boosters_given = [
        a for a in visits
        if a.number > protocol.induction_infusions and a.status == AppointmentStatus.COMPLETED
    ]  # fmt: skip
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
    later = [a for a in visits if a.number > protocol.induction_infusions]

    def booked_in(booster: maintenance.Booster) -> Appointment | None:
        days = (booster.earliest_on, booster.latest_on)
        return next(
            (a for a in later if days[0] <= a.starts_at.astimezone(tz).date() <= days[1]), None
        )

    return [(booster, booked_in(booster)) for booster in planned]


def has_responded(measures: Sequence[MeasureSummary], protocol: protocols.Protocol | None) -> bool:
    """Whether the protocol's outcome measure shows response or remission so far."""
    if protocol is None:
        return False
    primary = next((m for m in measures if m.instrument.code == protocol.instrument), None)
    return (
        primary is not None
        and primary.trajectory is not None
        and primary.trajectory.status
        in {
            outcomes.TrajectoryStatus.RESPONDED,
            outcomes.TrajectoryStatus.REMITTED,
        }
    )
