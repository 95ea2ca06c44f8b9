"""The protocol model: a treatment protocol and its parts, each validated on construction.

A ``Protocol`` is a frozen, versioned value: what it treats, the dose regimen, the induction
series, titration rules, a futility checkpoint, an optional extension for late responders,
the measurement plan, safety thresholds, the monitoring of an infusion day and maintenance
options, each backed by a citation. Constructing one validates it (``Protocol.__post_init__``,
with the cross-field checks of ``protocols.validation``), so an unusable protocol is refused
with a ClinicalValueError whose ``field`` names the rule it breaks (``series``, ``regimen``,
``titration``, ``instrument``, ...).
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import cast

from sustain_core import outcomes, staffing
from sustain_core.dosing import MG_PER_KG_MAX, WEIGHT_KG_MAX, WEIGHT_KG_MIN, BagConvention
from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.maintenance import MaintenanceOption
from sustain_core.measurement import MeasurementRule
from sustain_core.medications import DrugClass
from sustain_core.protocols import validation
from sustain_core.series import SeriesRules
from sustain_core.staffing import Phase


@dataclass(frozen=True)
class Citation:
    """A published source and the protocol parameter it backs."""

    key: str
    reference: str
    supports: str


class Condition(StrEnum):
    """A coded condition: a protocol's primary condition or one of its indications.

    The first four are the primary conditions a patient is enrolled under (``condition``);
    the others are narrower indications within one of them (clinical-facts §3).
    """

    DEPRESSION = "depression"
    ANXIETY = "anxiety"
    PTSD = "ptsd"
    CHRONIC_PAIN = "chronic_pain"
    BIPOLAR_DEPRESSION = "bipolar_depression"
    SUICIDAL_IDEATION = "suicidal_ideation"
    CRPS = "crps"
    FIBROMYALGIA = "fibromyalgia"
    NEUROPATHIC_PAIN = "neuropathic_pain"


PRIMARY_CONDITIONS = frozenset(
    {Condition.DEPRESSION, Condition.ANXIETY, Condition.PTSD, Condition.CHRONIC_PAIN}
)
"""The conditions a patient is enrolled under; a protocol's ``condition`` is one of them."""


_REGIMEN_NUMBERS = (
    "infusion_minutes",
    "mg_per_kg",
    "mg_per_kg_per_h",
    "cap_mg_per_h",
    "max_single_dose_mg",
)


class RegimenKind(StrEnum):
    """How a regimen states its dose: per session (mg/kg) or per hour (mg/kg/h, capped)."""

    PER_SESSION = "per_session"
    PER_HOUR = "per_hour"


