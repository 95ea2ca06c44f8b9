"""The chair-side record for devices at the chair (mounted by sustain.api): the record of a
visit and its state, and one endpoint per step, each calling the same service as the web
page's step (sustain.infusion.views.STEPS) at the time the request arrives.

Every write answers the record's state as the GET does; a refusal saves nothing and answers
one error shape: 400 a value refused (naming the field), 403 a role that may not take the
step, 404 a visit at another site, 409 a step the record does not allow now
(infusion.services.StepRefused). Writes honour an Idempotency-Key header, so a device that
retries after a lost answer does not record the same reading twice.
"""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from pydantic import PlainSerializer

from sustain.accounts.idempotency import once
from sustain.accounts.models import User
from sustain.care import queries as care_queries
from sustain.infusion import chairside, queries, services
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity, EventKind, Stage
from sustain.infusion.models import Addendum, AdverseEvent, ChairsideRecord, InfusionRecord
from sustain.infusion.services import StepRefused
from sustain.ledger import queries as ledger_queries
from sustain.ledger.api import Amount
from sustain.scheduling.api import ErrorOut
from sustain.scheduling.models import Appointment
from sustain_core import dosing
from sustain_core.errors import ClinicalValueError
from sustain_core.infusion_day import Vitals, aldrete_score
from sustain_core.numbers import plain

router = Router(tags=["infusion"])

AT_THE_CHAIR = chairside.AT_THE_CHAIR  # nurses and prescribers
PRESCRIBER = "care.prescribe"
URL = "/visits/{visit_id}/infusion"
ERRORS: dict[int, Any] = dict.fromkeys((400, 403, 404, 409, 422), ErrorOut)

# --- What the record shows ---------------------------------------------------------------


class GateFailureOut(Schema):
    item: str
    message: str
    resolvers: list[str] = Field(
        description="Who may resolve it (nurse, prescriber); empty: only time or another day"
    )


class ChecksOut(Schema):
    identity_confirmed: bool
    last_food_at: dt.datetime | None
    last_clear_fluids_at: dt.datetime | None
    escort_present: bool
    no_driving_confirmed: bool
    pregnancy_test: str
    substance_use_asked: bool
    substance_use: str
    medication_changes_asked: bool
    medication_changes: str


class InteractionOut(Schema):
    drug_class: str
    title: str
    effect: str = Field(description="With ketamine, with its sources")
    action: str


class InteractingMedicationOut(Schema):
    medication_id: int
    name: str
    dose: str
    interactions: list[InteractionOut]
    last_dose_at: dt.datetime | None = Field(
        description="When the patient last took it, as recorded at this visit (null: not asked)"
    )


class DecisionOut(Schema):
    decision: str = Field(description="blood_pressure, suicide_risk or dose_review")
    at: dt.datetime
    by: str
    reason: str


# Numbers go out as text written by the one formatter (sustain_core.numbers.plain): exact,
# never in scientific notation ("50", not "5E+1"), the ledger's Amount; a pump rate with its
# 0.1 mL/h step.
PumpRate = Annotated[Decimal, PlainSerializer(partial(plain, places=1), return_type=str)]


class DoseOut(Schema):
    given: bool = Field(description="true: the dose given; false: the plan for this visit")
    dose_mg: Amount = Field(
        description="The session's dose as drawn: the drawn volume × the vial strength"
    )
    prescribed_mg: Amount | None = Field(
        description="The dose calculated before the drawn volume was rounded to the syringe's "
        "marks (null: recorded before it was kept)"
    )
    mg_per_kg: Amount | None = Field(description="Per-session regimens")
    mg_per_kg_per_h: Amount | None = Field(description="Per-hour regimens")
    dose_rate_mg_per_h: Amount | None
    capped: bool
    weight_kg: Amount = Field(description="The dosing weight")
    vial_mg_per_ml: Amount
    drug_volume_ml: Amount = Field(description="The volume drawn, on the syringe's marks")
    syringe_ml: Amount | None = Field(description="The syringe it is drawn in")
    bag_convention: str = Field(
        description="withdraw (the drug's volume from the bag first) or add (to the bag); "
        "empty: recorded before it was kept"
    )
    bag_volume_ml: Amount
    final_volume_ml: Amount | None = Field(description="The bag's volume as run")
    pump_rate_ml_per_h: PumpRate = Field(description="For the final volume")
    preparation: list[str] = Field(description="What to do, in words: draw, make up, run")
    infusion_minutes: int
    lot: str = Field(description="The lot of the vial drawn (given doses)")
    confirmed_by: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None


