"""An uneventful infusion day, step by step through the chair-side record's services, for the
demo clinic's story (and tests that need an infusion given). Nothing here bypasses a rule: the
gate, the dose, the readings, the discharge criteria and the signatures are the real ones, at
the times given."""

import datetime as dt
from decimal import Decimal

from sustain.accounts.models import User
from sustain.care.enums import Timepoint
from sustain.infusion import chairside
from sustain.infusion import services as infusion
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity, PregnancyTest
from sustain.infusion.models import ChairsideRecord, InfusionRecord
from sustain.scheduling.models import Appointment
from sustain_core.infusion_day import Vitals

CALM = Vitals(
    systolic_mmhg=122, diastolic_mmhg=78, heart_rate_bpm=72, spo2_percent=98,
    respiratory_rate_per_min=14,
)  # fmt: skip
DURING = Vitals(
    systolic_mmhg=131, diastolic_mmhg=83, heart_rate_bpm=79, spo2_percent=97,
    respiratory_rate_per_min=15,
)  # fmt: skip
HYPERTENSIVE = Vitals(  # above the stop threshold (180/110 by default)
    systolic_mmhg=186, diastolic_mmhg=104, heart_rate_bpm=92, spo2_percent=97,
    respiratory_rate_per_min=16,
)  # fmt: skip
CHECKED = {
    "identity_confirmed": True,
    "escort_present": True,
    "no_driving_confirmed": True,
    "pregnancy_test": PregnancyTest.NOT_APPLICABLE,
    "substance_use_asked": True,
    "medication_changes_asked": True,
}


def check_in_and_ready(
    visit: Appointment, nurse: User, *, at: dt.datetime, baseline: Vitals = CALM
) -> ChairsideRecord:
    """Check the patient in at `at`, answer the checks (fasted overnight, clear fluids 3 h
    ago) and take the pre-infusion vital signs."""
    record = chairside.check_in(appointment=visit, by=nurse, now=at)
    answers = CHECKED | {
        "last_food_at": at - dt.timedelta(hours=10),
        "last_clear_fluids_at": at - dt.timedelta(hours=3),
    }
    chairside.answer_checks(
        record=record, answers=answers, by=nurse, now=at + dt.timedelta(minutes=2)
    )
    chairside.record_vitals(
        record=record, vitals=baseline, by=nurse, now=at + dt.timedelta(minutes=5)
    )
    record.refresh_from_db()
    return record


def uneventful_infusion(
    visit: Appointment,
    nurse: User,
    prescriber: User | None,
    *,
    vial_mg_per_ml: Decimal = Decimal("50"),
    lot: str = "KET-2611-A",
    until: dt.datetime | None = None,
    cadss_answers: dict[str, int | None] | None = None,
    clearance: str = "",
    adverse_event: tuple[AdverseEventKind, AdverseEventSeverity, str, str] | None = None,
) -> InfusionRecord:
    """The whole day of one visit, from check-in at the visit's start to the co-signature,
    stopping at `until` if given (a visit still under way): the checks, baseline vitals, the
    dose verified and started after check-in, vitals every 15 min, CADSS at the end, an hour of
    observation, discharge on a modified Aldrete of 10, the nurse's signature and the
    prescriber's co-signature (without a prescriber, the record stays signed by the nurse). With
    `clearance`, the prescriber first clears the patient for today despite an open
    suicide-risk alert, with that note; with `adverse_event` (kind, severity, description,
    action_taken), the nurse records it 10 minutes into recovery."""
    start = visit.starts_at + dt.timedelta(minutes=visit.check_in_minutes)
    end = start + dt.timedelta(minutes=visit.infusion_minutes)
    record = check_in_and_ready(visit, nurse, at=visit.starts_at)
    if clearance and prescriber is not None:
        chairside.decide(
            record=record, decision="suicide_risk", reason=clearance, by=prescriber,
            now=visit.starts_at + dt.timedelta(minutes=8),
        )  # fmt: skip
    given = chairside.start_infusion(
        record=record, vial_mg_per_ml=vial_mg_per_ml, lot=lot, by=nurse, now=start
    )
    steps = [
        *(
            (start + dt.timedelta(minutes=m), "vitals")
            for m in range(15, visit.infusion_minutes, 15)
        ),
        (end, "cadss"),
        (end, "end"),
        *([(end + dt.timedelta(minutes=10), "adverse event")] if adverse_event else []),
        *((end + dt.timedelta(minutes=m), "vitals") for m in (15, 30, 45, 60)),
        (end + dt.timedelta(minutes=61), "discharge"),
        (end + dt.timedelta(minutes=63), "sign"),
        (end + dt.timedelta(minutes=90), "cosign"),
    ]
    for at, step in steps:
        if (until is not None and at > until) or (step == "cosign" and prescriber is None):
            break
        _take(
            step, record=record, given=given, nurse=nurse, prescriber=prescriber, at=at,
            cadss_answers=cadss_answers, adverse_event=adverse_event,
        )  # fmt: skip
    return given


def _take(
    step: str,
    *,
    record: ChairsideRecord,
    given: InfusionRecord,
    nurse: User,
    prescriber: User | None,
    at: dt.datetime,
    cadss_answers: dict[str, int | None] | None,
    adverse_event: tuple[AdverseEventKind, AdverseEventSeverity, str, str] | None,
) -> None:
    if step == "vitals":
        infusing = record.ended_at is None
        chairside.record_vitals(
            record=record, vitals=DURING if infusing else CALM, by=nurse, now=at
        )
    elif step == "cadss":
        infusion.record_visit_assessment(
            appointment=given.appointment, instrument="cadss",
            answers=cadss_answers or {str(n): 0 for n in range(1, 24)} | {"1": 1, "2": 1},
            timepoint=Timepoint.FOLLOW_UP, by=nurse, completed_at=at, now=at,
        )  # fmt: skip
    elif step == "adverse event" and adverse_event is not None:
        kind, severity, description, action_taken = adverse_event
        infusion.record_adverse_event(
            infusion=given, kind=kind, severity=severity, description=description,
            action_taken=action_taken, by=nurse, now=at,
        )  # fmt: skip
    elif step == "end":
        chairside.end_infusion(record=record, by=nurse, now=at)
    elif step == "discharge":
        chairside.discharge(
            record=record, aldrete=10, dissociation_resolved=True, escort_present=True,
            by=nurse, now=at,
        )  # fmt: skip
    elif step == "sign":
        chairside.sign(record=record, by=nurse, now=at)
    elif prescriber is not None:
        chairside.cosign(record=record, by=prescriber, now=at)
    record.refresh_from_db()
