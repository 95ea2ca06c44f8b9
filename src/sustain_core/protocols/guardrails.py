"""Platform guardrails: limits no protocol, library file or clinic version, can pass.

Each one is a bound against typing errors, not a clinical rule: it does not say which dose or
threshold suits a patient (the protocol and the clinic's medical director say that), only
that a value past it is almost certainly a slip — 3.0 mg/kg over 1 minute, an SpO₂ stop of
50 %, a 1-hour gap between infusions, 0 minutes of recovery (issue 11). Each figure names the
source that supports it, or says (unconfirmed). Every library protocol passes every one.

- ``protocol_breaches`` lists every guardrail a protocol breaks; ``validation.check_protocol``
  runs it on every protocol built, so a clinic version is refused when saved and a file by
  ``sustain protocol-check``.
- ``check_session_dose`` (mg/kg and rate) and ``check_session_mg`` (the absolute ceiling) hold
  one session whatever the weight and titration: ``session_dose.plan_protocol_dose`` runs both
  on every dose planned, and the Django layer runs the first on a course's dose.
- ``titration_cap_mg_per_kg`` is where a second prescriber's co-signature starts and
  ``session_ceiling_mg_per_kg`` where everyone is refused.

This module reads the protocol only, so it imports the model for types alone (the model runs
``validation``, which runs this).
"""

from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, cast

from sustain_core import dosing
from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.series import INFUSION_GAP_FLOOR

if TYPE_CHECKING:  # the model runs these checks on construction
    from sustain_core.protocols.model import Protocol

_GUARDRAIL = "a platform bound against typing errors, not a clinical rule"
COURSE_DOSE_STEP_MG_PER_KG = Decimal("0.001")  # a course's dose is stored to 0.001 mg/kg

SESSION_MG_PER_KG_MIN = Decimal("0.1")
"""The lowest per-session dose a protocol starts at or a course is set to: the lowest dose
reported to help, "some respond at 0.1" mg/kg against the usual 0.5 [Andrade2017]
(clinical-facts §3a). A bound against typing errors (0.05 for 0.5), not a clinical rule."""

SESSION_MG_PER_KG_PER_H_MIN = Decimal("0.1")
"""The lowest rate of a per-hour regimen: under the lowest per-hour rate in the facts, the CRPS
regimen's 0.35 mg/kg/h [Schwartzman2009] (clinical-facts §3f; the pain guideline's range is
0.5–2 mg/kg/h [Cohen2018-GC]), with room for a slower start (unconfirmed). A bound against
typing errors (0.035 for 0.35), not a clinical rule."""

PSYCHIATRIC_START_MG_PER_KG_MAX = Decimal("1.0")
"""The highest starting dose of a psychiatric regimen (every condition but chronic pain): the
top of the usual starting dose, 0.5–1 mg/kg IV over 40–60 min [ASKP-basics-2018]. A clinic
that needs more titrates up. Titration limits, and every course's dose, are held to
``dosing.MG_PER_KG_MAX``, 3.0 mg/kg, the top of the range community clinics titrate through
(0.5–3.0 mg/kg [CommunityUpdate2022]): ``TitrationRule`` refuses a limit above it and
``check_session_dose`` a dose. A lower titration ceiling would forbid that documented
practice; the rate (``SESSION_MG_PER_KG_PER_H_MAX``) holds a short infusion lower still.
Chronic pain usually needs higher doses over longer periods [ASKP-basics-2018], so its
starting dose is held only by the 3.0 mg/kg ceiling and the rate."""

SESSION_MG_PER_KG_PER_H_MAX = dosing.MG_PER_KG_PER_H_MAX
"""The fastest any session may run, in mg/kg/h: a per-session dose × 60 ÷ its minutes, a
per-hour regimen's rate, the starting dose and every titration limit alike. 2 mg/kg/h is the
top of the chronic-pain guideline's infusion rate, 0.5–2 mg/kg/h [Cohen2018-GC]; the library's
fastest session is 0.5 mg/kg over 40 min (0.75 mg/kg/h [Shiroma2014]) and the top of the usual
psychiatric start, 1 mg/kg over 40 min [ASKP-basics-2018], is 1.5 mg/kg/h. 3.0 mg/kg over
1 minute (issue 11) is 180 mg/kg/h. A 40-minute session may so give at most 1.333 mg/kg."""