@dataclass(frozen=True)
class DoseRegimen:
    """The dose of one session.

    PER_SESSION: ``mg_per_kg`` of body weight infused over ``infusion_minutes``, e.g. 0.5 mg/kg
    over 40 min [Shiroma2014]. PER_HOUR: ``mg_per_kg_per_h`` for ``infusion_minutes``, never
    faster than ``cap_mg_per_h``, e.g. 0.35 mg/kg/h, at most 25 mg/h, for 4 h (240 min)
    [Schwartzman2009]; the cap is reached at cap ÷ rate (25 ÷ 0.35 = 71.4 kg) and heavier
    patients run at the cap.

    ``max_single_dose_mg`` (None: no absolute maximum) is the most one session may give. A
    per-session dose reaches it at max ÷ mg/kg and heavier patients get the maximum; it must
    not already be exceeded at the lightest weight dosed (``dosing.WEIGHT_KG_MIN``, 30 kg),
    or the protocol's dose would be above its own maximum for every patient. A per-hour
    session gives at most min(rate × ``dosing.WEIGHT_KG_MAX``, cap) × hours, which must not
    exceed it (Schwartzman: 25 mg/h for 4 h = 100 mg, "≤ 100 mg per 4 h").

    Raises ClinicalValueError naming ``regimen`` when a field of the other kind is set, one
    of its own is missing, a number is not positive, the per-session dose is above the
    dosing ceiling ``dosing.MG_PER_KG_MAX`` (3.0 mg/kg [CommunityUpdate2022]), the hourly
    rate at 30 kg is above its own cap, or a dose is above the maximum single dose.
    """

    kind: RegimenKind
    infusion_minutes: int
    mg_per_kg: Decimal | None = None
    mg_per_kg_per_h: Decimal | None = None
    cap_mg_per_h: Decimal | None = None
    max_single_dose_mg: Decimal | None = None

    def __post_init__(self) -> None:
        per_session = self.kind == RegimenKind.PER_SESSION
        own = (self.mg_per_kg,) if per_session else (self.mg_per_kg_per_h, self.cap_mg_per_h)
        other = (self.mg_per_kg_per_h, self.cap_mg_per_h) if per_session else (self.mg_per_kg,)
        if any(value is None for value in own) or any(value is not None for value in other):
            shape = (
                "mg_per_kg and no mg_per_kg_per_h or cap_mg_per_h"
                if per_session
                else "mg_per_kg_per_h and cap_mg_per_h and no mg_per_kg"
            )
            raise ClinicalValueError("regimen", f"a {self.kind} regimen takes {shape}")
        for name in _REGIMEN_NUMBERS:
            value: Decimal | int | None = getattr(self, name)
            if value is not None and not (Decimal(value).is_finite() and value > 0):
                raise ClinicalValueError("regimen", f"{name} must be above 0; got {value}")
        if self.mg_per_kg is not None:
            self._check_per_session(self.mg_per_kg)
        else:
            self._check_per_hour()

    def _check_per_session(self, mg_per_kg: Decimal) -> None:
        if mg_per_kg > MG_PER_KG_MAX:
            raise ClinicalValueError(
                "regimen",
                f"{mg_per_kg} mg/kg is above the dosing ceiling {MG_PER_KG_MAX} mg/kg "
                "[CommunityUpdate2022]",
            )
        lightest_mg = mg_per_kg * WEIGHT_KG_MIN
        if self.max_single_dose_mg is not None and lightest_mg > self.max_single_dose_mg:
            raise ClinicalValueError(
                "regimen",
                f"{mg_per_kg} mg/kg gives {lightest_mg:f} mg at {WEIGHT_KG_MIN} kg, the "
                f"lightest weight dosed, above the maximum single dose "
                f"{self.max_single_dose_mg} mg; the maximum must be at least {lightest_mg:f} mg",
            )

    def _check_per_hour(self) -> None:
        rate, cap = _present(self.mg_per_kg_per_h), _present(self.cap_mg_per_h)
        if rate * WEIGHT_KG_MIN > cap:
            raise ClinicalValueError(
                "regimen",
                f"{rate} mg/kg/h is {rate * WEIGHT_KG_MIN:f} mg/h at {WEIGHT_KG_MIN} kg, the "
                f"lightest weight dosed, above its own cap {cap} mg/h",
            )
        fastest = min(rate * WEIGHT_KG_MAX, cap)
        most_mg = fastest * self.infusion_minutes / 60
        if self.max_single_dose_mg is not None and most_mg > self.max_single_dose_mg:
            raise ClinicalValueError(
                "regimen",
                f"at up to {fastest:f} mg/h for {self.infusion_minutes} min a session gives up "
                f"to {most_mg:f} mg, above the maximum single dose {self.max_single_dose_mg} mg",
            )


