"""The chair-side record: the dose for a visit, recording it, adverse events, titration and
the questionnaires taken at a visit. Each write is one transaction with its audit event."""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from django.db import transaction

from sustain.accounts.enums import DataCategory
from sustain.accounts.models import User
from sustain.care import protocol_versions
from sustain.care import queries as care_queries
from sustain.care import services as care
from sustain.care.enums import CourseStatus, Timepoint
from sustain.care.models import Assessment, Course
from sustain.care.rules import rules_for_record
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity
from sustain.infusion.models import AdverseEvent, InfusionRecord, VisitAssessment
from sustain.scheduling import queries as scheduling_queries
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment
from sustain_core import clinic_rules, dosing, protocols, session_dose
from sustain_core.errors import ClinicalValueError

INFUSING = (CourseStatus.INDUCTION, CourseStatus.MAINTENANCE, CourseStatus.RELAPSED)


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


@transaction.atomic
def record_infusion(
    *, appointment: Appointment, vial_mg_per_ml: Decimal, by: User, confirmed_at: dt.datetime
) -> InfusionRecord:
    """Record the nurse-confirmed dose for a booked visit and complete the visit.

    The dose is computed under the site's rules in force, and the record keeps that version
    (sustain.care.rules.rules_for_record). After the protocol's last induction infusion the
    course moves to post-induction review.
    """
    appointment = (
        Appointment.objects.select_for_update()
        .select_related("course", "patient__site", "site")
        .get(pk=appointment.pk)
    )
    if appointment.status != AppointmentStatus.BOOKED:
        raise ClinicalValueError("appointment", f"this visit is {appointment.status}, not booked")
    tz = appointment.site.tz
    visit_day, today = (
        appointment.starts_at.astimezone(tz).date(),
        confirmed_at.astimezone(tz).date(),
    )
    if visit_day != today:
        raise ClinicalValueError(
            "appointment",
            f"this visit is on {visit_day}, not today ({today}): an infusion is recorded on "
            "the day of its visit",
        )
    course = appointment.course
    if course.status in {CourseStatus.SCREENING, CourseStatus.READY}:
        # Infusion 1 starts induction: the lifecycle's guards (consent, a signed screen, the
        # baseline measures, a current weight) must hold, or nothing is recorded.
        for phase in (CourseStatus.READY, CourseStatus.INDUCTION):
            if course.status != phase:
                course = care.change_course_status(
                    course=course, status=phase, by=by, at=confirmed_at
                )
    if course.status not in INFUSING:
        raise ClinicalValueError(
            "course",
            f"no infusion can be recorded while the course is {course.get_status_display()}",
        )
    rules = rules_for_record(appointment.site, now=confirmed_at)
    plan = plan_dose(appointment=appointment, vial_mg_per_ml=vial_mg_per_ml, rules=rules.as_rules())
    record = InfusionRecord(
        appointment=appointment,
        patient=appointment.patient,
        course=appointment.course,
        weight_kg=plan.weight_kg,
        vial_mg_per_ml=plan.vial_mg_per_ml,
        drug_volume_ml=plan.drug_volume_ml,
        bag_volume_ml=plan.bag_volume_ml,
        infusion_minutes=protocol_versions.protocol_for(course).regimen.infusion_minutes,
        pump_rate_ml_per_h=plan.pump_rate_ml_per_h,
        confirmed_at=confirmed_at,
        confirmed_by=by,
        clinic_rules=rules,
    )
    if isinstance(plan, dosing.DosePlan):
        record.mg_per_kg, record.dose_mg = plan.mg_per_kg, plan.dose_mg
    else:
        record.mg_per_kg_per_h, record.dose_mg = plan.mg_per_kg_per_h, plan.total_mg
        record.dose_rate_mg_per_h, record.capped = plan.dose_rate_mg_per_h, plan.capped
    record.full_clean()
    record.save(force_insert=True)
    appointment.status = AppointmentStatus.COMPLETED
    appointment.save(update_fields=["status"])
    protocol = protocol_versions.protocol_for(course)
    if (
        course.status == CourseStatus.INDUCTION
        and appointment.number >= protocol.induction_infusions
    ):
        care.change_course_status(
            course=course, status=CourseStatus.REVIEW, by=by, at=confirmed_at,
            infusions_given=infusions_given(course),
        )  # fmt: skip
    care.record_patient_event(
        by=by, patient=appointment.patient, category=DataCategory.INFUSION, obj=record
    )
    return record


def has_responded(course: Course) -> bool:
    """Whether the course's outcome measure shows response or remission so far
    (care.queries.measure_summaries over the course's visits)."""
    protocol = protocol_versions.protocol_for(course)
    visits = scheduling_queries.as_visits(list(course.appointments.order_by("starts_at")))
    measures = care_queries.measure_summaries(
        list(course.patient.assessments.all()), visits, protocol=protocol,
        tz=course.patient.site.tz,
    )  # fmt: skip
    return care_queries.has_responded(measures, protocol)


def titration_suggestion(course: Course, *, responded: bool) -> protocols.TitrationDecision | None:
    """The protocol's titration decision for the next infusion (sustain_core.protocols.titrate).

    Dissociation is the CADSS entered for the last infusion given; tolerance and blood pressure
    come with the infusion-day records (a later issue): tolerance is taken as confirmed by the
    prescriber who applies the decision, and no blood-pressure rule can fire yet.
    """
    protocol = protocol_versions.protocol_for(course)
    if not protocol.titration or protocol.regimen.mg_per_kg is None:
        return None
    given = list(course.infusions.select_related("appointment").order_by("appointment__starts_at"))
    if course.status != CourseStatus.INDUCTION or not given:
        return None
    cadss = (
        Assessment.objects.filter(instrument="cadss", visit_link__appointment=given[-1].appointment)
        .order_by("-completed_at")
        .values_list("total_score", flat=True)
        .first()
    )
    return protocols.titrate(
        protocol,
        current_mg_per_kg=course.dose_mg_per_kg or protocol.regimen.mg_per_kg,
        infusions_given=len(given),
        responded=responded,
        tolerated=True,
        dissociation_score=int(cadss) if cadss is not None else None,
        systolic_max=None,
        diastolic_max=None,
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
) -> AdverseEvent:
    if kind == AdverseEventKind.OTHER and not description.strip():
        raise ClinicalValueError("description", "describe an adverse event of kind other")
    event = AdverseEvent.objects.create(
        infusion=infusion, kind=kind, severity=severity, description=description.strip(),
        action_taken=action_taken.strip(), recorded_by=by, recorded_at=now,
    )  # fmt: skip
    care.record_patient_event(
        by=by, patient=infusion.patient, category=DataCategory.INFUSION, obj=event
    )
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