SESSION_MG_MAX = Decimal("150")
"""The most one session may give, in mg, whatever the weight and the titration: (unconfirmed)
a bound against typing errors, not a clinical rule; no source gives an absolute maximum. It is
the largest starting dose any library protocol gives at the heaviest weight dosed (0.5 mg/kg ×
``dosing.WEIGHT_KG_MAX`` 300 kg = 150 mg [Shiroma2014]; the CRPS session is at most 100 mg
[Schwartzman2009]), so no library starting dose is refused at any accepted weight, while
the issue's 225 mg (0.75 mg/kg after titration at 300 kg) is."""

RECOVERY_MINUTES_MIN = 60
"""The least recovery time booked after an infusion (``visit.recovery_minutes``) and the least
observation before discharge (``monitoring.min_observation_minutes``): observe ≥ 60 min after
the final dose [ED-scirp] (clinical-facts §5d)."""

SAFETY_BOUNDS: Mapping[str, tuple[int, int, str]] = MappingProxyType(
    {
        # (lowest, highest, unit): each a bound against typing errors; sources in the docstring
        # of ``protocol_breaches``.
        "defer_systolic_above": (130, 180, "mmHg"),
        "defer_diastolic_above": (80, 110, "mmHg"),
        "stop_systolic_above": (140, 200, "mmHg"),
        "stop_diastolic_above": (90, 120, "mmHg"),
        "stop_heart_rate_above": (100, 150, "bpm"),
        "stop_spo2_below": (85, 95, "%"),
        "cadss_hold_above": (8, 46, "points"),
    }
)
"""The range each of ``SafetyThresholds``' values must lie in (lowest, highest, unit)."""

MONITORING_BOUNDS: Mapping[str, tuple[int, int, str]] = MappingProxyType(
    {
        "vitals_every_minutes": (1, 15, "min"),
        "min_observation_minutes": (RECOVERY_MINUTES_MIN, 600, "min"),
        "aldrete_min": (8, 10, "points"),
        "vitals_return_percent": (1, 30, "%"),
    }
)
"""The range each bounded value of ``MonitoringPlan`` must lie in (lowest, highest, unit)."""