@dataclass(frozen=True)
class SafetyThresholds:
    """Vital-sign and dissociation limits for an infusion; every default is (unconfirmed).

    Deferral before the infusion: systolic above ``defer_systolic_above`` or diastolic above
    ``defer_diastolic_above`` (mmHg). Stop during it: systolic above ``stop_systolic_above``,
    diastolic above ``stop_diastolic_above``, heart rate above ``stop_heart_rate_above``
    (bpm), or SpO2 below ``stop_spo2_below`` (%). Titration hold: CADSS total above
    ``cadss_hold_above``.

    Sources (clinical-facts §5a, §5c, §10.4, §10.6): pre-infusion deferral (> 160/100 or
    > 140/90 mmHg) and stop thresholds (> 180/110 mmHg, HR > 110–120 bpm, SpO2 < 92–94 %)
    have no primary source, so the first figure quoted is the default and the clinic
    configures them. No CADSS hold level is published; 26 is derived: the mean 7.7 plus twice
    the SD 9.2 after IV ketamine [CADSS-Yale2018].

    Raises ClinicalValueError naming ``safety`` when a threshold is not positive, a deferral
    threshold is above its stop threshold, SpO2 is above 100 % or CADSS above 92 (23 × 4).
    The platform's narrower bounds on each (``guardrails.SAFETY_BOUNDS``, e.g. SpO2 stop 85–95 %)
    are checked with the protocol that holds them.
    """

    defer_systolic_above: int = 160
    defer_diastolic_above: int = 100
    stop_systolic_above: int = 180
    stop_diastolic_above: int = 110
    stop_heart_rate_above: int = 110
    stop_spo2_below: int = 92
    cadss_hold_above: int = 26
    source: str = (
        "(unconfirmed) clinical-facts §5a: deferral > 160/100 mmHg and stop > 180/110 mmHg, "
        "HR > 110 bpm, SpO2 < 92 % have no primary source; CADSS hold above 26 is derived "
        "(mean 7.7 + 2 × SD 9.2 [CADSS-Yale2018])"
    )

    def __post_init__(self) -> None:
        values = (
            self.defer_systolic_above,
            self.defer_diastolic_above,
            self.stop_systolic_above,
            self.stop_diastolic_above,
            self.stop_heart_rate_above,
            self.stop_spo2_below,
            self.cadss_hold_above,
        )
        if min(values) <= 0 or self.stop_spo2_below > 100 or self.cadss_hold_above > 92:
            raise ClinicalValueError(
                "safety",
                "thresholds must be above 0, SpO2 at most 100 % and CADSS at most 92; "
                f"got {values}",
            )
        if (
            self.defer_systolic_above > self.stop_systolic_above
            or self.defer_diastolic_above > self.stop_diastolic_above
        ):
            raise ClinicalValueError(
                "safety",
                f"the deferral threshold {self.defer_systolic_above}/"
                f"{self.defer_diastolic_above} mmHg must not be above the stop threshold "
                f"{self.stop_systolic_above}/{self.stop_diastolic_above} mmHg",
            )


class TitrationTrigger(StrEnum):
    """What a titration rule reacts to, judged on the infusions given so far.

    NO_RESPONSE: no response yet on the protocol's outcome instrument (``Protocol.instrument``,
    a fall of at least ``Protocol.response_fraction`` from its baseline) and the last infusion
    was tolerated. DISSOCIATION: CADSS total above ``SafetyThresholds.cadss_hold_above``.
    BLOOD_PRESSURE: systolic or diastolic maximum during the last infusion above the stop
    thresholds. ``protocols.trigger_reads`` says it in words for a protocol's pages.
    """

    NO_RESPONSE = "no_response"
    DISSOCIATION = "dissociation"
    BLOOD_PRESSURE = "blood_pressure"


class TitrationAction(StrEnum):
    """What a titration decision does to the next infusion's dose (mg/kg).

    INCREASE and REDUCE change it by a step, within a limit. HOLD keeps it for a safety reason
    (no increase while the trigger persists). UNCHANGED keeps it because no rule applies; it
    is a decision only, never a rule's action.
    """

    INCREASE = "increase"
    HOLD = "hold"
    REDUCE = "reduce"
    UNCHANGED = "unchanged"


_RULE_ACTIONS: Mapping[TitrationTrigger, frozenset[TitrationAction]] = MappingProxyType(
    {
        TitrationTrigger.NO_RESPONSE: frozenset({TitrationAction.INCREASE}),
        TitrationTrigger.DISSOCIATION: frozenset({TitrationAction.HOLD, TitrationAction.REDUCE}),
        TitrationTrigger.BLOOD_PRESSURE: frozenset({TitrationAction.HOLD, TitrationAction.REDUCE}),
    }
)


