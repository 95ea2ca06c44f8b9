"""The dose for a visit, adverse events, titration and the questionnaires taken at a visit
(the chair-side record's steps are sustain.infusion.chairside). Each write is one transaction
with its audit event."""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, F, Max, OuterRef, Q

from sustain.accounts.enums import DataCategory
from sustain.accounts.models import User
from sustain.care import protocol_versions
from sustain.care import queries as care_queries
from sustain.care import services as care
from sustain.care.enums import CourseStatus, Timepoint
from sustain.care.models import Assessment, Course
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity, EventKind
from sustain.infusion.models import (
    SIGNED,
    AdverseEvent,
    ChairsideRecord,
    InfusionEvent,
    InfusionRecord,
    VisitAssessment,
)
from sustain.scheduling import queries as scheduling_queries
from sustain.scheduling.models import Appointment
from sustain_core import clinic_rules, dosing, protocols, session_dose
from sustain_core.errors import ClinicalValueError

INFUSING = (CourseStatus.INDUCTION, CourseStatus.MAINTENANCE, CourseStatus.RELAPSED)


# The highest systolic and diastolic pressure while infusing (a chair-side record's readings
# from its start to its end, or until now while it runs), as annotations of ChairsideRecord.
_DURING = Q(vitals__taken_at__gte=F("started_at")) & (
    Q(ended_at__isnull=True) | Q(vitals__taken_at__lte=F("ended_at"))
)
HIGHEST_SYSTOLIC = Max("vitals__systolic_mmhg", filter=_DURING)
HIGHEST_DIASTOLIC = Max("vitals__diastolic_mmhg", filter=_DURING)


class StepRefused(ClinicalValueError):
    """The record does not allow this step now (HTTP 409 in the API): nothing was saved."""


def infusions_given(course: Course) -> int:
    """How many infusions of the course were given (the review guard counts them)."""
    return InfusionRecord.objects.filter(course=course).count()


def plan_dose(
    *, appointment: Appointment, vial_mg_per_ml: Decimal, rules: clinic_rules.ClinicRules
) -> dosing.DosePlan | dosing.HourlyDosePlan:
    """The dose for this visit from the latest weight and the course's protocol, under the
    clinic's `rules`: the weight must have been measured within its days of the visit day
    (sustain_core.dosing.check_weight_recency), and the dose is on the body weight it says
    (actual, ideal or adjusted: sustain_core.dosing.dosing_weight_kg).
    """
    protocol = protocol_versions.protocol_for(appointment.course)
    weight = appointment.patient.weights.first()
    if weight is None:
        raise ClinicalValueError("weight_kg", "no weight is recorded for this patient")
    visit_day = appointment.starts_at.astimezone(appointment.patient.site.tz).date()
    dosing.check_weight_recency(
        measured_on=weight.measured_on,
        today=visit_day,
        max_age_days=rules.weight_max_age_days,
    )
    patient = appointment.patient
    dosing_weight = dosing.dosing_weight_kg(
        actual_kg=weight.weight_kg,
        height_cm=patient.height_cm,
        sex=patient.sex,
        basis=rules.dosing_weight_basis,
        bmi_threshold=rules.dosing_bmi_threshold,
    )
    return session_dose.plan_protocol_dose(
        protocol,
        weight_kg=dosing_weight,
        vial_mg_per_ml=vial_mg_per_ml,
        titrated_mg_per_kg=appointment.course.dose_mg_per_kg,  # None: the protocol's dose
    )


def course_dose_total(course: Course) -> tuple[int, Decimal, Decimal] | None:
    """Infusions given, total mg and cumulative mg/kg (on each infusion's own weight basis:
    the total mg over the latest weight; sustain_core.dosing.cumulative_mg_per_kg)."""
    doses = list(course.infusions.values_list("dose_mg", flat=True))
    weight = course.patient.weights.first()
    if not doses or weight is None:
        return None
    return len(doses), sum(doses, Decimal(0)), dosing.cumulative_mg_per_kg(doses, weight.weight_kg)


def course_measures(course: Course) -> list[care_queries.MeasureSummary]:
    """The patient's measures over the course's visits, classified by the course's protocol
    (care.queries.measure_summaries: its own response and partial-response fractions)."""
    protocol = protocol_versions.protocol_for(course)
    visits = scheduling_queries.as_visits(list(course.appointments.order_by("starts_at")))
    return care_queries.measure_summaries(
        list(course.patient.assessments.all()), visits, protocol=protocol,
        tz=course.patient.site.tz, induction_infusions=course.induction_infusions(protocol),
    )  # fmt: skip


def has_responded(course: Course) -> bool:
    """Whether the course's outcome measure shows response or remission so far, by the
    protocol's own response fraction (titration's "responded")."""
    protocol = protocol_versions.protocol_for(course)
    return care_queries.has_responded(course_measures(course), protocol)