def protocol_breaches(protocol: "Protocol") -> tuple[ClinicalValueError, ...]:
    """Return every platform guardrail ``protocol`` breaks, each naming its field; () if none.

    - ``regimen``: a starting dose below ``SESSION_MG_PER_KG_MIN`` (0.1 mg/kg [Andrade2017]);
      a per-hour rate below ``SESSION_MG_PER_KG_PER_H_MIN`` (0.1 mg/kg/h, under 0.35
      [Schwartzman2009]); a psychiatric starting dose above ``PSYCHIATRIC_START_MG_PER_KG_MAX``
      (1.0 mg/kg [ASKP-basics-2018]); a session faster than ``SESSION_MG_PER_KG_PER_H_MAX``
      (2 mg/kg/h [Cohen2018-GC]); a maximum single dose, or a per-hour session's most (the
      capped rate × hours), above ``SESSION_MG_MAX`` (150 mg, unconfirmed).
    - ``titration``: an increase limit that would run faster than 2 mg/kg/h over the
      protocol's minutes (the limit itself is held to 3.0 mg/kg by ``TitrationRule``).
    - ``safety``: each threshold within ``SAFETY_BOUNDS``. SpO₂ stop 85–95 % and systolic stop
      at most 200 mmHg are the issue's bounds (unconfirmed); the stop figures quoted without a
      primary source (> 180/110 mmHg, HR > 110–120 bpm, SpO₂ < 92–94 %, clinical-facts §5a)
      lie inside. The emergency-department protocols exclude SBP > 180 mmHg and HR > 150 bpm
      [WestJEM2020] [ED-scirp], hence deferral systolic at most 180 and heart-rate stop at
      most 150. Stops of at least 140/90 mmHg: the lowest deferral figure quoted (> 140/90,
      unconfirmed); deferral from 130/80, diastolic stop at most 120 and heart-rate stop from
      100 are (unconfirmed) bounds. The CADSS hold from 8 (above the mean 7.7 after IV
      ketamine [CADSS-Yale2018], below which most patients would be held) to 46 (half the
      23-item scale's 92; derived, unconfirmed).
    - ``monitoring``: vital signs at least every 15 min (the longest interval Riva-Posse 2018
      measured at, every 10 min during and 15 min after [RivaPosse2018]); observation before
      discharge at least 60 min [ED-scirp]; a modified Aldrete of at least 8 and vital signs
      back within at most 30 % of baseline ((unconfirmed) bounds, clinical-facts §5d); a
      CADSS taken no later than the end of the booked recovery.
    - ``visit``: at least ``RECOVERY_MINUTES_MIN`` (60) minutes of recovery booked [ED-scirp].
    - ``series``: more than one infusion at least ``series.INFUSION_GAP_FLOOR`` (24 h) apart;
      ``maintenance_options``: a symptom-triggered booster's ``min_gap`` likewise.
    """
    return (
        *_regimen_breaches(protocol),
        *_titration_breaches(protocol),
        *_bounds_breaches("safety", protocol.safety, SAFETY_BOUNDS),
        *_bounds_breaches("monitoring", protocol.monitoring, MONITORING_BOUNDS),
        *_visit_breaches(protocol),
        *_gap_breaches(protocol),
    )


def check_session_dose(*, mg_per_kg: Decimal, infusion_minutes: int) -> None:
    """Refuse a per-session dose above 3.0 mg/kg (``dosing.MG_PER_KG_MAX``,
    [CommunityUpdate2022]) or faster than 2 mg/kg/h over ``infusion_minutes``
    (``SESSION_MG_PER_KG_PER_H_MAX``, [Cohen2018-GC]); see ``session_ceiling_mg_per_kg``.

    Raises OutOfRange naming ``mg_per_kg``, saying the most allowed over those minutes.
    """
    ceiling = session_ceiling_mg_per_kg(infusion_minutes)
    if mg_per_kg > dosing.MG_PER_KG_MAX or _too_fast(mg_per_kg, infusion_minutes):
        raise OutOfRange(
            "mg_per_kg",
            f"{mg_per_kg} mg/kg over {infusion_minutes} min ({_rate(mg_per_kg, infusion_minutes)}"
            f" mg/kg/h) is above the platform ceiling: at most {ceiling} mg/kg over "
            f"{infusion_minutes} min, {dosing.MG_PER_KG_MAX} mg/kg [CommunityUpdate2022] and "
            f"{SESSION_MG_PER_KG_PER_H_MAX} mg/kg/h [Cohen2018-GC] ({_GUARDRAIL})",
        )


def check_session_mg(dose_mg: Decimal) -> None:
    """Refuse a session's dose above ``SESSION_MG_MAX`` (150 mg, unconfirmed), whatever the
    weight it was worked out on and the titration. Raises OutOfRange naming ``dose_mg``."""
    if dose_mg > SESSION_MG_MAX:
        raise OutOfRange(
            "dose_mg",
            f"{dose_mg.normalize():f} mg in one session is above the platform ceiling of "
            f"{SESSION_MG_MAX} "
            f"mg per session ({_GUARDRAIL}); dose on ideal or adjusted body weight (clinic "
            "rules) or at a lower mg/kg",
        )


def session_ceiling_mg_per_kg(infusion_minutes: int) -> Decimal:
    """Return the highest per-session dose, in mg/kg, that ``check_session_dose`` accepts over
    ``infusion_minutes``: the lower of 3.0 mg/kg and 2 mg/kg/h for that time, rounded down to
    0.001 mg/kg (the step a course's dose is kept in), e.g. 1.333 mg/kg over 40 min."""
    by_rate = (SESSION_MG_PER_KG_PER_H_MAX * infusion_minutes / 60).quantize(
        COURSE_DOSE_STEP_MG_PER_KG, rounding=ROUND_DOWN
    )
    return min(dosing.MG_PER_KG_MAX, by_rate)


