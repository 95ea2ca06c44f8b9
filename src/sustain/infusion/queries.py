"""Reads of the infusion record."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils.safestring import SafeString

from sustain.accounts.access import require_permission
from sustain.accounts.enums import DataCategory
from sustain.accounts.models import User
from sustain.care import protocol_versions
from sustain.care.models import Assessment, Course
from sustain.care.pk_chart import Plasma
from sustain.care.rules import current_rules
from sustain.infusion import chairside, services
from sustain.infusion.charts import Reading, vitals_chart
from sustain.infusion.enums import Stage
from sustain.infusion.models import ChairsideRecord, InfusionEvent, InfusionRecord, VitalsReading
from sustain.infusion.plasma import record_plasma
from sustain.ledger.visits import VisitLedger, usable_containers, visit_ledger
from sustain.scheduling import queries as scheduling_queries
from sustain.scheduling.models import Appointment
from sustain_core import dosing, infusion_day, protocols
from sustain_core.errors import ClinicalValueError
from sustain_core.protocols import guardrails


def get_visit_for_change(user: User, appointment_id: int, perm: str) -> Appointment:
    """A visit at one of the user's sites, to act on (`perm`); the service audits the write,
    and a page that shows the record records the read (care.queries.record_patient_read)."""
    require_permission(user, perm, category=DataCategory.INFUSION)
    return scheduling_queries.get_appointment_for_user(user, appointment_id)


DOSES = "infusion.view_infusionrecord"  # doses planned and given, titration


@dataclass(frozen=True)
class DoseView:
    """The doses of a course as the patient page shows them: the next visit's plan (or why
    there is none), what each visit was given, the course's totals and the titration the
    protocol suggests."""

    next_plan: dosing.DosePlan | dosing.HourlyDosePlan | None
    next_plan_refused: str
    next_plan_refused_field: str  # what to record, e.g. "height_cm" (the page offers its form)
    given: dict[int, InfusionRecord]  # by appointment id
    course_total: tuple[int, Decimal, Decimal] | None
    titration: protocols.TitrationDecision | None
    weight_basis: str
    # A prescriber's own dose (care.services.set_course_dose): above the titration cap a
    # second prescriber co-signs; above the platform ceiling it is refused. None: per hour.
    titration_cap_mg_per_kg: Decimal | None
    ceiling_mg_per_kg: Decimal | None
    bmi_threshold: Decimal


def dose_view(
    user: User,
    course: Course | None,
    *,
    protocol: protocols.Protocol | None,
    next_visit: Appointment | None,
    responded: bool,
) -> DoseView | None:
    """The course's doses under its ``protocol`` (the caller's protocol_for(course)), or
    None for a role that may not see doses (nothing is loaded)."""
    if course is None or protocol is None or not user.has_perm(DOSES):
        return None
    next_plan, refused, refused_field = None, "", ""
    rules = current_rules(course.patient.site).as_rules()
    if next_visit is not None:
        try:
            next_plan = services.plan_dose(
                appointment=next_visit,
                vial_mg_per_ml=dosing.ALLOWED_VIAL_MG_PER_ML[-1],
                rules=rules,
            )
        except ClinicalValueError as error:
            refused, refused_field = error.message, error.field
    per_session = protocol.regimen.mg_per_kg is not None
    return DoseView(
        next_plan=next_plan,
        next_plan_refused=refused,
        next_plan_refused_field=refused_field,
        given={r.appointment_id: r for r in InfusionRecord.objects.filter(course=course)},
        course_total=services.course_dose_total(course),
        titration=services.titration_suggestion(course, responded=responded),
        weight_basis=rules.dosing_weight_basis,
        titration_cap_mg_per_kg=guardrails.titration_cap_mg_per_kg(protocol),
        ceiling_mg_per_kg=(
            guardrails.session_ceiling_mg_per_kg(protocol.regimen.infusion_minutes)
            if per_session
            else None
        ),
        bmi_threshold=rules.dosing_bmi_threshold,
    )


@dataclass(frozen=True)
class ReadingRow:
    """A set of vital signs as the record shows it, with what it set off: a deferral before
    the start, a stop during the infusion."""

    reading: VitalsReading
    flags: tuple[str, ...]


@dataclass(frozen=True)
class ChairsideView:
    """A visit's chair-side record as its page and its PDF show it."""

    record: ChairsideRecord | None
    protocol: protocols.Protocol
    gate: tuple[infusion_day.GateFailure, ...]
    # The dose planned for each vial strength the site holds usable stock of (the start form's
    # first vial's strength first): the volume to draw depends on the vial chosen.
    plans: list[tuple[Decimal, dosing.DosePlan | dosing.HourlyDosePlan]]
    plan_refused: str
    vial: Decimal
    given: InfusionRecord | None
    readings: list[ReadingRow]
    chart: SafeString
    due: tuple[infusion_day.DueReading, ...]
    events: list[InfusionEvent]
    discharge_failures: tuple[str, ...]
    cadss: list[Assessment]
    cadss_due_at: dt.datetime | None
    # The interacting medications on the patient's list, with this visit's last doses.
    interacting: list[chairside.InteractingMedication]
    # What the ledger holds for the visit: per container drawn, given, wasted (and witness).
    ledger: VisitLedger
    # The modelled plasma level of the infusion as given (sustain.infusion.plasma): a model.
    plasma: Plasma