class ReadingOut(Schema):
    taken_at: dt.datetime
    systolic_mmhg: int
    diastolic_mmhg: int
    heart_rate_bpm: int
    spo2_percent: int
    respiratory_rate_per_min: int
    recorded_by: str
    flags: list[str] = Field(description="A deferral before the start, a stop during it")


class DueReadingOut(Schema):
    at: dt.datetime
    status: str = Field(description="taken, due, overdue or upcoming")


class EventOut(Schema):
    at: dt.datetime
    kind: str
    detail: str
    by: str


class CadssOut(Schema):
    total: Amount
    completed_at: dt.datetime


class AdverseEventOut(Schema):
    kind: str
    severity: str
    serious: bool
    description: str
    action_taken: str
    recorded_at: dt.datetime
    recorded_by: str


class DischargeOut(Schema):
    discharged_at: dt.datetime
    discharged_by: str
    aldrete: int | None
    dissociation_resolved: bool
    escort_present: bool
    override_reason: str = Field(description="A prescriber's reason to discharge against failures")


class SignaturesOut(Schema):
    nurse_signed_at: dt.datetime | None
    nurse_signed_by: str
    prescriber_signed_at: dt.datetime | None
    prescriber_signed_by: str
    locked: bool = Field(description="Signed: the record changes by addenda only")


class AddendumOut(Schema):
    at: dt.datetime
    by: str
    text: str


class LedgerLineOut(Schema):
    """One container's part of the visit in the controlled-substance ledger."""

    container_id: int
    lot: str
    number: int = Field(description="The container's number within its lot")
    strength_mg_per_ml: int
    drawn_mg: Amount
    administered_mg: Amount
    wasted_mg: Amount
    open_mg: Amount = Field(description="Drawn and neither given nor wasted")
    witnesses: list[str] = Field(description="Who witnessed its wastes")


class ChairsideOut(Schema):
    """A visit's chair-side record and its state, as the chair-side page shows it."""

    visit_id: int
    visit_number: int
    starts_at: dt.datetime
    stage: str | None = Field(description="None: not checked in yet")
    stage_label: str
    checked_in_at: dt.datetime | None
    checked_in_by: str
    checks: ChecksOut | None
    decisions: list[DecisionOut]
    gate: list[GateFailureOut] = Field(description="What still keeps the infusion from starting")
    interacting_medications: list[InteractingMedicationOut] = Field(
        description="The patient's interacting medications today; the gate asks each last dose"
    )
    dose: DoseOut | None
    dose_refused: str = Field(description="Why no dose can be planned (dose null)")
    readings: list[ReadingOut]
    vitals_every_minutes: int
    readings_due: list[DueReadingOut]
    events: list[EventOut]
    cadss: list[CadssOut]
    cadss_due_at: dt.datetime | None
    adverse_events: list[AdverseEventOut]
    discharge_failures: list[str] = Field(
        description="While recovering: what keeps the patient from leaving now"
    )
    discharge: DischargeOut | None
    signatures: SignaturesOut
    addenda: list[AddendumOut]
    ledger: list[LedgerLineOut] = Field(
        description="The visit's draws, administrations and wastes, per container"
    )
    ledger_closed: bool = Field(
        description="Every mg drawn given or wasted: the record may then be signed"
    )