def titration_suggestion(course: Course, *, responded: bool) -> protocols.TitrationDecision | None:
    """The protocol's titration decision for the next infusion (sustain_core.protocols.titrate),
    from what happened at the last infusion given, as its chair-side record holds it: the
    highest systolic and diastolic pressure while infusing, the CADSS taken at the visit, and
    whether it was tolerated (not stopped, no severe adverse event). An infusion without a
    record counts as not tolerated: nothing known, no increase."""
    protocol = protocol_versions.protocol_for(course)
    if not protocol.titration or protocol.regimen.mg_per_kg is None:
        return None
    given = list(course.infusions.select_related("appointment").order_by("appointment__starts_at"))
    if course.status != CourseStatus.INDUCTION or not given:
        return None
    last = given[-1]
    cadss = (
        Assessment.objects.filter(instrument="cadss", visit_link__appointment=last.appointment)
        .order_by("-completed_at")
        .values_list("total_score", flat=True)
        .first()
    )
    record = (
        ChairsideRecord.objects.filter(appointment=last.appointment, started_at__isnull=False)
        .annotate(
            systolic_max=HIGHEST_SYSTOLIC,
            diastolic_max=HIGHEST_DIASTOLIC,
            stopped=Exists(
                InfusionEvent.objects.filter(record=OuterRef("pk"), kind=EventKind.STOP)
            ),
            severe=Exists(
                AdverseEvent.objects.filter(
                    infusion__appointment=OuterRef("appointment"),
                    severity=AdverseEventSeverity.SEVERE,
                )
            ),
        )
        .first()
    )
    return protocols.titrate(
        protocol,
        current_mg_per_kg=course.dose_mg_per_kg or protocol.regimen.mg_per_kg,
        infusions_given=len(given),
        responded=responded,
        tolerated=record is not None and not (record.stopped or record.severe),
        dissociation_score=int(cadss) if cadss is not None else None,
        systolic_max=record.systolic_max if record is not None else None,
        diastolic_max=record.diastolic_max if record is not None else None,
    )


@transaction.atomic
def apply_titration(*, course: Course, by: User, at: dt.datetime) -> protocols.TitrationDecision:
    """A prescriber applies the protocol's titration decision to the course's next infusions.

    The decision is recomputed here (never taken from the request), so only a dose the
    protocol's rules give can be set; the change is on the course timeline and audited.
    """
    if not by.has_perm("care.prescribe"):
        raise ClinicalValueError("by", "a prescriber changes the dose")
    course = Course.objects.select_for_update().select_related("patient__site").get(pk=course.pk)
    decision = titration_suggestion(course, responded=has_responded(course))
    if decision is None or decision.action == protocols.TitrationAction.UNCHANGED:
        raise ClinicalValueError("dose", "the protocol's titration rules change nothing now")
    care.set_course_dose(
        course=course, mg_per_kg=decision.mg_per_kg, by=by, at=at,
        reason=f"({decision.action}): {decision.reason}",
    )  # fmt: skip
    return decision


@transaction.atomic
def record_adverse_event(
    *,
    infusion: InfusionRecord,
    kind: AdverseEventKind,
    severity: AdverseEventSeverity,
    description: str,
    action_taken: str,
    by: User,
    now: dt.datetime,
    serious: bool = False,
) -> AdverseEvent:
    """Record an adverse event at the infusion (kinds and their frequencies: clinical-facts
    §5e, [Rodrigues2020] [Singh2016] [Ketalar-label]).

    A severe one (its intensity) or a serious one (its outcome: death, a threat to life,
    hospitalisation, lasting disability or an important medical event, as 21 CFR 312.32(a)
    defines it) is refused without a description of what happened, and alerts the course's
    prescriber like a suicide-risk score does (care.services.raise_adverse_event_alert). The
    label asks for monitoring and for emergency care to hand (clinical-facts §5a,
    [Ketalar-label]); that such an event is described and reaches the prescriber is this
    platform's requirement (issue 13), not a published rule."""
    if ChairsideRecord.objects.filter(
        appointment_id=infusion.appointment_id, stage__in=SIGNED
    ).exists():
        raise StepRefused("infusion", "the record is signed: add an addendum instead")
    described = description.strip()
    if kind == AdverseEventKind.OTHER and not described:
        raise ClinicalValueError("description", "describe an adverse event of kind other")
    alerting = severity == AdverseEventSeverity.SEVERE or serious
    if alerting and not described:
        raise ClinicalValueError(
            "description",
            "describe a severe or serious adverse event: what happened (up to 300 characters)",
        )
    event = AdverseEvent.objects.create(
        infusion=infusion, kind=kind, severity=severity, serious=serious, description=described,
        action_taken=action_taken.strip(), recorded_by=by, recorded_at=now,
    )  # fmt: skip
    care.record_patient_event(
        by=by, patient=infusion.patient, category=DataCategory.INFUSION, obj=event
    )
    if alerting:
        what = ", ".join(
            w
            for w, on in (("severe", severity == AdverseEventSeverity.SEVERE), ("serious", serious))
            if on
        )
        care.raise_adverse_event_alert(
            course=infusion.course, by=by, at=now,
            detail=f"{AdverseEventKind(kind).label} ({what}) at infusion "
            f"{infusion.appointment.number}: {described}",
        )  # fmt: skip
    return event


@transaction.atomic
def record_visit_assessment(
    *,
    appointment: Appointment,
    instrument: str,
    answers: Mapping[str, int | None],
    timepoint: Timepoint,
    by: User,
    completed_at: dt.datetime,
    now: dt.datetime,
) -> Assessment:
    """Record a questionnaire taken at a visit (care.services.record_assessment) and link it to
    the visit: the pre-infusion PHQ-9, or CADSS/MADRS from the infusion record."""
    assessment = care.record_assessment(
        patient=appointment.patient, instrument=instrument, answers=answers,
        timepoint=timepoint, by=by, completed_at=completed_at, now=now,
    )  # fmt: skip
    VisitAssessment.objects.create(appointment=appointment, assessment=assessment)
    return assessment