def _stock_strengths(appointment: Appointment, now: dt.datetime) -> list[Decimal]:
    """The vial strengths a dose can be drawn from at the visit's site today (its usable stock,
    in the order the start form offers it), or the usual 50 mg/mL when it holds none."""
    site = appointment.site
    offered = usable_containers(site, now.astimezone(site.tz).date()).values_list(
        "lot__product__strength_mg_per_ml", flat=True
    )
    strengths = [Decimal(s) for s in dict.fromkeys(offered)]
    allowed = [s for s in strengths if s in dosing.ALLOWED_VIAL_MG_PER_ML]
    return allowed or [dosing.ALLOWED_VIAL_MG_PER_ML[-1]]


def chairside_view(appointment: Appointment, *, now: dt.datetime) -> ChairsideView:
    """Everything the chair-side page shows of the visit (its caller checked the access and
    audits the read)."""
    record = ChairsideRecord.objects.filter(appointment=appointment).first()
    protocol = protocol_versions.protocol_for(appointment.course)
    safety, plan_of_watch = protocol.safety, protocol.monitoring
    given = InfusionRecord.objects.filter(appointment=appointment).first()
    strengths = [given.vial_mg_per_ml] if given else _stock_strengths(appointment, now)
    plans, refused = [], ""
    if given is None:
        rules = current_rules(appointment.site).as_rules()
        try:
            plans = [
                (strength, services.plan_dose(
                    appointment=appointment, vial_mg_per_ml=strength, rules=rules,
                ))
                for strength in strengths
            ]  # fmt: skip
        except ClinicalValueError as error:
            refused = error.message
    readings = list(record.vitals.select_related("recorded_by")) if record else []
    rows = [ReadingRow(r, _flags(record, r, safety)) for r in readings] if record else []
    events = list(record.events.select_related("by")) if record else []
    started = record.started_at if record else None
    ended = record.ended_at if record else None
    cadss_due = None
    if started is not None:
        cadss_due = (
            started + dt.timedelta(minutes=plan_of_watch.cadss_after_start_minutes)
            if plan_of_watch.cadss_after_start_minutes is not None
            else ended or started + dt.timedelta(minutes=protocol.regimen.infusion_minutes)
        )
    return ChairsideView(
        record=record,
        protocol=protocol,
        gate=chairside.gate(record, now=now)
        if record is not None and record.stage in chairside.BEFORE_START
        else (),
        plans=plans,
        plan_refused=refused,
        vial=strengths[0],
        given=given,
        readings=rows,
        chart=vitals_chart(
            [
                Reading(r.taken_at, r.systolic_mmhg, r.diastolic_mmhg, r.heart_rate_bpm)
                for r in readings
            ],
            started_at=started,
            ended_at=ended,
            stop_systolic=safety.stop_systolic_above,
            stop_diastolic=safety.stop_diastolic_above,
            stop_heart_rate=safety.stop_heart_rate_above,
            tz=appointment.site.tz,
        ),
        due=chairside.readings_due(record, now=now)
        if record is not None and record.stage not in chairside.LEFT
        else (),
        events=events,
        discharge_failures=chairside.discharge_failures(
            record,
            aldrete=None,
            dissociation_resolved=record.dissociation_resolved,
            escort_present=record.escort_present,
            now=now,
        )
        if record is not None and record.stage == Stage.RECOVERING
        else (),
        cadss=list(
            Assessment.objects.filter(
                visit_link__appointment=appointment, instrument="cadss"
            ).order_by("completed_at")
        ),
        cadss_due_at=cadss_due,
        interacting=chairside.interacting_medications(record, appointment)
        if record is not None
        else [],
        ledger=visit_ledger(appointment),
        plasma=record_plasma(given=given, record=record, events=events, tz=appointment.site.tz),
    )


def _flags(
    record: ChairsideRecord, reading: VitalsReading, safety: protocols.SafetyThresholds
) -> tuple[str, ...]:
    vitals = reading.as_vitals()
    if record.started_at is None or reading.taken_at < record.started_at:
        return infusion_day.deferral_reasons(vitals, safety)
    if record.ended_at is None or reading.taken_at <= record.ended_at:
        return infusion_day.stop_reasons(vitals, safety)
    return ()


def checks_initial(record: ChairsideRecord | None, tz: dt.tzinfo) -> dict[str, object]:
    """The checks form as last answered (times in the site's wall clock)."""
    if record is None:
        return {}
    initial: dict[str, object] = {name: getattr(record, name) for name in chairside.CHECK_FIELDS}
    for name in ("last_food_at", "last_clear_fluids_at"):
        value = getattr(record, name)
        initial[name] = value.astimezone(tz).replace(tzinfo=None) if value else None
    return initial