def _state(appointment: Appointment, now: dt.datetime) -> ChairsideOut:
    """The record as of `now` (queries.chairside_view: the page's own read)."""
    view = queries.chairside_view(appointment, now=now)
    record, given = view.record, view.given
    adverse = list(given.adverse_events.all()) if given else []
    addenda = list(record.addenda.all()) if record else []
    names = _usernames(record, given, adverse, addenda)

    def name(user_id: int | None) -> str:
        return names.get(user_id, "") if user_id is not None else ""

    return ChairsideOut(
        visit_id=appointment.pk,
        visit_number=appointment.number,
        starts_at=appointment.starts_at,
        stage=record.stage if record else None,
        stage_label=Stage(record.stage).label if record else "Not checked in",
        checked_in_at=record.checked_in_at if record else None,
        checked_in_by=name(record.checked_in_by_id) if record else "",
        checks=ChecksOut(**{n: getattr(record, n) for n in chairside.CHECK_FIELDS})
        if record
        else None,
        decisions=_decisions(record, name) if record else [],
        gate=[
            GateFailureOut(item=f.item, message=f.message, resolvers=list(f.resolvers))
            for f in view.gate
        ],
        interacting_medications=[
            InteractingMedicationOut(
                medication_id=row.medication.pk,
                name=row.medication.name,
                dose=row.medication.dose,
                interactions=[
                    InteractionOut(
                        drug_class=i.drug_class, title=i.title, effect=i.effect, action=i.action
                    )
                    for i in row.interactions
                ],
                last_dose_at=row.last_dose.taken_at if row.last_dose else None,
            )
            for row in view.interacting
        ],
        dose=_dose(view, record, name),
        dose_refused=view.plan_refused,
        readings=[
            ReadingOut(
                taken_at=row.reading.taken_at,
                systolic_mmhg=row.reading.systolic_mmhg,
                diastolic_mmhg=row.reading.diastolic_mmhg,
                heart_rate_bpm=row.reading.heart_rate_bpm,
                spo2_percent=row.reading.spo2_percent,
                respiratory_rate_per_min=row.reading.respiratory_rate_per_min,
                recorded_by=row.reading.recorded_by.username,
                flags=list(row.flags),
            )
            for row in view.readings
        ],
        vitals_every_minutes=view.protocol.monitoring.vitals_every_minutes,
        readings_due=[DueReadingOut(at=d.at, status=d.status) for d in view.due],
        events=[
            EventOut(at=e.at, kind=e.kind, detail=e.detail, by=e.by.username) for e in view.events
        ],
        cadss=[CadssOut(total=a.total_score, completed_at=a.completed_at) for a in view.cadss],
        cadss_due_at=view.cadss_due_at,
        adverse_events=[
            AdverseEventOut(
                kind=e.kind,
                severity=e.severity,
                serious=e.serious,
                description=e.description,
                action_taken=e.action_taken,
                recorded_at=e.recorded_at,
                recorded_by=name(e.recorded_by_id),
            )
            for e in adverse
        ],
        discharge_failures=list(view.discharge_failures),
        discharge=_discharge(record, name),
        signatures=_signatures(record, name),
        addenda=[AddendumOut(at=a.at, by=name(a.by_id), text=a.text) for a in addenda],
        ledger=[
            LedgerLineOut(
                container_id=line.container.pk,
                lot=line.container.lot.lot_number,
                number=line.container.number,
                strength_mg_per_ml=line.container.lot.product.strength_mg_per_ml,
                drawn_mg=line.drawn_mg,
                administered_mg=line.administered_mg,
                wasted_mg=line.wasted_mg,
                open_mg=line.open_mg,
                witnesses=line.witnesses,
            )
            for line in view.ledger.lines
        ],
        ledger_closed=view.ledger.closed,
    )


def _usernames(
    record: ChairsideRecord | None,
    given: InfusionRecord | None,
    adverse: list[AdverseEvent],
    addenda: list[Addendum],
) -> dict[int, str]:
    """The usernames of everyone the record names, in one query."""
    ids: set[int | None] = {given.confirmed_by_id if given else None}
    ids |= {e.recorded_by_id for e in adverse} | {a.by_id for a in addenda}
    if record is not None:
        ids |= {
            record.checked_in_by_id, record.blood_pressure_accepted_by_id,
            record.suicide_risk_cleared_by_id, record.dose_reviewed_by_id,
            record.discharged_by_id, record.nurse_signed_by_id, record.prescriber_signed_by_id,
        }  # fmt: skip
    wanted = {i for i in ids if i is not None}
    return dict(User.objects.filter(pk__in=wanted).values_list("pk", "username"))