@dataclass(frozen=True)
class TitrationRule:
    """One titration rule: on ``trigger``, ``action`` the per-session dose.

    INCREASE (NO_RESPONSE only) adds ``step_mg_per_kg`` up to ``limit_mg_per_kg``, the
    maximum; REDUCE (DISSOCIATION or BLOOD_PRESSURE) subtracts it down to ``limit_mg_per_kg``,
    the floor; HOLD takes neither. A NO_RESPONSE rule applies once ``after_infusion``
    infusions have been given (2: the third infusion may be increased); safety rules apply
    from the first (``after_infusion`` 1). ``source`` cites the rule.

    Raises ClinicalValueError naming ``titration`` when the action does not suit the trigger,
    a stepped rule lacks a positive step and limit, a hold has one, a limit is above
    ``dosing.MG_PER_KG_MAX``, or ``after_infusion`` is below 1 (or not 1 on a safety rule).
    """

    trigger: TitrationTrigger
    action: TitrationAction
    step_mg_per_kg: Decimal | None = None
    limit_mg_per_kg: Decimal | None = None
    after_infusion: int = 1
    source: str = ""

    def __post_init__(self) -> None:
        if self.action not in _RULE_ACTIONS[self.trigger]:
            allowed = " or ".join(sorted(_RULE_ACTIONS[self.trigger]))
            raise ClinicalValueError(
                "titration", f"{self.trigger} rules can {allowed}; got {self.action}"
            )
        amounts = (self.step_mg_per_kg, self.limit_mg_per_kg)
        if self.action == TitrationAction.HOLD:
            if amounts != (None, None):
                raise ClinicalValueError(
                    "titration", "hold rules take no step_mg_per_kg or limit_mg_per_kg"
                )
        elif not all(value is not None and value.is_finite() and value > 0 for value in amounts):
            raise ClinicalValueError(
                "titration",
                f"{self.action} rules need a step_mg_per_kg and limit_mg_per_kg above 0; "
                f"got {self.step_mg_per_kg} and {self.limit_mg_per_kg}",
            )
        elif _present(self.limit_mg_per_kg) > MG_PER_KG_MAX:
            raise ClinicalValueError(
                "titration",
                f"the limit {self.limit_mg_per_kg} mg/kg is above the dosing ceiling "
                f"{MG_PER_KG_MAX} mg/kg [CommunityUpdate2022]",
            )
        if self.after_infusion < 1 or (
            self.after_infusion != 1 and self.trigger != TitrationTrigger.NO_RESPONSE
        ):
            raise ClinicalValueError(
                "titration",
                f"after_infusion must be 1 or more, and is for no_response rules only; "
                f"got {self.after_infusion} on a {self.trigger} rule",
            )

    def check_start(self, start: Decimal) -> None:
        """Check a stepped rule's limit against the protocol's starting dose ``start`` (mg/kg).

        Raises ClinicalValueError naming ``titration`` when a floor is not below the start, a
        maximum is not above it, or the steps from the start pass the maximum.
        """
        if self.action == TitrationAction.HOLD:
            return
        step, limit = _present(self.step_mg_per_kg), _present(self.limit_mg_per_kg)
        if self.action == TitrationAction.REDUCE:
            if limit >= start:
                raise ClinicalValueError(
                    "titration",
                    f"the {self.trigger} floor {limit} mg/kg must be below the starting dose "
                    f"{start} mg/kg",
                )
            return
        if limit <= start:
            raise ClinicalValueError(
                "titration",
                f"the maximum {limit} mg/kg is not above the starting dose {start} mg/kg",
            )
        if (limit - start) % step:
            steps = (limit - start) // step + 1
            raise ClinicalValueError(
                "titration",
                f"a step of {step} mg/kg from {start} mg/kg passes the maximum {limit} mg/kg "
                f"(step {steps} reaches {start + steps * step} mg/kg); the maximum must be the "
                "starting dose plus a whole number of steps",
            )


DEFAULT_RELAPSE_CONFIRMATION_DAYS = 7
"""Days between the two measurements confirming a loss of response: (unconfirmed) §4b."""

DEFAULT_RESPONSE_FRACTION = Decimal("0.5")
"""Response is a fall of at least half the baseline score, e.g. MADRS [Murrough2013-avyia]."""

DEFAULT_PARTIAL_RESPONSE_FRACTION = Decimal("0.25")
"""Partial response is a fall of at least a quarter of the baseline score but less than the
response fraction (25–49 % under a 50 % response): a clinic rule (unconfirmed), the band
issue 11 asks for; clinical-facts defines no partial response."""