def titration_cap_mg_per_kg(protocol: "Protocol") -> Decimal | None:
    """Return the highest dose the protocol's own titration reaches, in mg/kg: its no-response
    increase limit, or the starting dose when it has no increase rule; None for a per-hour
    regimen (no per-session dose). Above it a second prescriber co-signs a course's dose."""
    start = protocol.regimen.mg_per_kg
    if start is None:
        return None
    for rule in protocol.titration:
        if rule.trigger == "no_response":  # TitrationTrigger.NO_RESPONSE (the model imports us)
            return rule.limit_mg_per_kg
    return start


def _regimen_breaches(protocol: "Protocol") -> list[ClinicalValueError]:
    regimen, found = protocol.regimen, []
    minutes = regimen.infusion_minutes
    start = regimen.mg_per_kg
    if start is not None:
        if start < SESSION_MG_PER_KG_MIN:
            found.append(
                ClinicalValueError(
                    "regimen",
                    f"regimen.mg_per_kg {start} mg/kg is below the lowest dose reported to help, "
                    f"{SESSION_MG_PER_KG_MIN} mg/kg [Andrade2017] ({_GUARDRAIL})",
                )
            )
        if protocol.condition != "chronic_pain" and start > PSYCHIATRIC_START_MG_PER_KG_MAX:
            found.append(
                ClinicalValueError(
                    "regimen",
                    f"regimen.mg_per_kg {start} mg/kg is above the highest psychiatric starting "
                    f"dose {PSYCHIATRIC_START_MG_PER_KG_MAX} mg/kg [ASKP-basics-2018] "
                    f"({_GUARDRAIL}); titrate up instead",
                )
            )
        if _too_fast(start, minutes):
            found.append(_too_fast_error("regimen", "regimen.mg_per_kg", start, minutes))
    else:
        rate = _given(regimen.mg_per_kg_per_h)
        if rate < SESSION_MG_PER_KG_PER_H_MIN:
            found.append(
                ClinicalValueError(
                    "regimen",
                    f"regimen.mg_per_kg_per_h {rate} mg/kg/h is below "
                    f"{SESSION_MG_PER_KG_PER_H_MIN} mg/kg/h, under the lowest rate reported, "
                    f"0.35 mg/kg/h [Schwartzman2009] ({_GUARDRAIL})",
                )
            )
        if rate > SESSION_MG_PER_KG_PER_H_MAX:
            found.append(
                ClinicalValueError(
                    "regimen",
                    f"regimen.mg_per_kg_per_h {rate} mg/kg/h is above "
                    f"{SESSION_MG_PER_KG_PER_H_MAX} mg/kg/h [Cohen2018-GC] ({_GUARDRAIL})",
                )
            )
        most = min(rate * dosing.WEIGHT_KG_MAX, _given(regimen.cap_mg_per_h)) * minutes / 60
        if most > SESSION_MG_MAX:
            found.append(
                ClinicalValueError(
                    "regimen",
                    f"at up to {_given(regimen.cap_mg_per_h)} mg/h for {minutes} min a session "
                    f"gives up to {most.normalize():f} mg, above the platform ceiling of "
                    f"{SESSION_MG_MAX} mg per session ({_GUARDRAIL})",
                )
            )
    if regimen.max_single_dose_mg is not None and regimen.max_single_dose_mg > SESSION_MG_MAX:
        found.append(
            ClinicalValueError(
                "regimen",
                f"regimen.max_single_dose_mg {regimen.max_single_dose_mg} mg is above the "
                f"platform ceiling of {SESSION_MG_MAX} mg per session ({_GUARDRAIL})",
            )
        )
    return found