def _discharge(
    record: ChairsideRecord | None, name: Callable[[int | None], str]
) -> DischargeOut | None:
    if record is None or record.discharged_at is None:
        return None
    return DischargeOut(
        discharged_at=record.discharged_at, discharged_by=name(record.discharged_by_id),
        aldrete=record.aldrete, dissociation_resolved=record.dissociation_resolved,
        escort_present=record.escort_at_discharge,
        override_reason=record.discharge_override_reason,
    )  # fmt: skip


def _signatures(record: ChairsideRecord | None, name: Callable[[int | None], str]) -> SignaturesOut:
    if record is None:
        return SignaturesOut(
            nurse_signed_at=None, nurse_signed_by="", prescriber_signed_at=None,
            prescriber_signed_by="", locked=False,
        )  # fmt: skip
    return SignaturesOut(
        nurse_signed_at=record.nurse_signed_at,
        nurse_signed_by=name(record.nurse_signed_by_id),
        prescriber_signed_at=record.prescriber_signed_at,
        prescriber_signed_by=name(record.prescriber_signed_by_id),
        locked=record.locked,
    )


def _decisions(record: ChairsideRecord, name: Callable[[int | None], str]) -> list[DecisionOut]:
    made = (
        ("blood_pressure", record.blood_pressure_accepted_at, record.blood_pressure_accepted_by_id,
         record.blood_pressure_reason),
        ("suicide_risk", record.suicide_risk_cleared_at, record.suicide_risk_cleared_by_id,
         record.suicide_risk_note),
        ("dose_review", record.dose_reviewed_at, record.dose_reviewed_by_id,
         record.dose_review_note),
    )  # fmt: skip
    return [
        DecisionOut(decision=decision, at=at, by=name(by), reason=reason)
        for decision, at, by, reason in made
        if at is not None
    ]


def _dose(
    view: queries.ChairsideView, record: ChairsideRecord | None, name: Callable[[int | None], str]
) -> DoseOut | None:
    """The dose given, or else the plan for this visit (None: no plan, see dose_refused)."""
    given = view.given
    plan = view.plans[0][1] if view.plans else None
    if given is not None:
        made_up = given.preparation
        return DoseOut(
            given=True, dose_mg=given.dose_mg, prescribed_mg=given.prescribed_mg,
            mg_per_kg=given.mg_per_kg, mg_per_kg_per_h=given.mg_per_kg_per_h,
            dose_rate_mg_per_h=given.dose_rate_mg_per_h, capped=given.capped,
            weight_kg=given.weight_kg, vial_mg_per_ml=given.vial_mg_per_ml,
            drug_volume_ml=given.drug_volume_ml, syringe_ml=given.syringe_ml,
            bag_convention=given.bag_convention, bag_volume_ml=given.bag_volume_ml,
            final_volume_ml=given.final_volume_ml, pump_rate_ml_per_h=given.pump_rate_ml_per_h,
            preparation=list(made_up.steps) if made_up else [],
            infusion_minutes=given.infusion_minutes,
            lot=record.lot if record else "", confirmed_by=name(given.confirmed_by_id),
            started_at=record.started_at if record else None,
            ended_at=record.ended_at if record else None,
        )  # fmt: skip
    if plan is None:
        return None
    regimen: dict[str, Any]
    if isinstance(plan, dosing.DosePlan):
        regimen = {"prescribed_mg": plan.dose_mg, "mg_per_kg": plan.mg_per_kg}
    else:
        regimen = {"prescribed_mg": plan.total_mg, "mg_per_kg_per_h": plan.mg_per_kg_per_h,
                   "capped": plan.capped}  # fmt: skip
    made_up = plan.preparation
    return DoseOut(
        **{"mg_per_kg": None, "mg_per_kg_per_h": None, "capped": False} | regimen,
        given=False, dose_mg=made_up.delivered_mg, dose_rate_mg_per_h=plan.dose_rate_mg_per_h,
        weight_kg=plan.weight_kg, vial_mg_per_ml=plan.vial_mg_per_ml,
        drug_volume_ml=made_up.drawn_ml, syringe_ml=made_up.syringe.capacity_ml,
        bag_convention=made_up.bag, bag_volume_ml=plan.bag_volume_ml,
        final_volume_ml=made_up.final_volume_ml, pump_rate_ml_per_h=made_up.pump_rate_ml_per_h,
        preparation=list(made_up.steps),
        infusion_minutes=view.protocol.regimen.infusion_minutes,
        lot="", confirmed_by="", started_at=None, ended_at=None,
    )  # fmt: skip