class ExtensionFor(StrEnum):
    """Who may have the induction series extended (``Protocol.extension_max_infusions``).

    NOT_RESPONDED: partial responders and patients with no response yet, the late responders
    of [Shiroma2014] (4 of 12 reached response only after 3 or more infusions); PARTIAL:
    partial responders only. A responder is never extended: the review moves them on.
    """

    NOT_RESPONDED = "not_responded"
    PARTIAL = "partial_response"


class ChairCapability(StrEnum):
    """What a chair offers beyond a standard infusion chair; a protocol's visits may need it."""

    EXTENDED = "extended"  # fully reclining, for infusions of several hours
    CARDIAC_MONITOR = "cardiac_monitor"  # continuous ECG at the chair


VISIT_PHASE_MINUTES_MAX = 600  # a bound against typing errors (10 h), not a clinical rule


@dataclass(frozen=True)
class VisitTemplate:
    """How one visit of a protocol runs: the phases and the chair it needs.

    Check-in and pre-infusion checks (``check_in_minutes``), the infusion
    (``DoseRegimen.infusion_minutes``), recovery and observation (``recovery_minutes``) and
    discharge (``discharge_minutes``); the chair is held for all of them. Observation of at
    least 60 min after the final dose, until awareness is back to baseline, is the ED low-dose
    protocol's [ED-scirp] (clinical-facts §5d); the 15 min check-in and 5 min discharge are
    (unconfirmed) clinic defaults. ``chair_needs``: capabilities every chair for these visits
    must have (e.g. ``extended`` for a 4-hour pain infusion).

    Raises OutOfRange naming ``visit`` for a phase that is not a whole number of minutes from
    0 to ``VISIT_PHASE_MINUTES_MAX``.
    """

    check_in_minutes: int = 15
    recovery_minutes: int = 60
    discharge_minutes: int = 5
    chair_needs: frozenset[ChairCapability] = frozenset()
    source: str = (
        "recovery: observe ≥ 60 min after the final dose [ED-scirp] (clinical-facts §5d); "
        "check-in 15 min and discharge 5 min are (unconfirmed) clinic defaults"
    )

    def __post_init__(self) -> None:
        for name in ("check_in_minutes", "recovery_minutes", "discharge_minutes"):
            minutes = getattr(self, name)
            if not 0 <= minutes <= VISIT_PHASE_MINUTES_MAX:
                raise OutOfRange(
                    "visit",
                    f"visit.{name} must be from 0 to {VISIT_PHASE_MINUTES_MAX} minutes; "
                    f"got {minutes}",
                )


VITALS_EVERY_MINUTES_MAX = 60  # a bound against typing errors, not a clinical rule
ALDRETE_MAX = 10  # the modified Aldrete score's top: five items of 0–2 (infusion_day)


