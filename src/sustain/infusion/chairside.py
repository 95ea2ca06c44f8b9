"""The infusion day at the chair: one record per visit, moved on only as the rules allow.

Check-in opens the record on the visit's day; the pre-infusion gate (sustain_core.infusion_day
.gate_failures) must be open before the dose is verified and started; vital signs are checked
as they are entered, and one past a stop threshold stops the infusion until a prescriber
resumes it; discharge needs the protocol's criteria (or a prescriber's override with a
reason); the nurse signs, a prescriber co-signs, and the record is locked: addenda only. Each
step is one transaction with its audit event, and a refused step saves nothing. The visit's
phase on the day board follows the record.
"""

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

from django.db import IntegrityError, transaction

from sustain.accounts.access import require_permission
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import User
from sustain.care import protocol_versions
from sustain.care import queries as care_queries
from sustain.care import services as care
from sustain.care.enums import AlertKind, AlertStatus, CourseStatus, Sex
from sustain.care.models import Medication
from sustain.care.rules import current_rules, rules_for_record
from sustain.infusion import course_reviews
from sustain.infusion.enums import EventKind, PregnancyTest, Stage
from sustain.infusion.models import (
    Addendum,
    ChairsideRecord,
    InfusionEvent,
    InfusionRecord,
    LastDose,
    VitalsReading,
)
from sustain.infusion.services import (
    HIGHEST_DIASTOLIC,
    HIGHEST_SYSTOLIC,
    INFUSING,
    StepRefused,
    infusions_given,
    plan_dose,
)
from sustain.ledger import services as ledger
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import Container, LedgerEntry
from sustain.ledger.visits import visit_ledger
from sustain.scheduling import queries as scheduling_queries
from sustain.scheduling import services as scheduling
from sustain.scheduling.enums import AppointmentStatus, VisitPhase
from sustain.scheduling.models import Appointment
from sustain_core import dosing, infusion_day, measurement, medications
from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.infusion_day import GateFailure, Vitals
from sustain_core.protocols import Protocol, SafetyThresholds

# The day board's phase for each stage of the record.
PHASE = {
    Stage.CHECKING_IN: VisitPhase.ARRIVED,
    Stage.READY: VisitPhase.IN_CHAIR,
    Stage.INFUSING: VisitPhase.INFUSING,
    Stage.STOPPED: VisitPhase.INFUSING,
    Stage.RECOVERING: VisitPhase.RECOVERING,
    Stage.DISCHARGED: VisitPhase.DISCHARGED,
    Stage.SIGNED: VisitPhase.DISCHARGED,
    Stage.COSIGNED: VisitPhase.DISCHARGED,
}
BEFORE_START = (Stage.CHECKING_IN, Stage.READY)
LEFT = (Stage.DISCHARGED, Stage.SIGNED, Stage.COSIGNED)
AT_THE_CHAIR = "infusion.add_infusionrecord"  # nurses and prescribers
CHECK_FIELDS = (
    "identity_confirmed", "last_food_at", "last_clear_fluids_at", "escort_present",
    "no_driving_confirmed", "pregnancy_test", "substance_use_asked", "substance_use",
    "medication_changes_asked", "medication_changes",
)  # fmt: skip
SUICIDE_ALERTS = (AlertKind.SUICIDE_RISK, AlertKind.CSSRS_RISK)
P = ParamSpec("P")
T = TypeVar("T")


def _audit(record: ChairsideRecord, by: User, action: AuditAction = AuditAction.UPDATE) -> None:
    care.record_patient_event(
        by=by, patient=record.appointment.patient, category=DataCategory.INFUSION, obj=record,
        action=action,
    )  # fmt: skip


def _locked(record: ChairsideRecord) -> ChairsideRecord:
    """The record, row-locked for this transaction, with what its rules read."""
    return ChairsideRecord.objects.select_for_update().get(pk=record.pk)


def _check_move(record: ChairsideRecord, target: Stage) -> None:
    """Refuse a move sustain_core.infusion_day does not allow from the record's stage."""
    try:
        infusion_day.check_move(infusion_day.Stage(record.stage), infusion_day.Stage(target))
    except ClinicalValueError as refused:
        raise StepRefused("stage", refused.message) from None


def _move(record: ChairsideRecord, target: Stage) -> None:
    """Move the record to `target` if allowed (the caller saves it: _save)."""
    _check_move(record, target)
    record.stage = target


def _require(by: User, perm: str, what: str) -> None:
    """Refuse (403, audited) a role that may not take this step."""
    require_permission(by, perm, category=DataCategory.INFUSION, message=f"Only {what}.")