@router.get(URL, response={200: ChairsideOut, 403: ErrorOut, 404: ErrorOut})
def chairside_record(request: HttpRequest, visit_id: int) -> ChairsideOut:
    """The visit's chair-side record and its state (nurses and prescribers; the read is
    audited)."""
    user: User = request.auth  # type: ignore[attr-defined]  # StaffSession: a staff User
    appointment = queries.get_visit_for_change(user, visit_id, AT_THE_CHAIR)
    care_queries.record_patient_read(user, appointment.patient)
    return _state(appointment, timezone.now())


# --- The steps -------------------------------------------------------------------------------

Act = Callable[[ChairsideRecord, User, dt.datetime], object]


def _step(request: HttpRequest, visit_id: int, perm: str, act: Act) -> Status[Any]:
    """One step of the record, as the web page's chairside_step: the role (`perm`), the
    visit at one of the user's sites, the record (checked in), the service at now."""
    user: User = request.auth  # type: ignore[attr-defined]  # StaffSession: a staff User
    appointment = queries.get_visit_for_change(user, visit_id, perm)
    now = timezone.now()

    def run() -> object:
        record = ChairsideRecord.objects.filter(appointment=appointment).first()
        if record is None:
            raise StepRefused("stage", "check the patient in first")
        return act(record, user, now)

    return _answer(request, run, user=user, appointment=appointment, now=now, status=200)


def _answer(
    request: HttpRequest,
    run: Callable[[], object],
    *,
    user: User,
    appointment: Appointment,
    now: dt.datetime,
    status: int,
) -> Status[Any]:
    """Run a step once (an Idempotency-Key replays its answer) and answer the record's state,
    whose read is audited."""

    def answered() -> tuple[int, dict[str, Any]]:
        run()
        return status, _state(appointment, now).model_dump(mode="json")

    answer = once(request, user, answered, now=now)
    care_queries.record_patient_read(user, appointment.patient)
    return Status(*answer)


@router.post(f"{URL}/check-in", response={201: ChairsideOut, **ERRORS})
def chairside_check_in(request: HttpRequest, visit_id: int) -> Status[Any]:
    """The patient has arrived: open the visit's record (on the visit's day only)."""
    user: User = request.auth  # type: ignore[attr-defined]  # StaffSession: a staff User
    appointment = queries.get_visit_for_change(user, visit_id, AT_THE_CHAIR)
    now = timezone.now()
    return _answer(
        request, lambda: chairside.check_in(appointment=appointment, by=user, now=now),
        user=user, appointment=appointment, now=now, status=201,
    )  # fmt: skip


class ChecksIn(Schema):
    """The pre-infusion checks answered now; a check left out (or null) stays as it was."""

    identity_confirmed: bool | None = None
    last_food_at: dt.datetime | None = Field(
        None, description="ISO 8601 with its offset, e.g. 2026-11-30T06:30:00-05:00"
    )
    last_clear_fluids_at: dt.datetime | None = Field(None, description="As last_food_at")
    escort_present: bool | None = None
    no_driving_confirmed: bool | None = None
    pregnancy_test: str | None = Field(
        None, description="not_applicable, negative, positive or not_done"
    )
    substance_use_asked: bool | None = None
    substance_use: str | None = Field(None, max_length=300)
    medication_changes_asked: bool | None = None
    medication_changes: str | None = Field(None, max_length=300)


@router.post(f"{URL}/checks", response={200: ChairsideOut, **ERRORS})
def chairside_checks(request: HttpRequest, visit_id: int, payload: ChecksIn) -> Status[Any]:
    """Answer the pre-infusion checks (before the start)."""
    answers = payload.model_dump(exclude_none=True)
    return _step(
        request, visit_id, AT_THE_CHAIR,
        lambda record, by, now: chairside.answer_checks(
            record=record, answers=answers, by=by, now=now
        ),
    )  # fmt: skip