@dataclass(frozen=True)
class MonitoringPlan:
    """How an infusion is watched and when the patient may leave (the chair-side record).

    - ``vitals_every_minutes``: blood pressure, heart rate, SpO2 and respiratory rate every
      this many minutes from the start of the infusion until discharge (default 15; 1–60).
      Riva-Posse 2018 measured BP every 10 min during and every 15 min after the infusion
      [RivaPosse2018]; the seed studies' 15–20 min intervals are reported too; no source
      makes an interval a rule (unconfirmed, clinical-facts §5a).
    - ``cadss_after_start_minutes``: when the CADSS is taken, in minutes from the start of
      the infusion (1–600); None, the default, takes it at the end of the infusion:
      dissociation peaks at the 40-min timepoint and is absent later [Diazgranados2010]
      (clinical-facts §5c).
    - ``min_observation_minutes``: the least observation after the infusion ends before
      discharge (default 60; 0–600): observe ≥ 60 min after the final dose [ED-scirp]
      (clinical-facts §5d). This is the discharge rule; the chair time booked for recovery is
      ``VisitTemplate.recovery_minutes``.
    - ``aldrete_min``: the least modified Aldrete score for discharge (default 9; 0–10); no
      discharge score is confirmed for ketamine clinics (unconfirmed, clinical-facts §5d).
    - ``vitals_return_percent``: at discharge, systolic, diastolic and heart rate are back
      within ± this % of the pre-infusion reading (default 20; 1–100). "Vitals back to
      baseline" is the procedural-sedation criterion [RCEM-discharge]; the 20 % is
      (unconfirmed) (clinical-facts §5d).
    - ``pregnancy_test``: the pre-infusion checks ask for a pregnancy test result (default
      False: no source in clinical-facts asks for one; unconfirmed). Pregnancy is on every
      library protocol's contraindication screen: absolute for the psychiatric ones, relative
      for pain [Cohen2018-GC].

    Raises ClinicalValueError naming ``monitoring`` for a value outside its range (or not a
    whole number, or a flag that is not true or false). The platform's narrower bounds
    (``guardrails.MONITORING_BOUNDS``: vitals at least every 15 min, observation at least
    60 min, ...) are checked with the protocol that holds the plan.
    """

    vitals_every_minutes: int = 15
    cadss_after_start_minutes: int | None = None
    min_observation_minutes: int = 60
    aldrete_min: int = 9
    vitals_return_percent: int = 20
    pregnancy_test: bool = False
    source: str = (
        "vitals every 15 min: BP every 10 min during and 15 min after [RivaPosse2018], as a "
        "rule (unconfirmed) (clinical-facts §5a); CADSS at the end of the infusion: "
        "dissociation peaks at 40 min [Diazgranados2010] (§5c); observe ≥ 60 min after the "
        "infusion [ED-scirp]; modified Aldrete ≥ 9 and vitals within 20 % of baseline are "
        "(unconfirmed) defaults (§5d); no pregnancy test: no source asks for one (unconfirmed)"
    )

    def __post_init__(self) -> None:
        ranges = [
            ("vitals_every_minutes", self.vitals_every_minutes, 1, VITALS_EVERY_MINUTES_MAX),
            ("min_observation_minutes", self.min_observation_minutes, 0, VISIT_PHASE_MINUTES_MAX),
            ("aldrete_min", self.aldrete_min, 0, ALDRETE_MAX),
            ("vitals_return_percent", self.vitals_return_percent, 1, 100),
        ]
        if self.cadss_after_start_minutes is not None:
            cadss = self.cadss_after_start_minutes
            ranges.append(("cadss_after_start_minutes", cadss, 1, VISIT_PHASE_MINUTES_MAX))
        for name, value, low, high in ranges:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ClinicalValueError(
                    "monitoring",
                    f"monitoring.{name} must be a whole number from {low} to {high}; got {value!r}",
                )
        if not isinstance(self.pregnancy_test, bool):
            raise ClinicalValueError(
                "monitoring",
                f"monitoring.pregnancy_test must be true or false; got {self.pregnancy_test!r}",
            )


