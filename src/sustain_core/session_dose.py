"""One session's dose under a protocol's regimen (per session or per hour, with its caps)."""

from decimal import Decimal
from typing import cast

from sustain_core import dosing
from sustain_core.errors import OutOfRange
from sustain_core.protocols import Protocol, RegimenKind, guardrails


def plan_protocol_dose(
    protocol: Protocol,
    *,
    weight_kg: Decimal,
    vial_mg_per_ml: Decimal,
    titrated_mg_per_kg: Decimal | None = None,
) -> dosing.DosePlan | dosing.HourlyDosePlan:
    """Plan the dose, drawn volume and pump rate of one session of ``protocol``.

    PER_SESSION regimens use ``dosing.plan_infusion_dose`` (mg/kg over minutes; e.g. 70 kg ×
    0.5 mg/kg = 35 mg = 0.7 mL of 50 mg/mL, 100 mL over 40 min = 150 mL/h [MECP2024]);
    PER_HOUR regimens use ``dosing.plan_hourly_infusion`` (mg/kg/h, capped; e.g. CRPS
    0.35 mg/kg/h, at most 25 mg/h [Schwartzman2009]). Either way the bag is made up by the
    protocol's ``bag_convention``, and neither the prescribed dose nor the dose the drawn
    volume delivers (rounded to the syringe's marks) may exceed the regimen's maximum single
    dose: OutOfRange naming ``dose_mg`` otherwise.

    Platform guardrails (``protocols.guardrails``, bounds against typing errors, not clinical
    rules) hold every session whatever the weight and the titration: a per-session dose at
    most 3.0 mg/kg and 2 mg/kg/h over the regimen's minutes (OutOfRange naming ``mg_per_kg``),
    and any session at most ``guardrails.SESSION_MG_MAX``, 150 mg (OutOfRange naming
    ``dose_mg``): 300 kg × 0.75 mg/kg after titration, 225 mg, is refused.

    ``titrated_mg_per_kg`` replaces a per-session regimen's dose after titration (the value a
    ``protocols.titrate`` decision gave); a per-hour regimen has no titration (OutOfRange).
    """
    regimen = protocol.regimen
    plan: dosing.DosePlan | dosing.HourlyDosePlan
    if regimen.kind == RegimenKind.PER_SESSION:
        # DoseRegimen requires mg_per_kg for this kind.
        mg_per_kg = titrated_mg_per_kg or cast(Decimal, regimen.mg_per_kg)
        plan = dosing.plan_infusion_dose(
            weight_kg=weight_kg,
            mg_per_kg=mg_per_kg,
            vial_mg_per_ml=vial_mg_per_ml,
            bag_volume_ml=protocol.bag_volume_ml,
            infusion_minutes=regimen.infusion_minutes,
            bag=protocol.bag_convention,
        )
        guardrails.check_session_dose(
            mg_per_kg=mg_per_kg, infusion_minutes=regimen.infusion_minutes
        )
        dose_mg = plan.dose_mg
    elif titrated_mg_per_kg is not None:
        raise OutOfRange(
            "titrated_mg_per_kg", f"{protocol.key} is dosed per hour; it has no titrated mg/kg"
        )
    else:
        plan = dosing.plan_hourly_infusion(
            weight_kg=weight_kg,
            mg_per_kg_per_h=cast(Decimal, regimen.mg_per_kg_per_h),  # likewise
            cap_mg_per_h=regimen.cap_mg_per_h,
            hours=Decimal(regimen.infusion_minutes) / 60,
            vial_mg_per_ml=vial_mg_per_ml,
            bag_volume_ml=protocol.bag_volume_ml,
            bag=protocol.bag_convention,
        )
        dose_mg = plan.total_mg
    if regimen.max_single_dose_mg is not None:
        dosing.check_max_single_dose(
            dose_mg=max(dose_mg, plan.preparation.delivered_mg),
            max_single_dose_mg=regimen.max_single_dose_mg,
        )
    guardrails.check_session_mg(max(dose_mg, plan.preparation.delivered_mg))
    return plan