class LastDoseIn(Schema):
    medication_id: int = Field(description="An interacting medication of the record's list")
    taken_at: dt.datetime = Field(
        description="ISO 8601 with its offset, e.g. 2026-11-30T06:30:00-05:00"
    )


@router.post(f"{URL}/last-doses", response={200: ChairsideOut, **ERRORS})
def chairside_last_dose(request: HttpRequest, visit_id: int, payload: LastDoseIn) -> Status[Any]:
    """Record when the patient last took an interacting medication (before the start): the
    gate asks for each (a time without its offset or later than now: 400)."""
    return _step(
        request, visit_id, AT_THE_CHAIR,
        lambda record, by, now: chairside.record_last_dose(
            record=record, medication_id=payload.medication_id, taken_at=payload.taken_at,
            by=by, now=now,
        ),
    )  # fmt: skip


class VitalsIn(Schema):
    systolic_mmhg: int
    diastolic_mmhg: int
    heart_rate_bpm: int
    spo2_percent: int
    respiratory_rate_per_min: int


@router.post(f"{URL}/vitals", response={200: ChairsideOut, **ERRORS})
def chairside_vitals(request: HttpRequest, visit_id: int, payload: VitalsIn) -> Status[Any]:
    """Record a set of vital signs now: a value no patient can have is refused (400, naming
    it); before the start they are the baseline the gate reads; while infusing one past a stop
    threshold stops the infusion (a STOP event)."""

    def act(record: ChairsideRecord, by: User, now: dt.datetime) -> object:
        vitals = Vitals(**payload.model_dump())
        return chairside.record_vitals(record=record, vitals=vitals, by=by, now=now)

    return _step(request, visit_id, AT_THE_CHAIR, act)


class DecisionIn(Schema):
    decision: str = Field(description="blood_pressure, suicide_risk or dose_review")
    reason: str = Field(max_length=300)


@router.post(f"{URL}/decisions", response={200: ChairsideOut, **ERRORS})
def chairside_decision(request: HttpRequest, visit_id: int, payload: DecisionIn) -> Status[Any]:
    """A prescriber's decision at the gate, with its reason: accept a blood pressure above the
    deferral threshold, clear the patient for today despite an open suicide-risk alert, or
    review the dose after an infusion stopped for blood pressure."""
    return _step(
        request, visit_id, PRESCRIBER,
        lambda record, by, now: chairside.decide(
            record=record, decision=payload.decision, reason=payload.reason, by=by, now=now
        ),
    )  # fmt: skip


class StartIn(Schema):
    container_id: int = Field(
        description="The numbered container drawn from, of the visit's site stock (its lot "
        "and strength are recorded; the dose is planned for its strength)"
    )
    confirm: bool = Field(
        description="true: the patient, the weight, the dose and the pump rate were checked"
    )


@router.post(f"{URL}/start", response={200: ChairsideOut, **ERRORS})
def chairside_start(request: HttpRequest, visit_id: int, payload: StartIn) -> Status[Any]:
    """Verify the dose and start the infusion, drawing it from a container in the ledger: the
    gate must be open (409 naming every check still unmet); the dose given is computed from the
    course for the container's strength, never taken from the request; a container not at one
    of your sites is 404, and the ledger's refusals (an expired lot, a container holding less
    than the dose, another site's container) are 409 with nothing saved."""

    def act(record: ChairsideRecord, by: User, now: dt.datetime) -> object:
        if not payload.confirm:
            raise ClinicalValueError(
                "confirm", "confirm the patient, the weight, the dose and the pump rate are checked"
            )
        container = ledger_queries.get_container_for_user(
            by, payload.container_id, "ledger.draw_stock"
        )
        return chairside.start_infusion(record=record, container=container, by=by, now=now)

    return _step(request, visit_id, AT_THE_CHAIR, act)


class EventIn(Schema):
    kind: str = Field(description="stop, rate_change, medication or note")
    detail: str = Field(max_length=300, description="What was done (a medication with its dose)")