@dataclass(frozen=True)
class Protocol:
    """A versioned infusion protocol; constructing one validates it.

    ``condition`` is the primary condition a patient is enrolled under (one of
    ``PRIMARY_CONDITIONS``) and ``indications`` the coded conditions it treats.
    ``regimen`` is the dose of one session and ``bag_volume_ml`` the bag it is diluted in;
    ``bag_convention`` says whether the drug's volume is withdrawn from the bag first (the bag
    ends at its nominal volume) or added (the final volume and the pump rate for it): a local
    pharmacy rule (clinical-facts §8f, unconfirmed). The default, WITHDRAW, runs the bag's
    nominal volume at the rate a source states for it (100 mL over 40 min [MECP2024]; 100 mL
    at 25 mL/h for 4 h [NCT00579085]).
    ``series`` holds the induction's count, gaps, span, weekdays and weekly maximum;
    ``min_gap`` is the least time between the starts of consecutive infusions and
    ``max_span`` the most from the start of the first to the end of the last.
    ``instrument`` is the code of the questionnaire that measures the outcome; it is among
    ``baseline_measures`` (instrument codes measured before infusion 1) and response is a fall
    of at least ``response_fraction`` of its baseline, a partial response a fall of at least
    ``partial_response_fraction`` (default 25 %, unconfirmed) but less (``outcome_rules``).

    ``measurement_plan`` says which questionnaires are due when (see
    ``sustain_core.measurement.due_items``); a protocol without one asks for none.
    ``relapse_confirmation_days`` is the least number of days between the two measurements
    that confirm a loss of response: loss of response confirmed at two visits is a defensible
    booster trigger but not a published definition, and the 7-day default is (unconfirmed)
    (clinical-facts §4b). ``remission_max_override`` is the highest total on
    ``instrument`` that counts as remission when the protocol says so (e.g. MADRS ≤ 10 as in
    KetECT [Ekstrand2022]); None keeps the instrument's own rule (PHQ-9 below 5 [McInnes2022]).

    ``contraindications_absolute`` and ``contraindications_relative`` are cited text items a
    prescriber answers on the screen: a present absolute one blocks induction and every
    infusion; a present relative one needs the prescriber's written justification.
    ``minimum_age_years``: the youngest patient the protocol treats (None: no minimum; the
    library's studies enrolled adults, so its protocols say 18).
    ``required_medication_classes``: induction needs a current medication of each of these
    classes on the patient's list (``sustain_core.medications``; the bipolar-depression
    protocol: a mood stabiliser, as the trial's patients were maintained on lithium or
    valproate [Diazgranados2010]); each class once.
    ``titration`` holds at most one rule per trigger (see ``titrate``). ``futility_after``:
    with no response after this many infusions the prescriber reviews the course (3: few
    reports describe response after more than 3 infusions when none came before
    [Sanacora2017-medscape]); None: no checkpoint. ``extension_max_infusions``: late
    responders may continue up to this many infusions in all (None: no extension);
    ``extension_for`` says whose series may be extended (``ExtensionFor``).
    ``safety`` holds the vital-sign and dissociation thresholds, ``maintenance_options`` the
    plans offered after induction. ``monitoring`` says how an infusion is watched and when
    the patient may leave (see ``MonitoringPlan``). ``unconfirmed`` lists, in words, every
    value that is a default without a primary source; ``notes`` is free text.

    Raises ClinicalValueError naming the rule: ``version``, ``condition``, ``indications``,
    ``series`` (the induction cannot fit; see ``feasible_start_weekdays``), ``regimen`` (see
    ``DoseRegimen``), ``titration`` (a step past its maximum; see ``TitrationRule``),
    ``instrument`` (an unknown code), ``measurement_plan``, ``safety``, ``futility_after``,
    ``extension_max_infusions``, ``response_fraction``, ``partial_response_fraction``,
    ``minimum_age_years``, ``monitoring``, ``bag_convention`` (not withdraw or add) or
    ``required_medication_classes`` (a class listed twice), or a platform guardrail it breaks
    (``guardrails.protocol_breaches``: a bound against typing errors on the dose, its rate,
    the safety thresholds, monitoring, recovery and the gap between infusions). When several
    rules are broken, RulesBroken names every one.
    """

    key: str
    version: int
    title: str
    condition: Condition
    indications: tuple[Condition, ...]
    regimen: DoseRegimen
    bag_volume_ml: Decimal
    series: SeriesRules
    instrument: str
    baseline_measures: tuple[str, ...]
    citations: tuple[Citation, ...]
    measurement_plan: tuple[MeasurementRule, ...] = ()
    relapse_confirmation_days: int = DEFAULT_RELAPSE_CONFIRMATION_DAYS
    remission_max_override: int | None = None
    contraindications_absolute: tuple[str, ...] = ()
    contraindications_relative: tuple[str, ...] = ()
    minimum_age_years: int | None = None
    required_medication_classes: tuple[DrugClass, ...] = ()
    titration: tuple[TitrationRule, ...] = ()
    futility_after: int | None = None
    extension_max_infusions: int | None = None
    safety: SafetyThresholds = SafetyThresholds()
    maintenance_options: tuple[MaintenanceOption, ...] = ()
    response_fraction: Decimal = DEFAULT_RESPONSE_FRACTION
    partial_response_fraction: Decimal = DEFAULT_PARTIAL_RESPONSE_FRACTION
    extension_for: ExtensionFor = ExtensionFor.NOT_RESPONDED
    unconfirmed: tuple[str, ...] = ()
    notes: str = ""
    # What the literature reports for this regimen, each with its citation key (clinical-facts
    # §9), shown on the protocol page; words only, never used in a decision.
    reported_outcomes: tuple[str, ...] = ()
    visit: VisitTemplate = VisitTemplate()
    monitoring: MonitoringPlan = MonitoringPlan()
    bag_convention: BagConvention = BagConvention.WITHDRAW

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ClinicalValueError("version", f"version must be 1 or more; got {self.version}")
        if self.condition not in PRIMARY_CONDITIONS:
            primary = ", ".join(sorted(PRIMARY_CONDITIONS))
            raise ClinicalValueError(
                "condition",
                f"condition must be a primary condition ({primary}); got {self.condition}",
            )
        if not self.indications:
            raise ClinicalValueError("indications", "a protocol needs one or more indications")
        if self.bag_convention not in tuple(BagConvention):
            allowed = " or ".join(BagConvention)
            raise ClinicalValueError(
                "bag_convention",
                f"bag_convention must be {allowed}; got {self.bag_convention!r}",
            )
        validation.check_protocol(self)

    def outcome_rules(self, instrument: str) -> outcomes.OutcomeRules | None:
        """Return the rules that classify ``instrument``'s scores on a course of this protocol.

        The protocol's own outcome instrument takes the protocol's response fraction (e.g.
        ≥ 30 % for PTSD [Feder2021]), its partial-response fraction and its remission
        override, with the protocol named in the citation; any other instrument keeps its
        defaults (``outcomes.DEFAULT_RULES``). None for an instrument with no outcome rules
        (the CADSS, the C-SSRS screener).
        """
        rules = outcomes.DEFAULT_RULES.get(instrument)
        if rules is None or instrument != self.instrument:
            return rules
        if self.remission_max_override is not None:
            rules = outcomes.rules_for(instrument, remission_max=self.remission_max_override)
        return replace(
            rules,
            response_fraction=self.response_fraction,
            partial_response_fraction=self.partial_response_fraction,
            citation=(
                f"{rules.citation}; {self.key} v{self.version} sets response ≥ "
                f"{_percent(self.response_fraction)} % and partial response ≥ "
                f"{_percent(self.partial_response_fraction)} %"
            ),
        )

    @property
    def visit_phases(self) -> tuple[Phase, ...]:
        """The phases of one visit in order, from its start (``VisitTemplate``); a phase of 0
        minutes is left out (``staffing.visit_phases``)."""
        return staffing.visit_phases(
            self.visit.check_in_minutes,
            self.regimen.infusion_minutes,
            self.visit.recovery_minutes,
            self.visit.discharge_minutes,
        )

    @property
    def visit_length(self) -> dt.timedelta:
        """Chair time for one visit: every phase of ``visit_phases``."""
        last = self.visit_phases[-1]
        return last.offset + last.length

    @property
    def dose_mg_per_kg(self) -> Decimal:
        """Return the per-session dose in mg/kg (the starting dose when the protocol titrates).

        Raises ClinicalValueError naming ``regimen`` for a per-hour regimen: its session dose
        depends on the hourly cap, so no mg/kg figure describes it and none may be used to
        dose a per-session infusion.
        """
        if self.regimen.mg_per_kg is None:
            raise ClinicalValueError(
                "regimen",
                f"{self.key} v{self.version} doses {self.regimen.mg_per_kg_per_h} mg/kg/h, at "
                f"most {self.regimen.cap_mg_per_h} mg/h, for {self.regimen.infusion_minutes} "
                "min; it has no per-session mg/kg dose",
            )
        return self.regimen.mg_per_kg

    @property
    def infusion_minutes(self) -> int:
        """Return how long one infusion runs, in minutes, for either kind of regimen."""
        return self.regimen.infusion_minutes

    @property
    def induction_infusions(self) -> int:
        """Return the number of infusions in the induction series."""
        return self.series.count

    @property
    def min_gap(self) -> dt.timedelta:
        """Return the least time between the starts of consecutive induction infusions."""
        return self.series.min_gap

    @property
    def max_span(self) -> dt.timedelta:
        """Return the most time from the start of the first infusion to the end of the last."""
        return self.series.max_span


def _percent(fraction: Decimal) -> str:
    """0.3 → "30", 0.125 → "12.5" (for citations and messages)."""
    return f"{(fraction * 100).normalize():f}"


def _present(value: Decimal | None) -> Decimal:
    """Return a value that validation has already required to be set (for the type checker)."""
    return cast(Decimal, value)
