"""An uneventful infusion day, step by step through the chair-side record's services, for the
demo clinic's story (and tests that need an infusion given). Nothing here bypasses a rule: the
gate, the dose, the draw from a numbered vial of the site's stock, the readings, the discharge
criteria and the signatures are the real ones, at the times given."""

import datetime as dt
from decimal import ROUND_DOWN, Decimal

from sustain.accounts.models import Site, User
from sustain.care.enums import Timepoint
from sustain.care.rules import current_rules
from sustain.infusion import chairside
from sustain.infusion import services as infusion
from sustain.infusion.enums import (
    AdverseEventKind,
    AdverseEventSeverity,
    EventKind,
    PregnancyTest,
)
from sustain.infusion.models import ChairsideRecord, InfusionRecord
from sustain.ledger import services as ledger
from sustain.ledger.models import Container, Location, Product, SiteRegistration, Supplier
from sustain.ledger.visits import usable_containers
from sustain.scheduling.models import Appointment
from sustain_core import registration
from sustain_core.errors import ClinicalValueError
from sustain_core.infusion_day import Vitals

# The two vials the stories draw from (clinical-facts.md §8f [Ketalar-label]): 50 mg/mL in
# 10 mL (500 mg) and 10 mg/mL in 20 mL (200 mg); NDCs in the 11-digit 5-4-2 form.
VIALS = {50: (Decimal(10), "42023-0113-10"), 10: (Decimal(20), "42023-0115-10")}

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


def stock(
    site: Site,
    by: User,
    *,
    on: dt.date,
    strength_mg_per_ml: int = 50,
    containers: int = 3,
    lot: str = "",
    expires_on: dt.date | None = None,
    address: str = "",
) -> list[Container]:
    """The site's ketamine stock through the ledger's own service (ledger.services
    .receive_stock, by `by`, a clinic administrator): its DEA registration (2 letters and 7
    digits with their check digit, made up from the site's id; the registered `address`), a
    supplier, the product of `strength_mg_per_ml`
    (VIALS) and `containers` vials of one lot received `on` that day into the site's safe,
    expiring 2 years later unless `expires_on` says."""
    digits = f"{site.pk:06d}"
    SiteRegistration.objects.get_or_create(
        site=site,
        defaults={
            "dea_number": f"FS{digits}{registration.dea_check_digit(digits)}",
            "registrant_name": site.name,
            "address": address,
        },
    )
    supplier, _ = Supplier.objects.get_or_create(
        dea_number="PH7654329",
        defaults={"name": "Henry Schein", "address": "135 Duryea Road, Melville, NY 11747"},
    )
    volume, ndc = VIALS[strength_mg_per_ml]
    product, _ = Product.objects.get_or_create(
        ndc=ndc,
        defaults={"strength_mg_per_ml": strength_mg_per_ml, "container_volume_ml": volume},
    )
    safe, _ = Location.objects.get_or_create(site=site, name="Safe")
    return ledger.receive_stock(
        location=safe, supplier=supplier, invoice_number=f"INV-{on:%Y%m%d}", product=product,
        lot_number=lot or f"K{strength_mg_per_ml}-{on:%y%m%d}",
        expires_on=expires_on or on + dt.timedelta(days=730), containers=containers,
        received_on=on, by=by, now=dt.datetime.combine(on, dt.time(7), tzinfo=site.tz),
    )  # fmt: skip


def vial_for(visit: Appointment, *, strength_mg_per_ml: int = 50) -> Container:
    """The site's first usable container of that strength (ledger.visits.usable_containers:
    the earliest expiry first) holding the visit's dose; refused when none does."""
    plan = infusion.plan_dose(
        appointment=visit, vial_mg_per_ml=Decimal(strength_mg_per_ml),
        rules=current_rules(visit.site).as_rules(),
    )  # fmt: skip
    day = visit.starts_at.astimezone(visit.site.tz).date()
    found = (
        usable_containers(visit.site, day)
        .filter(
            lot__product__strength_mg_per_ml=strength_mg_per_ml,
            balance__balance_mg__gte=plan.preparation.delivered_mg,
        )
        .first()
    )
    if found is None:
        raise ClinicalValueError(
            "container", f"no {strength_mg_per_ml} mg/mL vial at {visit.site.name} holds the dose"
        )
    return found


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
    container: Container | None = None,
    vial_mg_per_ml: Decimal = Decimal("50"),
    until: dt.datetime | None = None,
    stop_at_minute: int | None = None,
    witness: tuple[User, str] | None = None,
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
    action_taken), the nurse records it 10 minutes into recovery.

    The dose is drawn from `container`, or else from the site's first vial of `vial_mg_per_ml`
    holding it (vial_for). With `stop_at_minute`, the nurse stops the infusion then and it is
    not resumed: at its end the pump delivered the minutes' share of the dose (to 0.01 mg,
    rounded down), and the nurse wastes the rest with `witness` (the witness and the password
    they re-enter; without one, the remainder is left open in the ledger, and the record
    cannot be signed)."""
    start = visit.starts_at + dt.timedelta(minutes=visit.check_in_minutes)
    end = start + dt.timedelta(minutes=visit.infusion_minutes)
    record = check_in_and_ready(visit, nurse, at=visit.starts_at)
    if clearance and prescriber is not None:
        chairside.decide(
            record=record, decision="suicide_risk", reason=clearance, by=prescriber,
            now=visit.starts_at + dt.timedelta(minutes=8),
        )  # fmt: skip
    if container is None:
        container = vial_for(visit, strength_mg_per_ml=int(vial_mg_per_ml))
    given = chairside.start_infusion(record=record, container=container, by=nurse, now=start)
    stop = (
        [] if stop_at_minute is None else [(start + dt.timedelta(minutes=stop_at_minute), "stop")]
    )
    steps = [
        *stop,
        *(
            (start + dt.timedelta(minutes=m), "vitals")
            for m in range(15, visit.infusion_minutes, 15)
        ),
        (end, "cadss"),
        (end, "end"),
        *([(end + dt.timedelta(minutes=5), "waste")] if stop_at_minute and witness else []),
        *([(end + dt.timedelta(minutes=10), "adverse event")] if adverse_event else []),
        *((end + dt.timedelta(minutes=m), "vitals") for m in (15, 30, 45, 60)),
        (end + dt.timedelta(minutes=61), "discharge"),
        (end + dt.timedelta(minutes=63), "sign"),
        (end + dt.timedelta(minutes=90), "cosign"),
    ]
    steps.sort(key=lambda step: step[0])  # a stop falls among the readings (a stable sort)
    for at, step in steps:
        if (until is not None and at > until) or (step == "cosign" and prescriber is None):
            break
        _take(
            step, record=record, given=given, nurse=nurse, prescriber=prescriber, at=at,
            cadss_answers=cadss_answers, adverse_event=adverse_event, witness=witness,
            delivered_mg=None
            if stop_at_minute is None
            else (given.dose_mg * stop_at_minute / visit.infusion_minutes).quantize(
                Decimal("0.01"), rounding=ROUND_DOWN
            ),
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
    witness: tuple[User, str] | None,
    delivered_mg: Decimal | None,
) -> None:
    if step == "stop":
        chairside.add_event(
            record=record, kind=EventKind.STOP, detail="Stopped at the patient's request", by=nurse,
            now=at,
        )  # fmt: skip
    elif step == "waste" and witness is not None:
        chairside.waste_remainder(
            record=record, witness=witness[0], witness_password=witness[1], by=nurse, now=at
        )
    elif step == "vitals":
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
        chairside.end_infusion(record=record, by=nurse, now=at, delivered_mg=delivered_mg)
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