@router.post(f"{URL}/events", response={200: ChairsideOut, **ERRORS})
def chairside_event(request: HttpRequest, visit_id: int, payload: EventIn) -> Status[Any]:
    """A timed entry while infusing or recovering: stop the infusion, a pump rate change, a
    medication given, a note."""

    def act(record: ChairsideRecord, by: User, now: dt.datetime) -> object:
        if payload.kind not in EventKind.values:
            raise ClinicalValueError("kind", "choose a stop, a rate change, a medication or a note")
        return chairside.add_event(
            record=record, kind=EventKind(payload.kind), detail=payload.detail, by=by, now=now
        )

    return _step(request, visit_id, AT_THE_CHAIR, act)


class AdverseEventIn(Schema):
    kind: str = Field(description=", ".join(AdverseEventKind.values))
    severity: str = Field(description=", ".join(AdverseEventSeverity.values))
    serious: bool = Field(
        False, description="Death, threat to life, hospitalisation, lasting disability"
    )
    description: str = Field(
        "", max_length=300, description="What happened; required when severe or serious"
    )
    action_taken: str = Field("", max_length=300)


@router.post(f"{URL}/adverse-events", response={200: ChairsideOut, **ERRORS})
def chairside_adverse_event(
    request: HttpRequest, visit_id: int, payload: AdverseEventIn
) -> Status[Any]:
    """An adverse event at the infusion given; a severe or serious one needs a description
    and alerts the course's prescriber (infusion.services.record_adverse_event)."""

    def act(record: ChairsideRecord, by: User, now: dt.datetime) -> object:
        if payload.kind not in AdverseEventKind.values:
            raise ClinicalValueError("kind", f"choose one of: {', '.join(AdverseEventKind.values)}")
        if payload.severity not in AdverseEventSeverity.values:
            raise ClinicalValueError("severity", "choose mild, moderate or severe")
        infusion = InfusionRecord.objects.filter(appointment_id=record.appointment_id).first()
        if infusion is None:
            raise StepRefused("infusion", "no infusion is recorded for this visit yet")
        return services.record_adverse_event(
            infusion=infusion, kind=AdverseEventKind(payload.kind),
            severity=AdverseEventSeverity(payload.severity), serious=payload.serious,
            description=payload.description, action_taken=payload.action_taken, by=by, now=now,
        )  # fmt: skip

    return _step(request, visit_id, "infusion.add_adverseevent", act)


class ReasonIn(Schema):
    reason: str = Field(max_length=300)


@router.post(f"{URL}/resume", response={200: ChairsideOut, **ERRORS})
def chairside_resume(request: HttpRequest, visit_id: int, payload: ReasonIn) -> Status[Any]:
    """A prescriber resumes a stopped infusion, with the reason."""
    return _step(
        request, visit_id, PRESCRIBER,
        lambda record, by, now: chairside.resume(
            record=record, reason=payload.reason, by=by, now=now
        ),
    )  # fmt: skip


class EndIn(Schema):
    delivered_mg: Decimal | None = Field(
        None,
        description="Only for an infusion stopped and not resumed: the mg the pump delivered "
        "(more than 0, to 0.01 mg, at most the dose drawn); otherwise the whole dose is given",
    )


@router.post(f"{URL}/end", response={200: ChairsideOut, **ERRORS})
def chairside_end(request: HttpRequest, visit_id: int, payload: EndIn | None = None) -> Status[Any]:
    """The infusion has ended: recovery and observation begin, and the ledger records what was
    given (the whole dose, or for a stopped infusion the mg delivered: 400 when it is not
    positive, over-precise or more than drawn)."""
    delivered = payload.delivered_mg if payload is not None else None
    return _step(
        request, visit_id, AT_THE_CHAIR,
        lambda record, by, now: chairside.end_infusion(
            record=record, by=by, now=now, delivered_mg=delivered
        ),
    )  # fmt: skip


class ChairsideWasteIn(Schema):
    witness_id: int = Field(description="Another clinical staff member of the visit's site")
    witness_password: str = Field(max_length=128, description="The witness re-enters it")