def _step(perm: str, what: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """A step of the record: the role is checked first (a refusal is audited, outside the
    step's transaction), then the step runs as one transaction."""

    def wrap(service: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(service)
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            by = kwargs["by"]
            assert isinstance(by, User)  # noqa: S101 - every step is called with by=
            _require(by, perm, what)
            with transaction.atomic():
                return service(*args, **kwargs)

        return run

    return wrap


def _save(record: ChairsideRecord, *fields: str) -> None:
    """Save the record's stage and `fields`; the day board follows: the visit's phase and when
    its next vital signs become overdue."""
    # The fields' own checks; the stage's facts are the database's check constraints, which
    # the steps never break (validating them here too would cost a query each, every save).
    record.full_clean(validate_unique=False, validate_constraints=False)
    record.save(update_fields=["stage", *fields])
    watch = _watch(record)
    overdue_at = (
        infusion_day.next_overdue_at(**watch)
        if watch is not None and record.stage not in LEFT
        else None
    )
    scheduling.set_phase(
        record.appointment, PHASE[Stage(record.stage)], vitals_overdue_at=overdue_at
    )


def _protocol(record: ChairsideRecord) -> Protocol:
    return protocol_versions.protocol_for(record.appointment.course)


def _watch(record: ChairsideRecord) -> dict[str, Any] | None:
    """The timed readings' plan from the start (None before it): readings every interval of
    the protocol's monitoring plan until observation ends, its minimum after the infusion
    ends (or is due to), and the times of the readings taken."""
    if record.started_at is None:
        return None
    protocol = _protocol(record)
    plan = protocol.monitoring
    ends = record.ended_at or record.started_at + dt.timedelta(
        minutes=protocol.regimen.infusion_minutes
    )
    return {
        "started_at": record.started_at,
        "observe_until": ends + dt.timedelta(minutes=plan.min_observation_minutes),
        "every": dt.timedelta(minutes=plan.vitals_every_minutes),
        "taken": [r.taken_at for r in record.vitals.all()],
    }


def readings_due(
    record: ChairsideRecord, *, now: dt.datetime
) -> tuple[infusion_day.DueReading, ...]:
    """The timed vital signs as of `now` (sustain_core.infusion_day.vitals_due); none before
    the start."""
    watch = _watch(record)
    return () if watch is None else infusion_day.vitals_due(**watch, now=now)


@_step(AT_THE_CHAIR, "a nurse or a prescriber checks a patient in")
def check_in(*, appointment: Appointment, by: User, now: dt.datetime) -> ChairsideRecord:
    """Open the visit's record: the patient has arrived. Only a booked visit, on its day in
    the site's zone (a visit on another day is refused whatever the role)."""
    appointment = (
        Appointment.objects.select_for_update()
        .select_related("patient__site", "course", "site")
        .get(pk=appointment.pk)
    )
    if appointment.status != AppointmentStatus.BOOKED:
        raise StepRefused(
            "appointment", f"this visit is {appointment.get_status_display().lower()}"
        )
    tz = appointment.site.tz
    visit_day, today = appointment.starts_at.astimezone(tz).date(), now.astimezone(tz).date()
    if visit_day != today:
        raise StepRefused("appointment", f"this visit is on {visit_day}, not today ({today})")
    try:
        with transaction.atomic():
            record = ChairsideRecord.objects.create(
                appointment=appointment, stage=Stage.CHECKING_IN, checked_in_at=now,
                checked_in_by=by,
                pregnancy_test=PregnancyTest.NOT_DONE
                if _pregnancy_test_required(appointment)
                else PregnancyTest.NOT_APPLICABLE,
            )  # fmt: skip
    except IntegrityError:
        raise StepRefused("appointment", "the patient is already checked in") from None
    _save(record)
    _audit(record, by, AuditAction.CREATE)
    return record


def _pregnancy_test_required(appointment: Appointment) -> bool:
    """The protocol asks for a test and the patient's recorded sex is female (the nurse may
    answer "not applicable" for a patient who cannot become pregnant)."""
    protocol = protocol_versions.protocol_for(appointment.course)
    return protocol.monitoring.pregnancy_test and appointment.patient.sex == Sex.FEMALE


def _gate_facts(record: ChairsideRecord, now: dt.datetime) -> infusion_day.GateFacts:
    appointment = record.appointment
    course, patient, site = appointment.course, appointment.patient, appointment.site
    protocol = protocol_versions.protocol_for(course)
    rules = current_rules(site).as_rules()
    tz = site.tz
    visit_day = appointment.starts_at.astimezone(tz).date()
    weight = patient.weights.first()
    weight_current = weight is not None
    if weight is not None:
        try:
            dosing.check_weight_recency(
                measured_on=weight.measured_on,
                today=visit_day,
                max_age_days=rules.weight_max_age_days,
            )
        except ClinicalValueError:
            weight_current = False
    baseline = record.vitals.filter(taken_at__lte=now).last()
    given = InfusionRecord.objects.exclude(appointment=appointment).order_by("confirmed_at")
    previous = given.filter(course=course).last()
    last_any = given.filter(patient=patient).last()  # the gap holds across courses
    return infusion_day.GateFacts(
        today=now.astimezone(tz).date(),
        visit_day=visit_day,
        now=now,
        identity_confirmed=record.identity_confirmed,
        last_food_at=record.last_food_at,
        last_clear_fluids_at=record.last_clear_fluids_at,
        fasting_food=dt.timedelta(hours=rules.fasting_food_hours),
        fasting_clear_fluids=dt.timedelta(hours=rules.fasting_clear_fluids_hours),
        escort_present=record.escort_present,
        no_driving_confirmed=record.no_driving_confirmed,
        pregnancy_test_required=_pregnancy_test_required(appointment),
        pregnancy_test=infusion_day.PregnancyTest(record.pregnancy_test),
        substance_use_asked=record.substance_use_asked,
        medication_changes_asked=record.medication_changes_asked,
        baseline_vitals=baseline.as_vitals() if baseline else None,
        blood_pressure_accepted=record.blood_pressure_accepted_at is not None,
        weight_current=weight_current,
        measures_missing=_measures_missing(appointment, now),
        open_suicide_alert=patient.alerts.filter(
            status=AlertStatus.OPEN, kind__in=SUICIDE_ALERTS
        ).exists(),
        suicide_risk_cleared=record.suicide_risk_cleared_at is not None,
        last_infusion_at=last_any.confirmed_at if last_any else None,
        min_gap=protocol.series.min_gap,
        dose_review_pending=previous is not None
        and _stopped_for_blood_pressure(previous, protocol.safety)
        and record.dose_reviewed_at is None,
        weight_max_age_days=rules.weight_max_age_days,
        absolute_contraindications=care.absolute_contraindications(course),
        last_doses_missing=tuple(
            f"{row.medication.name} ({row.classes})"
            for row in interacting_medications(record, appointment)
            if row.last_dose is None
        ),
        height_missing_for=rules.dosing_weight_basis
        if patient.height_cm is None and rules.dosing_weight_basis != dosing.WeightBasis.ACTUAL
        else None,
    )


@dataclasses.dataclass(frozen=True)
class InteractingMedication:
    """A medication on the patient's list on the visit's day that interacts with ketamine
    (sustain_core.medications), and when the patient last took it, if asked at this visit."""

    medication: Medication
    interactions: tuple[medications.Interaction, ...]
    last_dose: LastDose | None

    @property
    def classes(self) -> str:
        return ", ".join(medications.CLASS_TITLES[i.drug_class] for i in self.interactions)


def interacting_medications(
    record: ChairsideRecord, appointment: Appointment
) -> list[InteractingMedication]:
    """The interacting medications the gate asks about: those current on the visit's day in
    the site's zone (started by then, not stopped before it), with this visit's last dose.
    `appointment` is the record's visit (passed in: the caller has it with its site)."""
    visit_day = appointment.starts_at.astimezone(appointment.site.tz).date()
    found = [(m, m.interactions) for m in appointment.patient.medications.current_on(visit_day)]
    interacting = [(m, interactions) for m, interactions in found if interactions]
    if not interacting:
        return []
    asked = {dose.medication_id: dose for dose in record.last_doses.select_related("recorded_by")}
    return [InteractingMedication(m, found, asked.get(m.pk)) for m, found in interacting]


def _measures_missing(appointment: Appointment, now: dt.datetime) -> tuple[str, ...]:
    """The measures the protocol's plan asks for before each infusion, not yet done for this
    one. (The baseline before infusion 1 is the course's guard, within the clinic's days:
    care.services.course_facts.)"""
    course = appointment.course
    protocol = protocol_versions.protocol_for(course)
    before = {
        rule.key
        for rule in protocol.measurement_plan
        if rule.anchor == measurement.Anchor.BEFORE_EACH_INFUSION
    }
    # The plan counts the course's visits in time order (cancelled ones left out); this one's
    # infusion would start now, so its before-infusion windows close now.
    booked = course.appointments.exclude(status=AppointmentStatus.CANCELLED).order_by("starts_at")
    occasion = [a.pk for a in booked].index(appointment.pk) + 1
    visits = scheduling_queries.as_visits(list(booked))
    visits[occasion - 1] = dataclasses.replace(visits[occasion - 1], infusion_at=now)
    items = care_queries.due_measures(
        course, visits, care_queries.completions(appointment.patient), now=now, protocol=protocol
    )
    missing = {
        item.instrument
        for item in items
        if item.rule in before
        and item.occasion == occasion
        and item.status != measurement.DueStatus.DONE
    }
    return tuple(sorted(missing))


def _stopped_for_blood_pressure(given: InfusionRecord, safety: SafetyThresholds) -> bool:
    """Whether a reading during that infusion was past the blood-pressure stop thresholds."""
    record = (
        ChairsideRecord.objects.filter(
            appointment_id=given.appointment_id, started_at__isnull=False
        )
        .annotate(systolic_max=HIGHEST_SYSTOLIC, diastolic_max=HIGHEST_DIASTOLIC)
        .first()
    )
    return record is not None and any(
        highest is not None and highest > limit
        for highest, limit in (
            (record.systolic_max, safety.stop_systolic_above),
            (record.diastolic_max, safety.stop_diastolic_above),
        )
    )


def gate(record: ChairsideRecord, *, now: dt.datetime) -> tuple[GateFailure, ...]:
    """What still keeps the infusion from starting (empty: the gate is open)."""
    protocol = _protocol(record)
    return infusion_day.gate_failures(_gate_facts(record, now), protocol.safety)


def _follow_gate(record: ChairsideRecord, now: dt.datetime) -> None:
    """Before the start, the record is ready exactly while the gate is open."""
    open_now = not gate(record, now=now)
    if record.stage == Stage.CHECKING_IN and open_now:
        _move(record, Stage.READY)
    elif record.stage == Stage.READY and not open_now:
        record.stage = Stage.CHECKING_IN  # the gate closed again (e.g. a higher reading)


@_step(AT_THE_CHAIR, "a nurse or a prescriber answers the checks")
def answer_checks(
    *, record: ChairsideRecord, answers: Mapping[str, object], by: User, now: dt.datetime
) -> ChairsideRecord:
    """Record the pre-infusion checks (any of CHECK_FIELDS) before the start; a time in the
    future is refused."""
    record = _locked(record)
    if record.stage not in BEFORE_START:
        raise StepRefused("stage", "the checks are answered before the infusion starts")
    unknown = sorted(set(answers) - set(CHECK_FIELDS))
    if unknown:
        raise ClinicalValueError("answers", f"no such check: {', '.join(unknown)}")
    for name in ("last_food_at", "last_clear_fluids_at"):
        when = answers.get(name)
        if when is None:
            continue
        if not isinstance(when, dt.datetime) or when.tzinfo is None:
            raise ClinicalValueError(
                name,
                "give the date and time with its offset from UTC, e.g. 2026-11-30T06:30:00-05:00",
            )
        if when > now:
            raise ClinicalValueError(name, "that time is later than now")
    if "pregnancy_test" in answers and answers["pregnancy_test"] not in PregnancyTest.values:
        raise ClinicalValueError("pregnancy_test", "choose a pregnancy test result")
    for name, value in answers.items():
        setattr(record, name, value.strip() if isinstance(value, str) else value)
    _follow_gate(record, now)
    _save(record, *answers)
    _audit(record, by)
    return record


@_step(AT_THE_CHAIR, "a nurse or a prescriber records vital signs")
def record_vitals(
    *, record: ChairsideRecord, vitals: Vitals, by: User, now: dt.datetime
) -> VitalsReading:
    """Enter a set of vital signs, checked as entered: before the start they are the baseline
    (the gate reads them: a blood pressure above the deferral threshold defers the start);
    during the infusion one past a stop threshold stops it (sustain_core.infusion_day)."""
    record = _locked(record)
    if record.stage in LEFT:
        raise StepRefused("stage", "the patient has left: vital signs are taken before discharge")
    reading = VitalsReading(
        record=record, taken_at=now, recorded_by=by,
        **{name: getattr(vitals, name) for name in infusion_day.VITALS_BOUNDS},
    )  # fmt: skip
    reading.full_clean(validate_constraints=False)  # the ranges: Vitals, and the database
    reading.save(force_insert=True)
    if record.stage in BEFORE_START:
        _follow_gate(record, now)
    elif record.stage == Stage.INFUSING:
        reasons = infusion_day.stop_reasons(vitals, _protocol(record).safety)
        if reasons:
            _move(record, Stage.STOPPED)
            InfusionEvent.objects.create(
                record=record, at=now, by=by, kind=EventKind.STOP, detail="; ".join(reasons)
            )
    _save(record)
    _audit(record, by)
    return reading


@_step(AT_THE_CHAIR, "a nurse or a prescriber records when a medication was last taken")
def record_last_dose(
    *,
    record: ChairsideRecord,
    medication_id: int,
    taken_at: dt.datetime | None,
    by: User,
    now: dt.datetime,
) -> LastDose:
    """Record when the patient last took one of the interacting medications the gate asks
    about (interacting_medications), before the start; asked again, the latest answer holds.
    Refused, naming the field, for another medication, a time without its offset or later
    than now."""
    record = _locked(record)
    if record.stage not in BEFORE_START:
        raise StepRefused("stage", "the last doses are asked before the infusion starts")
    if taken_at is None or taken_at.tzinfo is None:
        raise ClinicalValueError(
            "taken_at",
            "give the date and time with its offset from UTC, e.g. 2026-11-30T06:30:00-05:00",
        )
    if taken_at > now:
        raise ClinicalValueError("taken_at", "that time is later than now")
    rows = interacting_medications(record, record.appointment)
    asked = {row.medication.pk: row.medication for row in rows}
    if medication_id not in asked:
        raise ClinicalValueError(
            "medication", "that is not an interacting medication on the patient's list today"
        )
    dose, _ = LastDose.objects.update_or_create(
        record=record,
        medication=asked[medication_id],
        defaults={"taken_at": taken_at, "recorded_by": by, "recorded_at": now},
    )
    _follow_gate(record, now)
    _save(record)
    _audit(record, by)
    return dose


@_step("care.prescribe", "a prescriber decides this")
def decide(
    *, record: ChairsideRecord, decision: str, reason: str, by: User, now: dt.datetime
) -> ChairsideRecord:
    """A prescriber's decision at the gate, with its reason: accept a blood pressure above the
    deferral threshold ("blood_pressure"), clear the patient for today despite an open
    suicide-risk alert ("suicide_risk"), or review the dose after an infusion stopped for blood
    pressure ("dose_review")."""
    fields = {
        "blood_pressure": ("blood_pressure_accepted", "blood_pressure_reason"),
        "suicide_risk": ("suicide_risk_cleared", "suicide_risk_note"),
        "dose_review": ("dose_reviewed", "dose_review_note"),
    }
    if decision not in fields:
        raise ClinicalValueError("decision", f"no such decision: {decision}")
    if not reason.strip():
        raise ClinicalValueError("reason", "write the reason for the decision")
    record = _locked(record)
    if record.stage not in BEFORE_START:
        raise StepRefused("stage", "the gate's decisions are made before the infusion starts")
    stem, note = fields[decision]
    setattr(record, f"{stem}_at", now)
    setattr(record, f"{stem}_by", by)
    setattr(record, note, reason.strip())
    _follow_gate(record, now)
    _save(record, f"{stem}_at", f"{stem}_by", note)
    _audit(record, by)
    return record


@_step(AT_THE_CHAIR, "a nurse or a prescriber starts an infusion")
def start_infusion(
    *, record: ChairsideRecord, container: Container, by: User, now: dt.datetime
) -> InfusionRecord:
    """Verify the dose and start the infusion from a numbered container of the visit's site
    stock: the gate must be open now (every failure is named), the dose given (mg, mL, pump
    rate) is computed for the container's strength from the course's current dose under the
    site's rules (InfusionRecord), and the drawn volume's mg is drawn from the container in
    the ledger in the same transaction (ledger.services.draw_for_visit: the record's lot is the
    container's). Every refusal of the ledger (an expired lot, a container holding less,
    another site's container) refuses the start, and nothing is saved. Infusion 1 moves the
    course into induction when its guards hold; the last induction infusion moves it to
    review."""
    record = _locked(record)
    if record.stage not in BEFORE_START:
        raise StepRefused("stage", "the infusion has already started")
    failures = gate(record, now=now)
    if failures:
        raise StepRefused("gate", "; ".join(f.message for f in failures))
    container = Container.objects.select_related("lot__product", "location__site").get(
        pk=container.pk
    )
    given = _give_dose(record.appointment, container=container, by=by, at=now)
    record.lot, record.started_at = container.lot.lot_number, now
    _follow_gate(record, now)  # open now: ready, whatever it was when last looked at
    _move(record, Stage.INFUSING)
    _save(record, "lot", "started_at")
    _audit(record, by)
    return given


def _ledger(write: Callable[[], T]) -> T:
    """Run a ledger write for the record: a rule it refuses (a balance, an expiry, a witness,
    another site) is a step the record does not allow now (StepRefused, 409 in the API); a
    value it refuses stays a value refused (400)."""
    try:
        return write()
    except OutOfRange:
        raise
    except StepRefused:
        raise
    except ClinicalValueError as refused:
        raise StepRefused(refused.field, refused.message) from None


def _give_dose(
    appointment: Appointment, *, container: Container, by: User, at: dt.datetime
) -> InfusionRecord:
    """The dose given at this visit, as computed, drawn from `container` and confirmed, and
    the course's moves."""
    appointment = (
        Appointment.objects.select_for_update()
        .select_related("course", "patient__site", "site")
        .get(pk=appointment.pk)
    )
    if appointment.status != AppointmentStatus.BOOKED:
        raise StepRefused("appointment", f"this visit is {appointment.status}, not booked")
    course = appointment.course
    if course.status in {CourseStatus.SCREENING, CourseStatus.READY}:
        # Infusion 1 starts induction: the lifecycle's guards (consent, a signed screen, the
        # baseline measures, a current weight) must hold, or nothing is recorded.
        for phase in (CourseStatus.READY, CourseStatus.INDUCTION):
            if course.status != phase:
                course = care.change_course_status(course=course, status=phase, by=by, at=at)
    if course.status not in INFUSING:
        raise StepRefused(
            "course",
            f"no infusion can be given while the course is {course.get_status_display()}",
        )
    rules = rules_for_record(appointment.site, now=at)
    strength = Decimal(container.lot.product.strength_mg_per_ml)
    plan = plan_dose(appointment=appointment, vial_mg_per_ml=strength, rules=rules.as_rules())
    protocol = protocol_versions.protocol_for(course)
    made_up = plan.preparation
    if made_up.delivered_mg != made_up.delivered_mg.quantize(Decimal("0.01")):
        raise ClinicalValueError(
            "container",
            f"{made_up.drawn_ml} mL of {strength} mg/mL is {made_up.delivered_mg} mg, which the "
            "ledger cannot record to 0.01 mg; draw from a vial of another strength",
        )
    draw = _ledger(
        lambda: ledger.draw_for_visit(
            container=container, appointment=appointment, dose_mg=made_up.delivered_mg, by=by,
            now=at,
        )
    )  # fmt: skip
    # The dose given is what the drawn volume holds (rounded to the syringe's marks, shown at
    # the chair with the prescribed dose); the bag as made up and run under the protocol's
    # convention is kept with it.
    given = InfusionRecord(
        appointment=appointment, patient=appointment.patient, course=course,
        weight_kg=plan.weight_kg, vial_mg_per_ml=plan.vial_mg_per_ml,
        dose_mg=made_up.delivered_mg, prescribed_mg=made_up.prescribed_mg,
        drug_volume_ml=made_up.drawn_ml, syringe_ml=made_up.syringe.capacity_ml,
        syringe_graduation_ml=made_up.syringe.graduation_ml, bag_convention=made_up.bag,
        bag_volume_ml=plan.bag_volume_ml, final_volume_ml=made_up.final_volume_ml,
        infusion_minutes=protocol.regimen.infusion_minutes,
        pump_rate_ml_per_h=made_up.pump_rate_ml_per_h, confirmed_at=at, confirmed_by=by,
        clinic_rules=rules, draw=draw,
    )  # fmt: skip
    if isinstance(plan, dosing.DosePlan):
        given.mg_per_kg = plan.mg_per_kg
    else:
        given.mg_per_kg_per_h = plan.mg_per_kg_per_h
        given.dose_rate_mg_per_h, given.capped = plan.dose_rate_mg_per_h, plan.capped
    given.full_clean()
    given.save(force_insert=True)
    appointment.status = AppointmentStatus.COMPLETED
    appointment.save(update_fields=["status"])
    if course.status == CourseStatus.INDUCTION and appointment.number >= course.induction_infusions(
        protocol
    ):
        care.change_course_status(
            course=course, status=CourseStatus.REVIEW, by=by, at=at,
            infusions_given=infusions_given(course),
        )  # fmt: skip
    care.record_patient_event(
        by=by, patient=appointment.patient, category=DataCategory.INFUSION, obj=given
    )
    course_reviews.after_infusion(course, by=by, at=at)  # futility checkpoint, end of a taper
    return given


@_step(AT_THE_CHAIR, "a nurse or a prescriber records events")
def add_event(
    *, record: ChairsideRecord, kind: EventKind, detail: str, by: User, now: dt.datetime
) -> InfusionEvent:
    """A timed entry during the infusion or recovery: stop the infusion (a prescriber then
    decides whether it resumes), a pump rate change, a medication given with its dose, a note."""
    record = _locked(record)
    if kind not in {EventKind.STOP, EventKind.RATE_CHANGE, EventKind.MEDICATION, EventKind.NOTE}:
        raise ClinicalValueError("kind", "choose a stop, a rate change, a medication or a note")
    if not detail.strip():
        raise ClinicalValueError("detail", "say what was done (a medication with its dose)")
    if record.stage not in (Stage.INFUSING, Stage.STOPPED, Stage.RECOVERING):
        raise StepRefused("stage", "events are recorded while infusing or recovering")
    if kind == EventKind.STOP:
        _move(record, Stage.STOPPED)
        _save(record)
    event = InfusionEvent.objects.create(
        record=record, at=now, by=by, kind=kind, detail=detail.strip()
    )
    _audit(record, by)
    return event


@_step("care.prescribe", "a prescriber resumes a stopped infusion")
def resume(*, record: ChairsideRecord, reason: str, by: User, now: dt.datetime) -> InfusionEvent:
    """A prescriber resumes a stopped infusion, with the reason."""
    if not reason.strip():
        raise ClinicalValueError("reason", "write why the infusion may resume")
    record = _locked(record)
    _move(record, Stage.INFUSING)
    _save(record)
    event = InfusionEvent.objects.create(
        record=record, at=now, by=by, kind=EventKind.RESUME, detail=reason.strip()
    )
    _audit(record, by)
    return event


@_step(AT_THE_CHAIR, "a nurse or a prescriber ends an infusion")
def end_infusion(
    *, record: ChairsideRecord, by: User, now: dt.datetime, delivered_mg: Decimal | None = None
) -> ChairsideRecord:
    """The infusion has ended (or stays stopped): recovery and observation begin, and the
    ledger records what the pump delivered (ledger.services.administer_for_visit): the whole
    dose drawn when it ran to its end; when it was stopped and not resumed, the mg the nurse
    enters as delivered (`delivered_mg`: more than 0, to 0.01 mg, at most the dose drawn;
    never clamped). What was drawn and not given is then wasted with a witness
    (waste_remainder) before the record is signed."""
    record = _locked(record)
    stopped = record.stage == Stage.STOPPED
    _move(record, Stage.RECOVERING)
    given = InfusionRecord.objects.select_related("draw__container").get(
        appointment_id=record.appointment_id
    )
    if stopped and delivered_mg is None:
        raise ClinicalValueError(
            "delivered_mg", "the infusion was stopped: enter the mg the pump delivered"
        )
    if not stopped and delivered_mg is not None:
        raise ClinicalValueError(
            "delivered_mg",
            "the infusion ran to its end: its whole dose is recorded as given; the mg delivered "
            "is entered only for an infusion stopped and not resumed",
        )
    quantity = given.dose_mg if delivered_mg is None else delivered_mg
    if delivered_mg is not None and delivered_mg.is_finite() and delivered_mg > given.dose_mg:
        raise OutOfRange(
            "delivered_mg",
            f"{delivered_mg} mg is more than the {given.dose_mg.normalize():f} mg drawn for this "
            "infusion",
        )
    record.ended_at = now
    _save(record, "ended_at")
    if given.draw is not None:  # infusions before the ledger have no draw to account for
        draw = given.draw
        try:
            _ledger(
                lambda: ledger.administer_for_visit(
                    appointment=record.appointment, container=draw.container,
                    quantity_mg=quantity, by=by, now=now,
                )
            )  # fmt: skip
        except OutOfRange as refused:
            raise OutOfRange("delivered_mg", refused.message) from None
    _audit(record, by)
    return record


@_step(AT_THE_CHAIR, "a nurse or a prescriber wastes what is left of a draw")
def waste_remainder(
    *,
    record: ChairsideRecord,
    witness: User,
    witness_password: str,
    by: User,
    now: dt.datetime,
) -> list[LedgerEntry]:
    """Waste what was drawn for the visit and not given, from each container, witnessed by
    another clinical staff member who re-enters their password (ledger.services
    .waste_for_visit holds the witness rules: never the one who drew). Only once the infusion
    has ended and before the record is signed; refused when nothing is left to waste."""
    record = _locked(record)
    if record.stage not in (Stage.RECOVERING, Stage.DISCHARGED):
        raise StepRefused(
            "stage", "the remainder is wasted after the infusion ends and before signing"
        )
    lines = [line for line in visit_ledger(record.appointment).lines if line.open_mg > 0]
    if not lines:
        raise StepRefused("ledger", "nothing drawn for this visit is left to waste")
    return [
        _ledger(
            functools.partial(
                ledger.waste_for_visit,
                appointment=record.appointment,
                container=line.container,
                quantity_mg=line.open_mg,
                witness=witness,
                witness_password=witness_password,
                by=by,
                now=now,
            )
        )
        for line in lines
    ]


def discharge_failures(
    record: ChairsideRecord, *, aldrete: int | None, dissociation_resolved: bool,
    escort_present: bool, now: dt.datetime,
) -> tuple[str, ...]:  # fmt: skip
    """What still keeps the patient from leaving (sustain_core.infusion_day), and the CADSS the
    protocol asks for at the end of the infusion when it was not recorded."""
    if record.ended_at is None:
        return ("end the infusion first",)
    protocol = _protocol(record)
    readings = list(record.vitals.all())
    before = [r for r in readings if record.started_at and r.taken_at <= record.started_at]
    after = [r for r in readings if r.taken_at >= record.ended_at]
    plan = protocol.monitoring
    failures = list(
        infusion_day.discharge_failures(
            infusion_day.DischargeFacts(
                infusion_ended_at=record.ended_at, now=now,
                min_observation=dt.timedelta(minutes=plan.min_observation_minutes),
                aldrete=aldrete, aldrete_min=plan.aldrete_min,
                baseline=before[-1].as_vitals() if before else None,
                latest=after[-1].as_vitals() if after else None,
                return_percent=plan.vitals_return_percent, safety=protocol.safety,
                dissociation_resolved=dissociation_resolved, escort_present=escort_present,
            )
        )
    )  # fmt: skip
    if not record.appointment.visit_assessments.filter(assessment__instrument="cadss").exists():
        failures.append("record the CADSS the protocol asks for at the end of the infusion")
    return tuple(failures)


def discharge(
    *,
    record: ChairsideRecord,
    aldrete: int | None,
    dissociation_resolved: bool,
    escort_present: bool,
    by: User,
    now: dt.datetime,
    override_reason: str = "",
) -> ChairsideRecord:
    """Discharge once every criterion holds (discharge_failures), or a prescriber overrides
    the failures with a reason (kept on the record); an override reason from another role is
    refused before anything is looked at."""
    if override_reason.strip():
        _require(by, "care.prescribe", "a prescriber discharges against the criteria")
    return _discharge(
        record=record, aldrete=aldrete, dissociation_resolved=dissociation_resolved,
        escort_present=escort_present, by=by, now=now, override_reason=override_reason,
    )  # fmt: skip


@_step(AT_THE_CHAIR, "a nurse or a prescriber discharges a patient")
def _discharge(
    *,
    record: ChairsideRecord,
    aldrete: int | None,
    dissociation_resolved: bool,
    escort_present: bool,
    by: User,
    now: dt.datetime,
    override_reason: str,
) -> ChairsideRecord:
    record = _locked(record)
    _check_move(record, Stage.DISCHARGED)
    failures = discharge_failures(
        record, aldrete=aldrete, dissociation_resolved=dissociation_resolved,
        escort_present=escort_present, now=now,
    )  # fmt: skip
    if failures and not override_reason.strip():
        raise StepRefused("discharge", "; ".join(failures))
    _move(record, Stage.DISCHARGED)
    record.aldrete, record.dissociation_resolved = aldrete, dissociation_resolved
    record.escort_at_discharge, record.discharged_at, record.discharged_by = (
        escort_present, now, by,
    )  # fmt: skip
    record.discharge_override_reason = override_reason.strip() if failures else ""
    _save(
        record, "aldrete", "dissociation_resolved", "escort_at_discharge", "discharged_at",
        "discharged_by", "discharge_override_reason",
    )  # fmt: skip
    _audit(record, by)
    return record


@_step("infusion.add_infusionrecord", "a nurse or a prescriber signs the record")
def sign(*, record: ChairsideRecord, by: User, now: dt.datetime) -> ChairsideRecord:
    """The nurse (or a prescriber at the chair) signs the discharged record, once the visit's
    ledger is closed: every mg drawn for it given or wasted (ledger.visits.visit_ledger)."""
    record = _locked(record)
    _move(record, Stage.SIGNED)
    left = visit_ledger(record.appointment).open_mg
    if left:
        raise StepRefused(
            "ledger",
            f"{left.normalize():f} mg drawn for this visit is neither given nor wasted: waste it "
            "with a witness",
        )
    record.nurse_signed_at, record.nurse_signed_by = now, by
    _save(record, "nurse_signed_at", "nurse_signed_by")
    _audit(record, by)
    return record


@_step("care.prescribe", "a prescriber co-signs the record")
def cosign(*, record: ChairsideRecord, by: User, now: dt.datetime) -> ChairsideRecord:
    """A prescriber other than the signer co-signs: the record is then locked."""
    record = _locked(record)
    if record.nurse_signed_by_id == by.pk:
        raise StepRefused("by", "the co-signer must be another person than the signer")
    _move(record, Stage.COSIGNED)
    record.prescriber_signed_at, record.prescriber_signed_by = now, by
    _save(record, "prescriber_signed_at", "prescriber_signed_by")
    _audit(record, by)
    return record


@_step(AT_THE_CHAIR, "a nurse or a prescriber adds an addendum")
def add_addendum(*, record: ChairsideRecord, text: str, by: User, now: dt.datetime) -> Addendum:
    """A later note on a signed record (who, when, what): the record itself stays as signed."""
    record = _locked(record)
    if not record.locked:
        raise StepRefused("stage", "an addendum is for a signed record; edit it until then")
    if not text.strip():
        raise ClinicalValueError("text", "write the addendum")
    addendum = Addendum.objects.create(record=record, at=now, by=by, text=text.strip())
    _audit(record, by)
    return addendum


@_step(AT_THE_CHAIR, "a nurse or a prescriber undoes a step")
def undo(*, record: ChairsideRecord, reason: str, by: User, now: dt.datetime) -> InfusionEvent:
    """Undo the last step taken by mistake, with a reason: a discharge (back to recovering) or
    the end of the infusion (back to infusing: the administration it recorded in the ledger is
    reversed by a correction entry, ledger.services.reverse_administration; a waste already
    witnessed stays). A signed record is not undone: addenda only."""
    if not reason.strip():
        raise ClinicalValueError("reason", "write why the step is undone")
    record = _locked(record)
    cleared: tuple[str, ...]
    if record.stage == Stage.DISCHARGED:
        back, cleared = Stage.RECOVERING, ("discharged_at", "discharged_by", "aldrete")
        record.discharge_override_reason = ""
    elif record.stage == Stage.RECOVERING:
        back, cleared = Stage.INFUSING, ("ended_at",)
        for given in LedgerEntry.objects.filter(
            appointment_id=record.appointment_id,
            kind=EntryKind.ADMINISTER,
            reversed_by__isnull=True,
        ):
            _ledger(
                functools.partial(
                    ledger.reverse_administration, entry=given,
                    reason=f"end of the infusion undone: {reason.strip()}", by=by, now=now,
                )
            )  # fmt: skip
    else:
        raise StepRefused("stage", "only a discharge or the end of an infusion can be undone")
    undone = Stage(record.stage).label.lower()
    for name in cleared:
        setattr(record, name, None)
    record.stage = back
    _save(record, *cleared, "discharge_override_reason")
    event = InfusionEvent.objects.create(
        record=record, at=now, by=by, kind=EventKind.UNDO, detail=f"{undone}: {reason.strip()}"
    )
    _audit(record, by)
    return event
