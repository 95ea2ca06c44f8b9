"""Treatment protocols: the published parameters a course is planned from, and their library.

A ``Protocol`` is a frozen, versioned value: what it treats, the dose regimen, the induction
series, titration rules, a futility checkpoint, an optional extension for late responders,
the measurement plan, safety thresholds and maintenance options, each backed by a citation.
Constructing one validates it (``Protocol.__post_init__``), so an unusable protocol is refused
with a ClinicalValueError whose ``field`` names the rule it breaks (``series``, ``regimen``,
``titration``, ``instrument``, ...).

The library is one TOML file per protocol version in ``sustain_core/protocol_library``, named
``<key>.v<version>.toml`` and read with ``tomllib`` into ``PROTOCOLS``. A file has the shape of
``protocol_to_dict``, the same JSON-ready shape the Django layer stores clinic versions in:
decimals are strings (``"0.5"``) so they stay exact, durations are whole numbers in the unit
their name says (``min_gap_hours = 48``, ``max_span_days = 12``), and absent optional values
are missing (TOML) or null (JSON). Every number in a library file comes from the clinical
fact sheet with its citation key; a default with no primary source says "(unconfirmed)" in
the protocol's ``unconfirmed`` list or in the text that carries it.
"""

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import NoReturn, TypeVar, cast, overload

from sustain_core.dosing import MG_PER_KG_MAX, WEIGHT_KG_MAX, WEIGHT_KG_MIN
from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.instruments import INSTRUMENTS
from sustain_core.maintenance import MaintenanceKind, MaintenanceOption
from sustain_core.measurement import Anchor, MeasurementRule
from sustain_core.outcomes import DEFAULT_RULES
from sustain_core.series import SeriesRules
from sustain_core.staffing import Phase, visit_phases

_ZERO = dt.timedelta(0)
_MINUTE = dt.timedelta(minutes=1)
_HOUR = dt.timedelta(hours=1)
_DAY = dt.timedelta(days=1)
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


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

    NO_RESPONSE: not responded yet and the last infusion was tolerated. DISSOCIATION: CADSS
    total above ``SafetyThresholds.cadss_hold_above``. BLOOD_PRESSURE: systolic or diastolic
    maximum during the last infusion above the stop thresholds.
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


@dataclass(frozen=True)
class TitrationDecision:
    """The dose (mg/kg) for the next infusion, what changed, why, and the rule's source."""

    action: TitrationAction
    mg_per_kg: Decimal
    reason: str
    source: str


DEFAULT_RELAPSE_CONFIRMATION_DAYS = 7
"""Days between the two measurements confirming a loss of response: (unconfirmed) §4b."""

DEFAULT_RESPONSE_FRACTION = Decimal("0.5")
"""Response is a fall of at least half the baseline score, e.g. MADRS [Murrough2013-avyia]."""


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