def _titration_breaches(protocol: "Protocol") -> list[ClinicalValueError]:
    minutes = protocol.regimen.infusion_minutes
    return [
        _too_fast_error(
            "titration", f"titration[{index}].limit_mg_per_kg", rule.limit_mg_per_kg, minutes
        )
        for index, rule in enumerate(protocol.titration)
        if rule.trigger == "no_response" and _too_fast(_given(rule.limit_mg_per_kg), minutes)
    ]


def _bounds_breaches(
    field: str, values: object, bounds: Mapping[str, tuple[int, int, str]]
) -> list[ClinicalValueError]:
    found = []
    for name, (low, high, unit) in bounds.items():
        value: int = getattr(values, name)
        if not low <= value <= high:
            found.append(
                ClinicalValueError(
                    field,
                    f"{field}.{name} must be from {low} to {high} {unit}; got {value} "
                    f"({_GUARDRAIL})",
                )
            )
    return found


def _visit_breaches(protocol: "Protocol") -> list[ClinicalValueError]:
    found = []
    recovery = protocol.visit.recovery_minutes
    if recovery < RECOVERY_MINUTES_MIN:
        found.append(
            ClinicalValueError(
                "visit",
                f"visit.recovery_minutes must be at least {RECOVERY_MINUTES_MIN} min: observe "
                f"≥ 60 min after the final dose [ED-scirp]; got {recovery}",
            )
        )
    cadss = protocol.monitoring.cadss_after_start_minutes
    last = protocol.regimen.infusion_minutes + recovery
    if cadss is not None and cadss > last:
        found.append(
            ClinicalValueError(
                "monitoring",
                f"monitoring.cadss_after_start_minutes {cadss} is after the booked recovery "
                f"ends ({last} min from the start of the infusion); the patient has left",
            )
        )
    return found


def _gap_breaches(protocol: "Protocol") -> list[ClinicalValueError]:
    floor_hours = INFUSION_GAP_FLOOR.total_seconds() / 3600
    found = []
    series = protocol.series
    if series.count > 1 and series.min_gap < INFUSION_GAP_FLOOR:
        found.append(
            ClinicalValueError(
                "series",
                f"series.min_gap must be at least {floor_hours:g} h between two infusions of "
                f"a series of {series.count}; got {series.min_gap.total_seconds() / 3600:g} h "
                f"({_GUARDRAIL})",
            )
        )
    for index, option in enumerate(protocol.maintenance_options):
        if option.min_gap is not None and option.min_gap < INFUSION_GAP_FLOOR:
            found.append(
                ClinicalValueError(
                    "maintenance_options",
                    f"maintenance_options[{index}].min_gap must be at least {floor_hours:g} h "
                    f"after the previous infusion; got "
                    f"{option.min_gap.total_seconds() / 3600:g} h ({_GUARDRAIL})",
                )
            )
    return found


def _too_fast(mg_per_kg: Decimal, minutes: int) -> bool:
    """Whether mg/kg over ``minutes`` runs above 2 mg/kg/h, compared exactly (no division)."""
    return mg_per_kg * 60 > SESSION_MG_PER_KG_PER_H_MAX * minutes


def _rate(mg_per_kg: Decimal, minutes: int) -> Decimal:
    """The rate in mg/kg/h to 0.01, for messages."""
    return (mg_per_kg * 60 / minutes).quantize(Decimal("0.01"))


def _too_fast_error(
    field: str, where: str, mg_per_kg: Decimal | None, minutes: int
) -> ClinicalValueError:
    dose = _given(mg_per_kg)
    return ClinicalValueError(
        field,
        f"{where} {dose} mg/kg over {minutes} min runs at {_rate(dose, minutes)} mg/kg/h, above "
        f"{SESSION_MG_PER_KG_PER_H_MAX} mg/kg/h [Cohen2018-GC]: at most "
        f"{session_ceiling_mg_per_kg(minutes)} mg/kg over {minutes} min ({_GUARDRAIL})",
    )


def _given(value: Decimal | None) -> Decimal:
    """Return a value the model has already required to be set (for the type checker)."""
    return cast(Decimal, value)