@router.post(f"{URL}/waste", response={200: ChairsideOut, **ERRORS})
def chairside_waste(request: HttpRequest, visit_id: int, payload: ChairsideWasteIn) -> Status[Any]:
    """Waste what was drawn for the visit and not given, witnessed (after the end, before
    signing). A witness who drew, with a wrong password or without a clinical role, or
    nothing left to waste: 409, nothing saved; a witness not on the site's staff: 400."""

    def act(record: ChairsideRecord, by: User, now: dt.datetime) -> object:
        witness = User.objects.filter(
            pk=payload.witness_id, memberships__site_id=record.appointment.site_id
        ).first()
        if witness is None:
            raise ClinicalValueError("witness_id", "choose a witness on the staff of this site")
        return chairside.waste_remainder(
            record=record, witness=witness, witness_password=payload.witness_password, by=by,
            now=now,
        )  # fmt: skip

    return _step(request, visit_id, AT_THE_CHAIR, act)


class DischargeIn(Schema):
    """The modified Aldrete items (0–2 each), dissociation, the escort; a prescriber may
    discharge against failed criteria with a reason."""

    activity: int
    respiration: int
    circulation: int
    consciousness: int
    oxygen_saturation: int
    dissociation_resolved: bool
    escort_present: bool
    override_reason: str = Field("", max_length=300)


@router.post(f"{URL}/discharge", response={200: ChairsideOut, **ERRORS})
def chairside_discharge(request: HttpRequest, visit_id: int, payload: DischargeIn) -> Status[Any]:
    """Discharge once every criterion holds (409 listing those that do not), or, for a
    prescriber, against them with a reason (a nurse giving one: 403)."""

    def act(record: ChairsideRecord, by: User, now: dt.datetime) -> object:
        aldrete = aldrete_score(
            activity=payload.activity, respiration=payload.respiration,
            circulation=payload.circulation, consciousness=payload.consciousness,
            oxygen_saturation=payload.oxygen_saturation,
        )  # fmt: skip
        return chairside.discharge(
            record=record, aldrete=aldrete, dissociation_resolved=payload.dissociation_resolved,
            escort_present=payload.escort_present, by=by, now=now,
            override_reason=payload.override_reason,
        )  # fmt: skip

    return _step(request, visit_id, AT_THE_CHAIR, act)


@router.post(f"{URL}/undo", response={200: ChairsideOut, **ERRORS})
def chairside_undo(request: HttpRequest, visit_id: int, payload: ReasonIn) -> Status[Any]:
    """Undo a discharge or the end of the infusion taken by mistake, with a reason."""
    return _step(
        request, visit_id, AT_THE_CHAIR,
        lambda record, by, now: chairside.undo(
            record=record, reason=payload.reason, by=by, now=now
        ),
    )  # fmt: skip


@router.post(f"{URL}/sign", response={200: ChairsideOut, **ERRORS})
def chairside_sign(request: HttpRequest, visit_id: int) -> Status[Any]:
    """The nurse (or a prescriber at the chair) signs the discharged record."""
    return _step(
        request, visit_id, AT_THE_CHAIR,
        lambda record, by, now: chairside.sign(record=record, by=by, now=now),
    )  # fmt: skip


@router.post(f"{URL}/cosign", response={200: ChairsideOut, **ERRORS})
def chairside_cosign(request: HttpRequest, visit_id: int) -> Status[Any]:
    """A prescriber other than the signer co-signs: the record is locked."""
    return _step(
        request, visit_id, PRESCRIBER,
        lambda record, by, now: chairside.cosign(record=record, by=by, now=now),
    )  # fmt: skip


class AddendumIn(Schema):
    text: str


@router.post(f"{URL}/addenda", response={200: ChairsideOut, **ERRORS})
def chairside_addendum(request: HttpRequest, visit_id: int, payload: AddendumIn) -> Status[Any]:
    """A later note on a signed record: the record itself stays as signed."""
    return _step(
        request, visit_id, AT_THE_CHAIR,
        lambda record, by, now: chairside.add_addendum(
            record=record, text=payload.text, by=by, now=now
        ),
    )  # fmt: skip