@dataclass(frozen=True)
class Protocol:
    """A versioned infusion protocol; constructing one validates it.

    ``condition`` is the primary condition a patient is enrolled under (one of
    ``PRIMARY_CONDITIONS``) and ``indications`` the coded conditions it treats.
    ``regimen`` is the dose of one session and ``bag_volume_ml`` the bag it is diluted in.
    ``series`` holds the induction's count, gaps, span, weekdays and weekly maximum;
    ``min_gap`` is the least time between the starts of consecutive infusions and
    ``max_span`` the most from the start of the first to the end of the last.
    ``instrument`` is the code of the questionnaire that measures the outcome; it is among
    ``baseline_measures`` (instrument codes measured before infusion 1) and response is a fall
    of at least ``response_fraction`` of its baseline.

    ``measurement_plan`` says which questionnaires are due when (see
    ``sustain_core.measurement.due_items``); a protocol without one asks for none.
    ``relapse_confirmation_days`` is the least number of days between the two measurements
    that confirm a loss of response: loss of response confirmed at two visits is a defensible
    booster trigger but not a published definition, and the 7-day default is (unconfirmed)
    (clinical-facts §4b). ``remission_max_override`` is the highest total on
    ``instrument`` that counts as remission when the protocol says so (e.g. MADRS ≤ 10 as in
    KetECT [Ekstrand2022]); None keeps the instrument's own rule (PHQ-9 below 5 [McInnes2022]).

    ``contraindications_absolute`` and ``contraindications_relative`` are cited text items.
    ``titration`` holds at most one rule per trigger (see ``titrate``). ``futility_after``:
    with no response after this many infusions the prescriber reviews the course (3: few
    reports describe response after more than 3 infusions when none came before
    [Sanacora2017-medscape]); None: no checkpoint. ``extension_max_infusions``: late
    responders may continue up to this many infusions in all (None: no extension).
    ``safety`` holds the vital-sign and dissociation thresholds, ``maintenance_options`` the
    plans offered after induction. ``unconfirmed`` lists, in words, every value that is a
    default without a primary source; ``notes`` is free text.

    Raises ClinicalValueError naming the rule: ``version``, ``condition``, ``indications``,
    ``series`` (the induction cannot fit; see ``feasible_start_weekdays``), ``regimen`` (see
    ``DoseRegimen``), ``titration`` (a step past its maximum; see ``TitrationRule``),
    ``instrument`` (an unknown code), ``measurement_plan``, ``safety``, ``futility_after``,
    ``extension_max_infusions`` or ``response_fraction``.
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
    titration: tuple[TitrationRule, ...] = ()
    futility_after: int | None = None
    extension_max_infusions: int | None = None
    safety: SafetyThresholds = SafetyThresholds()
    maintenance_options: tuple[MaintenanceOption, ...] = ()
    response_fraction: Decimal = DEFAULT_RESPONSE_FRACTION
    unconfirmed: tuple[str, ...] = ()
    notes: str = ""
    # What the literature reports for this regimen, each with its citation key (clinical-facts
    # §9), shown on the protocol page; words only, never used in a decision.
    reported_outcomes: tuple[str, ...] = ()
    visit: VisitTemplate = VisitTemplate()

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
        _check_series(self.series, visit=self.visit_length)
        self._check_instruments()
        keys = [rule.key for rule in self.measurement_plan]
        if len(set(keys)) != len(keys):
            raise ClinicalValueError("measurement_plan", f"rule keys must be unique; got {keys}")
        self._check_titration()
        count = self.series.count
        if self.futility_after is not None and not 1 <= self.futility_after <= count:
            raise ClinicalValueError(
                "futility_after",
                f"futility_after must be from 1 to the {count} induction infusions; "
                f"got {self.futility_after}",
            )
        if self.extension_max_infusions is not None and self.extension_max_infusions <= count:
            raise ClinicalValueError(
                "extension_max_infusions",
                f"an extension must allow more than the {count} induction infusions; "
                f"got {self.extension_max_infusions}",
            )
        if not 0 < self.response_fraction <= 1:
            raise ClinicalValueError(
                "response_fraction",
                f"response_fraction must be above 0 and at most 1; got {self.response_fraction}",
            )

    @property
    def visit_phases(self) -> tuple[Phase, ...]:
        """The phases of one visit in order, from its start (``VisitTemplate``); a phase of 0
        minutes is left out (``staffing.visit_phases``)."""
        return visit_phases(
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

    def _check_instruments(self) -> None:
        used = [
            ("instrument", self.instrument),
            *(("baseline_measures", code) for code in self.baseline_measures),
            *(
                (f"measurement_plan rule {rule.key}", code)
                for rule in self.measurement_plan
                for code in rule.instruments
            ),
        ]
        known = ", ".join(sorted(INSTRUMENTS))
        for where, code in used:
            if code not in INSTRUMENTS:
                raise ClinicalValueError(
                    "instrument", f"unknown instrument {code!r} in {where}; known: {known}"
                )
        if self.instrument not in DEFAULT_RULES:
            scored = ", ".join(sorted(DEFAULT_RULES))
            raise ClinicalValueError(
                "instrument",
                f"{self.instrument} has no response or remission rules, so it cannot measure "
                f"the outcome; choose one of {scored}",
            )
        if self.instrument not in self.baseline_measures:
            raise ClinicalValueError(
                "instrument",
                f"the outcome instrument {self.instrument} must be among the baseline measures "
                f"{list(self.baseline_measures)}: response is a fall from its baseline",
            )

    def _check_titration(self) -> None:
        triggers = [rule.trigger for rule in self.titration]
        if len(set(triggers)) != len(triggers):
            raise ClinicalValueError(
                "titration", f"at most one rule per trigger; got {[str(t) for t in triggers]}"
            )
        if self.titration and self.regimen.mg_per_kg is None:
            raise ClinicalValueError(
                "titration",
                "titration rules step a per-session mg/kg dose; this regimen is per hour",
            )
        for rule in self.titration:
            _check_rule_against_start(rule, start=_present(self.regimen.mg_per_kg))

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


def _check_rule_against_start(rule: TitrationRule, *, start: Decimal) -> None:
    """Check a stepped rule's limit against the protocol's starting dose."""
    if rule.action == TitrationAction.HOLD:
        return
    step, limit = _present(rule.step_mg_per_kg), _present(rule.limit_mg_per_kg)
    if rule.action == TitrationAction.REDUCE:
        if limit >= start:
            raise ClinicalValueError(
                "titration",
                f"the {rule.trigger} floor {limit} mg/kg must be below the starting dose "
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


def titrate(
    protocol: Protocol,
    *,
    current_mg_per_kg: Decimal,
    infusions_given: int,
    responded: bool,
    tolerated: bool,
    dissociation_score: int | None,
    systolic_max: int | None,
    diastolic_max: int | None,
) -> TitrationDecision:
    """Return the dose for the next infusion by the protocol's titration rules.

    Inputs describe the course so far: the dose of the last infusion, how many infusions were
    given, whether the patient has responded (by the protocol's ``response_fraction``), whether
    the clinician judged the last infusion tolerated, its CADSS total and the highest systolic
    and diastolic pressures during it (None: not measured, so that rule cannot fire).

    Order: safety first. A BLOOD_PRESSURE rule fires when systolic or diastolic is above the
    stop threshold, a DISSOCIATION rule when CADSS is above the hold level (``safety``); if
    both fire the lower resulting dose wins (a tie goes to blood pressure). HOLD keeps the
    dose; REDUCE subtracts its step down to its floor, and at the floor holds for review.
    Otherwise the NO_RESPONSE rule increases by its step, capped at its maximum, when the
    patient has not responded, tolerated the last infusion and has had ``after_infusion``
    infusions; else the dose is UNCHANGED (no rule, responded, not tolerated, too early, or
    already at the maximum).

    Source: the protocol's rules, each citing its own source (the library's depression
    standard: +0.25 mg/kg after infusion 2 up to 0.75 mg/kg, from the issue; unconfirmed).

    Raises OutOfRange naming ``current_mg_per_kg`` when it is not above 0, or
    ``infusions_given`` when it is negative.
    """
    if not current_mg_per_kg > 0:
        raise OutOfRange(
            "current_mg_per_kg", f"current_mg_per_kg must be above 0; got {current_mg_per_kg}"
        )
    if infusions_given < 0:
        raise OutOfRange(
            "infusions_given", f"infusions_given must be 0 or more; got {infusions_given}"
        )
    rules = {rule.trigger: rule for rule in protocol.titration}
    safety = protocol.safety
    fired: list[TitrationDecision] = []
    pressure = rules.get(TitrationTrigger.BLOOD_PRESSURE)
    above = [
        f"{name} {value} mmHg above {limit}"
        for name, value, limit in (
            ("systolic", systolic_max, safety.stop_systolic_above),
            ("diastolic", diastolic_max, safety.stop_diastolic_above),
        )
        if value is not None and value > limit
    ]
    if pressure is not None and above:
        fired.append(_safety_decision(pressure, current_mg_per_kg, "; ".join(above)))
    dissociation = rules.get(TitrationTrigger.DISSOCIATION)
    if (
        dissociation is not None
        and dissociation_score is not None
        and dissociation_score > safety.cadss_hold_above
    ):
        reason = f"CADSS {dissociation_score} above the hold level {safety.cadss_hold_above}"
        fired.append(_safety_decision(dissociation, current_mg_per_kg, reason))
    if fired:
        return min(fired, key=lambda decision: decision.mg_per_kg)

    increase = rules.get(TitrationTrigger.NO_RESPONSE)
    if increase is None:
        return _unchanged(current_mg_per_kg, "the protocol has no dose-increase rule", "")
    return _increase_decision(
        increase,
        current=current_mg_per_kg,
        infusions_given=infusions_given,
        responded=responded,
        tolerated=tolerated,
    )


def _increase_decision(
    rule: TitrationRule, *, current: Decimal, infusions_given: int, responded: bool, tolerated: bool
) -> TitrationDecision:
    limit, step = _present(rule.limit_mg_per_kg), _present(rule.step_mg_per_kg)
    if responded:
        reason = "responded: keep the dose"
    elif not tolerated:
        reason = "not tolerated: no increase"
    elif infusions_given < rule.after_infusion:
        reason = f"no increase before {rule.after_infusion} infusions are given"
    elif current >= limit:
        reason = f"already at the maximum {limit} mg/kg"
    else:
        return TitrationDecision(
            action=TitrationAction.INCREASE,
            mg_per_kg=min(current + step, limit),
            reason=(
                f"no response after {infusions_given} infusions and tolerated: "
                f"+{step} mg/kg up to {limit} mg/kg"
            ),
            source=rule.source,
        )
    return _unchanged(current, reason, rule.source)


def _safety_decision(rule: TitrationRule, current: Decimal, reason: str) -> TitrationDecision:
    if rule.action == TitrationAction.HOLD:
        return TitrationDecision(
            TitrationAction.HOLD, current, f"{reason}: hold the dose", rule.source
        )
    floor, step = _present(rule.limit_mg_per_kg), _present(rule.step_mg_per_kg)
    if current <= floor:
        return TitrationDecision(
            TitrationAction.HOLD,
            current,
            f"{reason}: already at the floor {floor} mg/kg, hold the dose for prescriber review",
            rule.source,
        )
    return TitrationDecision(
        TitrationAction.REDUCE,
        max(current - step, floor),
        f"{reason}: −{step} mg/kg down to {floor} mg/kg",
        rule.source,
    )


def _unchanged(current: Decimal, reason: str, source: str) -> TitrationDecision:
    return TitrationDecision(TitrationAction.UNCHANGED, current, reason, source)


# --- Series feasibility ---------------------------------------------------------------------


def feasible_start_weekdays(rules: SeriesRules, *, visit: dt.timedelta) -> frozenset[int]:
    """Return the weekdays (0 = Monday) an induction can start on and still keep its rules.

    Calendar model: one visit of length ``visit`` per day at the same time of day, so
    consecutive visits are a whole number of days apart, at least ceil(min_gap ÷ 24 h) and
    at least 1, and at most ``max_gap``; visits only on ``weekdays``, at most ``max_per_week``
    in a Monday–Sunday week, and the last visit ends within ``max_span`` of the first start.
    From each allowed start day every next visit takes the earliest day that fits.

    For example Murrough 2013 (6 visits, Monday–Wednesday–Friday, 48 h, 12 days
    [Murrough2013]) fits only from a Monday: from a Wednesday the sixth visit falls on day 12.
    A planner can use the result to offer only start days that work.
    """
    weekdays = rules.weekdays if rules.weekdays is not None else frozenset(range(7))
    min_days = max(1, -(-rules.min_gap // _DAY))
    last_day = (rules.max_span - visit) // _DAY
    return frozenset(
        start
        for start in sorted(weekdays)
        if _fits_from(rules, start, weekdays, min_days=min_days, last_day=last_day)
    )


def _fits_from(
    rules: SeriesRules, start: int, weekdays: frozenset[int], *, min_days: int, last_day: int
) -> bool:
    """Return True when the greedy earliest placement from ``start`` places every visit.

    Day numbers count from the first visit; ``start + day`` is the day's offset from the
    Monday of the first week, so ``% 7`` is its weekday and ``// 7`` its calendar week.
    """
    per_week = {0: 1}
    most_per_week = rules.max_per_week if rules.max_per_week is not None else rules.count

    def allowed(day: int) -> bool:
        weekday, week = (start + day) % 7, (start + day) // 7
        return weekday in weekdays and per_week.get(week, 0) < most_per_week

    day = 0
    for _ in range(rules.count - 1):
        candidate = day + min_days
        while candidate <= last_day and not allowed(candidate):
            candidate += 1
        if candidate > last_day or (
            rules.max_gap is not None and (candidate - day) * _DAY > rules.max_gap
        ):
            return False
        week = (start + candidate) // 7
        per_week[week] = per_week.get(week, 0) + 1
        day = candidate
    return True


def _check_series(rules: SeriesRules, *, visit: dt.timedelta) -> None:
    """Refuse series rules no calendar can satisfy, naming ``series``."""
    weekdays = rules.weekdays
    if (
        rules.count < 1
        or rules.min_gap < _ZERO
        or (rules.max_gap is not None and rules.max_gap < rules.min_gap)
        or (weekdays is not None and (not weekdays or not weekdays <= frozenset(range(7))))
        or (rules.max_per_week is not None and rules.max_per_week < 1)
    ):
        raise ClinicalValueError(
            "series",
            "count and max_per_week must be 1 or more, min_gap 0 or more, max_gap at least "
            f"min_gap, and weekdays a non-empty set of 0 (Monday) to 6; got {rules}",
        )
    needed = (rules.count - 1) * rules.min_gap + visit
    if needed > rules.max_span:
        raise ClinicalValueError(
            "series",
            f"{rules.count} sessions at least {_hours(rules.min_gap)} apart, each "
            f"{_text(visit)} long, need {_text(needed)} from the first start to the last end; "
            f"max_span is {_text(rules.max_span)}",
        )
    if not feasible_start_weekdays(rules, visit=visit):
        on = (
            "any day"
            if weekdays is None
            else " and ".join(_WEEKDAY_NAMES[day] for day in sorted(weekdays))
        )
        per_week = "" if rules.max_per_week is None else f", at most {rules.max_per_week} a week"
        at_most = "" if rules.max_gap is None else f" and at most {_hours(rules.max_gap)}"
        raise ClinicalValueError(
            "series",
            f"{rules.count} sessions on {on}{per_week}, at least {_hours(rules.min_gap)}"
            f"{at_most} apart, do not fit within {_text(rules.max_span)} from any start day",
        )


def _hours(duration: dt.timedelta) -> str:
    return f"{duration / _HOUR:g} h"


def _text(duration: dt.timedelta) -> str:
    days, rest = divmod(duration, _DAY)
    hours, rest = divmod(rest, _HOUR)
    minutes = rest / _MINUTE
    parts = [
        f"{days} day{'s' if days != 1 else ''}" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes:g} min" if minutes else "",
    ]
    return " ".join(part for part in parts if part) or "0 h"


def _present(value: Decimal | None) -> Decimal:
    """Return a value that validation has already required to be set (for the type checker)."""
    return cast(Decimal, value)


# --- The dict shape (TOML files and the Django layer's JSON) ---------------------------------

_T = TypeVar("_T")
_E = TypeVar("_E", bound=StrEnum)
_DECIMAL = 'a decimal written as a string, e.g. "0.5"'


class _Table:
    """One table being read from TOML or JSON: typed getters that name the path on error.

    Getters with a ``default`` treat a missing or None value as that default; the others
    require the value. Every getter records its key, so ``done`` refuses fields nobody read
    (a misspelt field would otherwise be ignored silently).
    """

    def __init__(self, data: object, path: str) -> None:
        self._path = path
        if not isinstance(data, Mapping):
            _fail(path, "a table", data)
        self._data: Mapping[object, object] = data
        self._read: set[str] = set()

    def _get(self, key: str, kind: type[_T], expected: str) -> tuple[str, _T | None]:
        self._read.add(key)
        where = f"{self._path}.{key}" if self._path else key
        value = self._data.get(key)
        if value is not None and not _is(value, kind):
            _fail(where, expected, value)
        return where, cast(_T | None, value)

    def _required(self, key: str, kind: type[_T], expected: str) -> _T:
        where, value = self._get(key, kind, expected)
        if value is None:
            _fail(where, expected, value)
        return value

    def text(self, key: str, default: str | None = None) -> str:
        if default is None:
            return self._required(key, str, "text")
        value = self._get(key, str, "text")[1]
        return default if value is None else value

    def integer(self, key: str, default: int | None = None) -> int:
        if default is None:
            return self._required(key, int, "a whole number")
        value = self._get(key, int, "a whole number")[1]
        return default if value is None else value

    def optional_integer(self, key: str) -> int | None:
        return self._get(key, int, "a whole number")[1]

    def optional_duration(self, key: str, unit: dt.timedelta) -> dt.timedelta | None:
        value = self.optional_integer(key)
        return None if value is None else value * unit

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, bool, "true or false")[1]
        return default if value is None else value

    def decimal(self, key: str, default: Decimal | None = None) -> Decimal:
        value = self.optional_decimal(key)
        if value is None:
            if default is None:
                _fail(f"{self._path}.{key}" if self._path else key, _DECIMAL, value)
            return default
        return value

    def optional_decimal(self, key: str) -> Decimal | None:
        where, text = self._get(key, str, _DECIMAL)
        if text is None:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            _fail(where, _DECIMAL, text)
        if not number.is_finite():
            _fail(where, _DECIMAL, text)
        return number

    def enum(self, key: str, kind: type[_E]) -> _E:
        allowed = f"one of {', '.join(kind)}"
        text = self._required(key, str, allowed)
        if text not in {member.value for member in kind}:
            _fail(f"{self._path}.{key}" if self._path else key, allowed, text)
        return kind(text)

    def enums(self, key: str, kind: type[_E]) -> tuple[_E, ...]:
        allowed = f"a list of {', '.join(kind)}"
        texts = self._list(key, str, allowed) or []
        if not set(texts) <= {member.value for member in kind}:
            _fail(f"{self._path}.{key}" if self._path else key, allowed, texts)
        return tuple(kind(text) for text in texts)

    def integers(self, key: str) -> tuple[int, ...] | None:
        values = self._list(key, int, "a list of whole numbers")
        return None if values is None else tuple(values)

    def texts(self, key: str) -> tuple[str, ...]:
        return tuple(self._list(key, str, "a list of text") or ())

    def _list(self, key: str, kind: type[_T], expected: str) -> list[_T] | None:
        where, values = self._get(key, list, expected)
        if values is not None and not all(_is(value, kind) for value in values):
            _fail(where, expected, values)
        return cast(list[_T] | None, values)

    def tables(self, key: str) -> list["_Table"]:
        where, values = self._get(key, list, "a list of tables")
        return [_Table(value, f"{where}[{index}]") for index, value in enumerate(values or ())]

    def table(self, key: str) -> "_Table":
        self._read.add(key)
        where = f"{self._path}.{key}" if self._path else key
        return _Table(self._data.get(key, {}), where)

    def done(self) -> None:
        unknown = sorted(str(key) for key in self._data if key not in self._read)
        if unknown:
            where = f"{self._path}.{unknown[0]}" if self._path else unknown[0]
            raise ClinicalValueError(_top(self._path), f"unknown field {where}")


def _is(value: object, kind: type[_T]) -> bool:
    """Return True when ``value`` is a ``kind``; a bool is not a whole number here."""
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def _top(where: str) -> str:
    """Return the top-level field of a path such as ``series.min_gap_hours`` or ``titration[0]``."""
    return re.split(r"[.\[]", where)[0] or "protocol"


def _fail(where: str, expected: str, value: object) -> NoReturn:
    raise ClinicalValueError(
        _top(where), f"{where or 'protocol'} must be {expected}; got {value!r}"
    )


def protocol_from_dict(data: Mapping[str, object]) -> Protocol:
    """Build a protocol from the dict shape of ``protocol_to_dict`` (a TOML file or JSON).

    Optional values may be missing or None. A field nobody knows, a float where a decimal
    string belongs, or a value of the wrong type is refused with a ClinicalValueError naming
    the top-level field, with the path in the message; the protocol is then validated like
    any other (``Protocol``).
    """
    top = _Table(data, "")
    protocol = Protocol(
        key=top.text("key"),
        version=top.integer("version"),
        title=top.text("title"),
        condition=top.enum("condition", Condition),
        indications=top.enums("indications", Condition),
        regimen=_regimen_from(top.table("regimen")),
        bag_volume_ml=top.decimal("bag_volume_ml"),
        series=_series_from(top.table("series")),
        instrument=top.text("instrument"),
        baseline_measures=top.texts("baseline_measures"),
        citations=tuple(_citation_from(table) for table in top.tables("citations")),
        measurement_plan=tuple(_rule_from(table) for table in top.tables("measurement_plan")),
        relapse_confirmation_days=top.integer(
            "relapse_confirmation_days", DEFAULT_RELAPSE_CONFIRMATION_DAYS
        ),
        remission_max_override=top.optional_integer("remission_max_override"),
        contraindications_absolute=top.texts("contraindications_absolute"),
        contraindications_relative=top.texts("contraindications_relative"),
        titration=tuple(_titration_from(table) for table in top.tables("titration")),
        futility_after=top.optional_integer("futility_after"),
        extension_max_infusions=top.optional_integer("extension_max_infusions"),
        safety=_safety_from(top.table("safety")),
        maintenance_options=tuple(
            _maintenance_from(table) for table in top.tables("maintenance_options")
        ),
        response_fraction=top.decimal("response_fraction", DEFAULT_RESPONSE_FRACTION),
        unconfirmed=top.texts("unconfirmed"),
        notes=top.text("notes", default=""),
        reported_outcomes=top.texts("reported_outcomes"),
        visit=_visit_from(top.table("visit")),
    )
    top.done()
    return protocol


def _regimen_from(table: _Table) -> DoseRegimen:
    regimen = DoseRegimen(
        kind=table.enum("kind", RegimenKind),
        infusion_minutes=table.integer("infusion_minutes"),
        mg_per_kg=table.optional_decimal("mg_per_kg"),
        mg_per_kg_per_h=table.optional_decimal("mg_per_kg_per_h"),
        cap_mg_per_h=table.optional_decimal("cap_mg_per_h"),
        max_single_dose_mg=table.optional_decimal("max_single_dose_mg"),
    )
    table.done()
    return regimen


def _series_from(table: _Table) -> SeriesRules:
    weekdays = table.integers("weekdays")
    rules = SeriesRules(
        count=table.integer("count"),
        min_gap=table.integer("min_gap_hours") * _HOUR,
        max_span=table.integer("max_span_days") * _DAY,
        max_gap=table.optional_duration("max_gap_hours", _HOUR),
        weekdays=None if weekdays is None else frozenset(weekdays),
        max_per_week=table.optional_integer("max_per_week"),
    )
    table.done()
    return rules


def _citation_from(table: _Table) -> Citation:
    citation = Citation(
        key=table.text("key"), reference=table.text("reference"), supports=table.text("supports")
    )
    table.done()
    return citation


def _rule_from(table: _Table) -> MeasurementRule:
    rule = MeasurementRule(
        key=table.text("key"),
        anchor=table.enum("anchor", Anchor),
        instruments=table.texts("instruments"),
        offset=table.integer("offset_hours", 0) * _HOUR,
        window_before=table.integer("window_before_hours", 0) * _HOUR,
        window_after=table.integer("window_after_hours", 0) * _HOUR,
        interval=table.optional_duration("interval_hours", _HOUR),
        self_report=table.flag("self_report", default=True),
        from_infusion=table.integer("from_infusion", 1),
    )
    table.done()
    return rule


def _titration_from(table: _Table) -> TitrationRule:
    rule = TitrationRule(
        trigger=table.enum("trigger", TitrationTrigger),
        action=table.enum("action", TitrationAction),
        step_mg_per_kg=table.optional_decimal("step_mg_per_kg"),
        limit_mg_per_kg=table.optional_decimal("limit_mg_per_kg"),
        after_infusion=table.integer("after_infusion", 1),
        source=table.text("source", default=""),
    )
    table.done()
    return rule


def _safety_from(table: _Table) -> SafetyThresholds:
    default = SafetyThresholds()
    safety = SafetyThresholds(
        defer_systolic_above=table.integer("defer_systolic_above", default.defer_systolic_above),
        defer_diastolic_above=table.integer("defer_diastolic_above", default.defer_diastolic_above),
        stop_systolic_above=table.integer("stop_systolic_above", default.stop_systolic_above),
        stop_diastolic_above=table.integer("stop_diastolic_above", default.stop_diastolic_above),
        stop_heart_rate_above=table.integer("stop_heart_rate_above", default.stop_heart_rate_above),
        stop_spo2_below=table.integer("stop_spo2_below", default.stop_spo2_below),
        cadss_hold_above=table.integer("cadss_hold_above", default.cadss_hold_above),
        source=table.text("source", default=default.source),
    )
    table.done()
    return safety


def _visit_from(table: _Table) -> VisitTemplate:
    default = VisitTemplate()
    visit = VisitTemplate(
        check_in_minutes=table.integer("check_in_minutes", default.check_in_minutes),
        recovery_minutes=table.integer("recovery_minutes", default.recovery_minutes),
        discharge_minutes=table.integer("discharge_minutes", default.discharge_minutes),
        chair_needs=frozenset(table.enums("chair_needs", ChairCapability)),
        source=table.text("source", default=default.source),
    )
    table.done()
    return visit


def _maintenance_from(table: _Table) -> MaintenanceOption:
    steps = []
    for step in table.tables("steps"):
        steps.append((step.integer("count"), step.integer("interval_days") * _DAY))
        step.done()
    option = MaintenanceOption(
        kind=table.enum("kind", MaintenanceKind),
        label=table.text("label"),
        interval=table.optional_duration("interval_days", _DAY),
        steps=tuple(steps),
        min_gap=table.optional_duration("min_gap_hours", _HOUR),
        citation=table.text("citation", default=""),
    )
    table.done()
    return option


def protocol_to_dict(protocol: Protocol) -> dict[str, object]:
    """Return the protocol as plain JSON-ready data, the shape ``protocol_from_dict`` reads.

    Decimals become strings, durations whole numbers in the unit the key names, enums their
    values, weekdays a sorted list; unset optional values are None. The round trip
    ``protocol_from_dict(protocol_to_dict(p)) == p`` is exact.

    Raises ClinicalValueError naming the top-level field when a duration is not a whole
    number of its unit (e.g. a 90-minute min_gap, which ``min_gap_hours`` cannot hold).
    """
    regimen, series, safety = protocol.regimen, protocol.series, protocol.safety
    return {
        "key": protocol.key,
        "version": protocol.version,
        "title": protocol.title,
        "condition": protocol.condition.value,
        "indications": [indication.value for indication in protocol.indications],
        "regimen": {
            "kind": regimen.kind.value,
            "infusion_minutes": regimen.infusion_minutes,
            "mg_per_kg": _decimal_text(regimen.mg_per_kg),
            "mg_per_kg_per_h": _decimal_text(regimen.mg_per_kg_per_h),
            "cap_mg_per_h": _decimal_text(regimen.cap_mg_per_h),
            "max_single_dose_mg": _decimal_text(regimen.max_single_dose_mg),
        },
        "bag_volume_ml": str(protocol.bag_volume_ml),
        "series": {
            "count": series.count,
            "min_gap_hours": _whole(series.min_gap, _HOUR, "series.min_gap_hours"),
            "max_span_days": _whole(series.max_span, _DAY, "series.max_span_days"),
            "max_gap_hours": _whole(series.max_gap, _HOUR, "series.max_gap_hours"),
            "weekdays": None if series.weekdays is None else sorted(series.weekdays),
            "max_per_week": series.max_per_week,
        },
        "instrument": protocol.instrument,
        "baseline_measures": list(protocol.baseline_measures),
        "citations": [
            {"key": c.key, "reference": c.reference, "supports": c.supports}
            for c in protocol.citations
        ],
        "measurement_plan": [
            _rule_to_dict(rule, f"measurement_plan[{index}]")
            for index, rule in enumerate(protocol.measurement_plan)
        ],
        "relapse_confirmation_days": protocol.relapse_confirmation_days,
        "remission_max_override": protocol.remission_max_override,
        "contraindications_absolute": list(protocol.contraindications_absolute),
        "contraindications_relative": list(protocol.contraindications_relative),
        "titration": [
            {
                "trigger": rule.trigger.value,
                "action": rule.action.value,
                "step_mg_per_kg": _decimal_text(rule.step_mg_per_kg),
                "limit_mg_per_kg": _decimal_text(rule.limit_mg_per_kg),
                "after_infusion": rule.after_infusion,
                "source": rule.source,
            }
            for rule in protocol.titration
        ],
        "futility_after": protocol.futility_after,
        "extension_max_infusions": protocol.extension_max_infusions,
        "safety": {
            "defer_systolic_above": safety.defer_systolic_above,
            "defer_diastolic_above": safety.defer_diastolic_above,
            "stop_systolic_above": safety.stop_systolic_above,
            "stop_diastolic_above": safety.stop_diastolic_above,
            "stop_heart_rate_above": safety.stop_heart_rate_above,
            "stop_spo2_below": safety.stop_spo2_below,
            "cadss_hold_above": safety.cadss_hold_above,
            "source": safety.source,
        },
        "maintenance_options": [
            _maintenance_to_dict(option, f"maintenance_options[{index}]")
            for index, option in enumerate(protocol.maintenance_options)
        ],
        "response_fraction": str(protocol.response_fraction),
        "unconfirmed": list(protocol.unconfirmed),
        "notes": protocol.notes,
        "reported_outcomes": list(protocol.reported_outcomes),
        "visit": {
            "check_in_minutes": protocol.visit.check_in_minutes,
            "recovery_minutes": protocol.visit.recovery_minutes,
            "discharge_minutes": protocol.visit.discharge_minutes,
            "chair_needs": sorted(protocol.visit.chair_needs),
            "source": protocol.visit.source,
        },
    }


def _rule_to_dict(rule: MeasurementRule, where: str) -> dict[str, object]:
    return {
        "key": rule.key,
        "anchor": rule.anchor.value,
        "instruments": list(rule.instruments),
        "offset_hours": _whole(rule.offset, _HOUR, f"{where}.offset_hours"),
        "window_before_hours": _whole(rule.window_before, _HOUR, f"{where}.window_before_hours"),
        "window_after_hours": _whole(rule.window_after, _HOUR, f"{where}.window_after_hours"),
        "interval_hours": _whole(rule.interval, _HOUR, f"{where}.interval_hours"),
        "self_report": rule.self_report,
        "from_infusion": rule.from_infusion,
    }


def _maintenance_to_dict(option: MaintenanceOption, where: str) -> dict[str, object]:
    return {
        "kind": option.kind.value,
        "label": option.label,
        "interval_days": _whole(option.interval, _DAY, f"{where}.interval_days"),
        "steps": [
            {"count": count, "interval_days": _whole(interval, _DAY, f"{where}.steps")}
            for count, interval in option.steps
        ],
        "min_gap_hours": _whole(option.min_gap, _HOUR, f"{where}.min_gap_hours"),
        "citation": option.citation,
    }


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@overload
def _whole(duration: dt.timedelta, unit: dt.timedelta, where: str) -> int: ...
@overload
def _whole(duration: dt.timedelta | None, unit: dt.timedelta, where: str) -> int | None: ...
def _whole(duration: dt.timedelta | None, unit: dt.timedelta, where: str) -> int | None:
    """Return the duration as a whole number of ``unit`` (hours or days), refusing a remainder."""
    if duration is None:
        return None
    if duration % unit:
        unit_name = "hours" if unit == _HOUR else "days"
        raise ClinicalValueError(
            _top(where), f"{where} must be a whole number of {unit_name}; got {duration}"
        )
    return duration // unit


def diff_protocols(old: Protocol, new: Protocol) -> list[tuple[str, object, object]]:
    """Return every field that differs between two protocols as (path, old value, new value).

    Values and paths are those of ``protocol_to_dict``: ``series.min_gap_hours``, and the
    items of a list of tables by position, ``titration[0].limit_mg_per_kg``; a list of plain
    values (weekdays, instruments) is one value. A path present on one side only (an added or
    removed item) is None on the other. Order: the paths of ``old`` in order, then paths only
    ``new`` has.
    """
    before, after = _flatten(protocol_to_dict(old)), _flatten(protocol_to_dict(new))
    paths = list(before) + [path for path in after if path not in before]
    return [
        (path, before.get(path), after.get(path))
        for path in paths
        if before.get(path) != after.get(path)
    ]


_TABLE_LISTS = frozenset(
    {"citations", "measurement_plan", "titration", "maintenance_options", "steps"}
)


def _flatten(value: object, path: str = "") -> dict[str, object]:
    """Return {path: value} for every leaf; lists of tables are expanded item by item."""
    if not isinstance(value, Mapping):
        return {path: value}
    flat: dict[str, object] = {}
    for key, item in value.items():
        child = f"{path}.{key}" if path else str(key)
        if key in _TABLE_LISTS:
            for index, entry in enumerate(cast(list[object], item)):
                flat.update(_flatten(entry, f"{child}[{index}]"))
        else:
            flat.update(_flatten(item, child))
    return flat


# --- The library --------------------------------------------------------------------------

_LIBRARY_NAME = re.compile(r"(?P<key>[a-z0-9]+(?:-[a-z0-9]+)*)\.v(?P<version>[1-9][0-9]*)\.toml")


def load_library(
    directory: Traversable | None = None,
) -> Mapping[tuple[str, int], Protocol]:
    """Load every ``<key>.v<version>.toml`` file of the protocol library, in file-name order.

    ``directory`` defaults to the package's ``protocol_library``; other files are ignored.

    Raises ClinicalValueError naming ``library`` for a ``.toml`` file whose name does not
    follow the pattern, does not match the key and version inside, or is not valid TOML;
    errors in a protocol keep their field and gain the file name in the message.
    """
    folder = directory or resources.files("sustain_core.protocol_library")
    protocols: dict[tuple[str, int], Protocol] = {}
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if not entry.name.endswith(".toml"):
            continue
        name = _LIBRARY_NAME.fullmatch(entry.name)
        if name is None:
            raise ClinicalValueError(
                "library", f"{entry.name}: a protocol file is named <key>.v<version>.toml"
            )
        try:
            protocol = protocol_from_dict(tomllib.loads(entry.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as error:
            raise ClinicalValueError("library", f"{entry.name}: {error}") from error
        except ClinicalValueError as error:
            raise ClinicalValueError(error.field, f"{entry.name}: {error.message}") from error
        if (protocol.key, protocol.version) != (name["key"], int(name["version"])):
            raise ClinicalValueError(
                "library",
                f"{entry.name} holds {protocol.key} v{protocol.version}; the file name must "
                f"be {protocol.key}.v{protocol.version}.toml",
            )
        protocols[(protocol.key, protocol.version)] = protocol
    return MappingProxyType(protocols)


PROTOCOLS: Mapping[tuple[str, int], Protocol] = load_library()

# The depression standard (6 infusions over 2–3 weeks, 0.5 mg/kg over 40 min); courses
# created before the library existed pin it, so its key, version and values never change.
DEPRESSION_INDUCTION_V1 = PROTOCOLS[("depression-induction", 1)]


def get_protocol(key: str, version: int) -> Protocol:
    """Return the protocol with this key and version.

    Raises ClinicalValueError naming ``protocol`` when no such protocol exists.
    """
    try:
        return PROTOCOLS[(key, version)]
    except KeyError:
        known = ", ".join(f"{k} v{v}" for k, v in sorted(PROTOCOLS))
        raise ClinicalValueError(
            "protocol", f"unknown protocol {key} v{version}; known: {known}"
        ) from None
