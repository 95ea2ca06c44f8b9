"""The pure rules of an infusion day: the chair-side record from check-in to co-signature.

- ``Vitals``: one set of vital signs, refused when it cannot be a real reading.
- ``deferral_reasons`` and ``stop_reasons``: the protocol's blood-pressure, heart-rate and
  SpO₂ thresholds before and during the infusion (``protocols.SafetyThresholds``).
- ``gate_failures``: every pre-infusion check still unmet, in plain words, with who may
  resolve it (``GateFacts``).
- ``vitals_due``: the timed readings during the infusion and observation, each taken, due,
  overdue or upcoming.
- ``aldrete_score`` and ``discharge_failures``: may the patient leave (``DischargeFacts``).
- ``Stage``, ``allowed_moves`` and ``check_move``: the record's stages and the moves between
  them.

Messages are for nurses: plain words, no field names. A value the rules cannot use is refused
with OutOfRange (or ClinicalValueError for a stage move) naming the field. This module only
decides; the Django layer gathers the facts, records the result and audits it.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from sustain_core.dosing import (
    WEIGHT_MAX_AGE_DAYS_DEFAULT,
    WeightBasis,
    validate_weight_max_age_days,
)
from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.instruments import INSTRUMENTS
from sustain_core.protocols.model import ALDRETE_MAX, SafetyThresholds
from sustain_core.protocols.sources import split_sources
from sustain_core.series import INFUSION_GAP_FLOOR

_ZERO = dt.timedelta(0)
_MINUTE = dt.timedelta(minutes=1)

# --- Vital signs ---------------------------------------------------------------------------

# Plausibility bounds against typing errors (e.g. SpO₂ 140 or a heart rate of −5), not
# clinical rules: (lowest, highest, what, unit). A reading inside them may still defer or stop
# an infusion; one outside them is refused as a typing error.
VITALS_BOUNDS: Mapping[str, tuple[int, int, str, str]] = MappingProxyType(
    {
        "systolic_mmhg": (50, 300, "systolic blood pressure", "mmHg"),
        "diastolic_mmhg": (20, 200, "diastolic blood pressure", "mmHg"),
        "heart_rate_bpm": (20, 250, "heart rate", "beats per minute"),
        "spo2_percent": (50, 100, "SpO₂", "%"),
        "respiratory_rate_per_min": (4, 60, "respiratory rate", "breaths per minute"),
    }
)


@dataclass(frozen=True, kw_only=True)
class Vitals:
    """One set of vital signs: blood pressure (mmHg), heart rate (bpm), SpO₂ (%) and
    respiratory rate (breaths per minute), whole numbers.

    Raises OutOfRange naming the field for a value outside ``VITALS_BOUNDS`` (bounds against
    typing errors, not clinical rules), a bool or a non-whole number, or a diastolic pressure
    not below the systolic.
    """

    systolic_mmhg: int
    diastolic_mmhg: int
    heart_rate_bpm: int
    spo2_percent: int
    respiratory_rate_per_min: int

    def __post_init__(self) -> None:
        for name, (low, high, what, unit) in VITALS_BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise OutOfRange(
                    name,
                    f"{what} must be a whole number of {unit} from {low} to {high}; got {value!r}",
                )
        if self.diastolic_mmhg >= self.systolic_mmhg:
            raise OutOfRange(
                "diastolic_mmhg",
                f"diastolic blood pressure must be below the systolic; got {self.blood_pressure} "
                "mmHg",
            )

    @property
    def blood_pressure(self) -> str:
        """Systolic/diastolic, e.g. "170/95"."""
        return f"{self.systolic_mmhg}/{self.diastolic_mmhg}"


def deferral_reasons(vitals: Vitals, safety: SafetyThresholds) -> tuple[str, ...]:
    """Why pre-infusion vitals defer the infusion (empty: they do not).

    Systolic above ``safety.defer_systolic_above`` or diastolic above
    ``safety.defer_diastolic_above``, e.g. "blood pressure 170/95 mmHg is above the deferral
    threshold 160/100 mmHg". A value at the threshold does not defer. The thresholds are the
    protocol's, clinic-configurable defaults with no primary source (unconfirmed,
    clinical-facts §5a, §10.6).
    """
    if (
        vitals.systolic_mmhg > safety.defer_systolic_above
        or vitals.diastolic_mmhg > safety.defer_diastolic_above
    ):
        return (
            f"blood pressure {vitals.blood_pressure} mmHg is above the deferral threshold "
            f"{safety.defer_systolic_above}/{safety.defer_diastolic_above} mmHg",
        )
    return ()


def stop_reasons(vitals: Vitals, safety: SafetyThresholds) -> tuple[str, ...]:
    """Why a reading during the infusion stops it (empty: it does not), in this order.

    Systolic above ``stop_systolic_above``, diastolic above ``stop_diastolic_above``, heart
    rate above ``stop_heart_rate_above``, SpO₂ below ``stop_spo2_below``; e.g. "systolic 185
    mmHg is above the stop threshold 180 mmHg", "SpO₂ 91 % is below the stop threshold 92 %".
    A value at a threshold does not stop. The thresholds are the protocol's, clinic-configurable
    defaults with no primary source (unconfirmed, clinical-facts §5a, §10.4, §10.6).
    """
    checks = (
        (
            vitals.systolic_mmhg > safety.stop_systolic_above,
            f"systolic {vitals.systolic_mmhg} mmHg is above the stop threshold "
            f"{safety.stop_systolic_above} mmHg",
        ),
        (
            vitals.diastolic_mmhg > safety.stop_diastolic_above,
            f"diastolic {vitals.diastolic_mmhg} mmHg is above the stop threshold "
            f"{safety.stop_diastolic_above} mmHg",
        ),
        (
            vitals.heart_rate_bpm > safety.stop_heart_rate_above,
            f"heart rate {vitals.heart_rate_bpm} bpm is above the stop threshold "
            f"{safety.stop_heart_rate_above} bpm",
        ),
        (
            vitals.spo2_percent < safety.stop_spo2_below,
            f"SpO₂ {vitals.spo2_percent} % is below the stop threshold {safety.stop_spo2_below} %",
        ),
    )
    return tuple(message for broken, message in checks if broken)


# --- The modified Aldrete score --------------------------------------------------------------

_ALDRETE_ITEMS = ("activity", "respiration", "circulation", "consciousness", "oxygen_saturation")


def aldrete_score(
    *,
    activity: int,
    respiration: int,
    circulation: int,
    consciousness: int,
    oxygen_saturation: int,
) -> int:
    """Return the modified Aldrete score (0–10): five items, each 0, 1 or 2.

    The modified Aldrete post-anaesthesia recovery score, with oxygen saturation in place of
    colour (Aldrete JA. The post-anesthesia recovery score revisited. J Clin Anesth
    1995;7(1):89-91; not in clinical-facts §11, and its item anchors are not carried there).
    The nurse scores each item; this adds them. Its use as a discharge score for ketamine
    clinics is (unconfirmed) (clinical-facts §5d), as is the threshold of 9
    (``MonitoringPlan.aldrete_min``).

    Raises OutOfRange naming the item for a value that is not 0, 1 or 2.
    """
    values = (activity, respiration, circulation, consciousness, oxygen_saturation)
    for name, value in zip(_ALDRETE_ITEMS, values, strict=True):
        _check_whole(name, value, 0, 2, f"the modified Aldrete {name.replace('_', ' ')} item")
    return sum(values)


# --- Checking facts --------------------------------------------------------------------------

# How a refusal names a moment or a duration in plain words.
_WORDS = MappingProxyType(
    {
        "now": "the current time",
        "last_food_at": "the time the patient last ate",
        "last_clear_fluids_at": "the time the patient last drank clear fluids",
        "last_infusion_at": "the start of the last infusion",
        "infusion_ended_at": "the end of the infusion",
        "fasting_food": "the time without food",
        "fasting_clear_fluids": "the time without clear fluids",
        "min_gap": "the least time between infusions",
        "min_observation": "the observation time",
    }
)


def _check_whole(name: str, value: int, low: int, high: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise OutOfRange(name, f"{what} must be a whole number from {low} to {high}; got {value!r}")


def _check_moment(name: str, value: dt.datetime, now: dt.datetime | None = None) -> None:
    """Refuse a moment without a time zone, or (given ``now``) one later than now."""
    if value.utcoffset() is None:
        raise OutOfRange(name, f"{_WORDS[name]} must carry its time zone; got {value}")
    if now is not None and value > now:
        raise OutOfRange(
            name, f"{_WORDS[name]} must not be later than now; got {value} (now {now})"
        )


def _check_duration(name: str, value: dt.timedelta) -> None:
    if value < _ZERO:
        raise OutOfRange(name, f"{_WORDS[name]} must not be negative; got {value}")


def _duration(span: dt.timedelta, *, round_up: bool = False) -> str:
    """A span in hours and minutes, e.g. "20 h", "4 h 30 min", "45 min"."""
    minutes = -(-span // _MINUTE) if round_up else span // _MINUTE
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


# --- The pre-infusion gate -------------------------------------------------------------------


class GateItem(StrEnum):
    """A pre-infusion check, in the order ``gate_failures`` lists them."""

    IDENTITY = "identity"
    VISIT_TODAY = "visit_today"
    CONTRAINDICATION = "contraindication"
    FASTING = "fasting"
    ESCORT = "escort"
    NO_DRIVING = "no_driving"
    PREGNANCY = "pregnancy"
    SUBSTANCE_USE = "substance_use"
    MEDICATION_CHANGES = "medication_changes"
    LAST_DOSES = "last_doses"
    BASELINE_VITALS = "baseline_vitals"
    BLOOD_PRESSURE = "blood_pressure"
    WEIGHT = "weight"
    HEIGHT = "height"
    PRE_INFUSION_MEASURES = "pre_infusion_measures"
    SUICIDE_RISK = "suicide_risk"
    MIN_GAP = "min_gap"
    DOSE_REVIEW = "dose_review"


class Resolver(StrEnum):
    """Who may resolve an unmet check."""

    NURSE = "nurse"
    PRESCRIBER = "prescriber"


class PregnancyTest(StrEnum):
    """Today's pregnancy test: not applicable (recorded by the nurse), its result, or not done."""

    NOT_APPLICABLE = "not_applicable"
    NEGATIVE = "negative"
    POSITIVE = "positive"
    NOT_DONE = "not_done"


@dataclass(frozen=True)
class GateFailure:
    """One unmet pre-infusion check: what is missing, in plain words, and who may resolve it.

    ``resolvers`` is empty when nobody can by recording something: the visit is on another
    day, or only time resolves it (fasting, the minimum gap).
    """

    item: GateItem
    message: str
    resolvers: tuple[Resolver, ...]


@dataclass(frozen=True, kw_only=True)
class GateFacts:
    """What the pre-infusion gate looks at, gathered by the Django layer at ``now``.

    ``today`` and ``visit_day`` are dates in the site's zone; ``now`` and every moment are
    time-zone aware. ``last_food_at`` and ``last_clear_fluids_at`` are None when not asked
    yet; ``fasting_food`` and ``fasting_clear_fluids`` are the clinic's rule
    (``ClinicRules.fasting_food_hours`` and ``fasting_clear_fluids_hours``).
    ``pregnancy_test_required`` is the protocol's ``monitoring.pregnancy_test``.
    ``blood_pressure_accepted``: a prescriber accepted a blood pressure above the deferral
    threshold, with a reason. ``weight_current``: a weight within the clinic's
    ``weight_max_age_days`` (``ClinicRules.weight_max_age_days``, named in the message).
    ``measures_missing``: the instrument codes of the pre-infusion questionnaires not yet
    completed (named by their short titles). ``suicide_risk_cleared``: a prescriber cleared
    the patient for today despite an open suicide-risk alert. ``last_infusion_at``: the start
    of the last infusion (None: none yet); ``min_gap`` the protocol's ``series.min_gap``
    between starts. ``dose_review_pending``: the last infusion was stopped for blood pressure
    and no prescriber has reviewed the dose since. ``absolute_contraindications``: the items
    the course's latest signed screen marks present among the protocol's absolute ones.
    ``last_doses_missing``: the interacting
    medications on the patient's list (``sustain_core.medications``) whose last dose the nurse
    has not yet recorded for this visit, each named as the message should name it (e.g.
    "lorazepam (benzodiazepine)"). ``height_missing_for``: the body weight
    the clinic doses on (ideal or adjusted) when the patient has no recorded height, which
    its BMI threshold needs; None when no height is needed or one is recorded.

    Raises OutOfRange naming the fact for a moment without a time zone or later than now, a
    negative duration, an unknown instrument code, a blank medication name, a weight age
    outside 0–365 days, or a ``height_missing_for`` that is not ideal or adjusted.
    """

    today: dt.date
    visit_day: dt.date
    now: dt.datetime
    identity_confirmed: bool
    last_food_at: dt.datetime | None
    last_clear_fluids_at: dt.datetime | None
    fasting_food: dt.timedelta
    fasting_clear_fluids: dt.timedelta
    escort_present: bool
    no_driving_confirmed: bool
    pregnancy_test_required: bool
    pregnancy_test: PregnancyTest
    substance_use_asked: bool
    medication_changes_asked: bool
    baseline_vitals: Vitals | None
    blood_pressure_accepted: bool
    weight_current: bool
    measures_missing: tuple[str, ...]
    open_suicide_alert: bool
    suicide_risk_cleared: bool
    last_infusion_at: dt.datetime | None
    min_gap: dt.timedelta
    dose_review_pending: bool
    weight_max_age_days: int = WEIGHT_MAX_AGE_DAYS_DEFAULT
    absolute_contraindications: tuple[str, ...] = ()
    last_doses_missing: tuple[str, ...] = ()
    height_missing_for: WeightBasis | None = None

    def __post_init__(self) -> None:
        _check_moment("now", self.now)
        for name in ("last_food_at", "last_clear_fluids_at", "last_infusion_at"):
            moment: dt.datetime | None = getattr(self, name)
            if moment is not None:
                _check_moment(name, moment, self.now)
        for name in ("fasting_food", "fasting_clear_fluids", "min_gap"):
            _check_duration(name, getattr(self, name))
        if not isinstance(self.measures_missing, tuple) or not all(
            isinstance(code, str) and code in INSTRUMENTS for code in self.measures_missing
        ):
            raise OutOfRange(
                "measures_missing",
                f"missing measures must be a tuple of instrument codes; got "
                f"{self.measures_missing!r}",
            )
        validate_weight_max_age_days(self.weight_max_age_days, field="weight_max_age_days")
        if not isinstance(self.last_doses_missing, tuple) or not all(
            isinstance(name, str) and name.strip() for name in self.last_doses_missing
        ):
            raise OutOfRange(
                "last_doses_missing",
                f"medications must be a tuple of names; got {self.last_doses_missing!r}",
            )
        if self.height_missing_for not in (None, WeightBasis.IDEAL, WeightBasis.ADJUSTED):
            raise OutOfRange(
                "height_missing_for",
                f"a height is missing only for ideal or adjusted weight dosing; got "
                f"{self.height_missing_for!r}",
            )


def gate_failures(facts: GateFacts, safety: SafetyThresholds) -> tuple[GateFailure, ...]:
    """Every unmet pre-infusion check, in ``GateItem`` order; empty: the gate is open.

    Each says in plain words what is missing and who may resolve it:

    - identity (nurse): "confirm the patient's identity".
    - visit_today (nobody): "this visit is on 2026-12-08, not today (2026-12-06)".
    - contraindication (nobody here: a prescriber signs a new screen on the patient page): an
      absolute contraindication present on the latest screen, e.g. known hypersensitivity
      [Ketalar-label]; it blocks every infusion, in maintenance too.
    - fasting: not asked (nurse), or too recent (time), e.g. "the patient ate 4 h 30 min ago;
      the clinic asks for 6 h without food (1 h 30 min to go)". The label advises against
      ketamine when nil-per-os guidelines were not followed [Ketalar-label]; ASA: light meal
      6 h, clear fluids 2 h [ASA-fasting-2011]; the hours are the clinic's (unconfirmed for
      subanaesthetic infusions, clinical-facts §5b).
    - escort and no_driving (nurse): a responsible adult to accompany the patient home
      [Ketalar-label]; no driving for at least 8 h [ED-scirp] (§5d).
    - pregnancy: a positive test (prescriber), or no test when the protocol asks for one
      (nurse); pregnancy is an absolute contraindication in the library's psychiatric
      protocols and a relative one in its pain protocols [Cohen2018-GC] (§2b).
    - substance_use and medication_changes (nurse): asked since the last visit; the label
      flags benzodiazepines, opioids and other CNS depressants (profound sedation,
      respiratory depression), theophylline and sympathomimetics [Ketalar-label] (§5b).
    - last_doses (nurse): "record when the patient last took lorazepam (benzodiazepine)", for
      each interacting medication on the list (``sustain_core.medications``: the label's
      classes [Ketalar-label] §5b, lamotrigine, MAO inhibitors), so the prescriber and the
      nurse know how much of it is on board.
    - baseline_vitals (nurse): pre-infusion vitals recorded; the label asks for monitored
      vital signs [Ketalar-label] (§5a).
    - blood_pressure (a nurse may recheck, a prescriber may accept it with a reason): above
      the deferral threshold (``deferral_reasons``; unconfirmed thresholds, §5a).
    - weight (nurse): "record a weight: none within the clinic's 30 days" (mg/kg dosing; the
      age limit is the clinic's, unconfirmed).
    - height (nurse): "record the patient's height: the clinic doses on adjusted body weight
      above a BMI threshold, and the BMI needs the height" (``ClinicRules``, clinical-facts
      §2a, unconfirmed); the dose cannot be calculated without it.
    - pre_infusion_measures (nurse): "complete the pre-infusion PHQ-9, GAD-7".
    - suicide_risk (prescriber): an open suicide-risk alert not cleared for today.
    - min_gap (time): "the last infusion was 20 h ago; the protocol allows one at least 48 h
      after the last" (the protocol's ``series.min_gap`` between starts, never less than
      ``series.INFUSION_GAP_FLOOR``, 24 h: a platform guardrail).
    - dose_review (prescriber): the last infusion was stopped for blood pressure and the dose
      not reviewed (the protocol's blood-pressure titration rule).
    """
    return tuple(failure for check in _GATE_CHECKS if (failure := check(facts, safety)) is not None)


_NURSE = (Resolver.NURSE,)
_PRESCRIBER = (Resolver.PRESCRIBER,)


def _identity(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if facts.identity_confirmed:
        return None
    return GateFailure(GateItem.IDENTITY, "confirm the patient's identity", _NURSE)


def _visit_today(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if facts.visit_day == facts.today:
        return None
    return GateFailure(
        GateItem.VISIT_TODAY, f"this visit is on {facts.visit_day}, not today ({facts.today})", ()
    )


def _fasting(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    parts: list[str] = []
    not_asked = False
    for last, rule, did, without in (
        (facts.last_food_at, facts.fasting_food, "ate", "food"),
        (facts.last_clear_fluids_at, facts.fasting_clear_fluids, "drank clear fluids", "them"),
    ):
        if last is None:
            not_asked = True
            parts.append(f"ask when the patient last {did}")
        elif (since := facts.now - last) < rule:
            parts.append(
                f"the patient {did} {_duration(since)} ago; the clinic asks for "
                f"{_duration(rule)} without {without} ({_duration(rule - since, round_up=True)} "
                "to go)"
            )
    if not parts:
        return None
    return GateFailure(GateItem.FASTING, "; ".join(parts), _NURSE if not_asked else ())


def _escort(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if facts.escort_present:
        return None
    return GateFailure(
        GateItem.ESCORT, "confirm a responsible adult will take the patient home", _NURSE
    )


def _no_driving(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if facts.no_driving_confirmed:
        return None
    return GateFailure(
        GateItem.NO_DRIVING, "confirm the patient will not drive after the infusion", _NURSE
    )


def _pregnancy(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if facts.pregnancy_test == PregnancyTest.POSITIVE:
        return GateFailure(
            GateItem.PREGNANCY,
            "the pregnancy test is positive: a prescriber must decide before any infusion",
            _PRESCRIBER,
        )
    if facts.pregnancy_test_required and facts.pregnancy_test == PregnancyTest.NOT_DONE:
        return GateFailure(
            GateItem.PREGNANCY, "do a pregnancy test: the protocol asks for one", _NURSE
        )
    return None


def _substance_use(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if facts.substance_use_asked:
        return None
    return GateFailure(
        GateItem.SUBSTANCE_USE, "ask about alcohol and drug use since the last visit", _NURSE
    )


def _medication_changes(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if facts.medication_changes_asked:
        return None
    return GateFailure(
        GateItem.MEDICATION_CHANGES, "ask about medication changes since the last visit", _NURSE
    )


def _last_doses(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if not facts.last_doses_missing:
        return None
    return GateFailure(
        GateItem.LAST_DOSES,
        f"record when the patient last took {', '.join(facts.last_doses_missing)}",
        _NURSE,
    )


def _baseline_vitals(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if facts.baseline_vitals is not None:
        return None
    return GateFailure(GateItem.BASELINE_VITALS, "record the pre-infusion vital signs", _NURSE)


def _blood_pressure(facts: GateFacts, safety: SafetyThresholds) -> GateFailure | None:
    if facts.baseline_vitals is None or facts.blood_pressure_accepted:
        return None
    reasons = deferral_reasons(facts.baseline_vitals, safety)
    if not reasons:
        return None
    return GateFailure(
        GateItem.BLOOD_PRESSURE,
        f"{reasons[0]}: a nurse may recheck it, or a prescriber may accept it with a reason",
        (Resolver.NURSE, Resolver.PRESCRIBER),
    )


def _weight(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if facts.weight_current:
        return None
    return GateFailure(
        GateItem.WEIGHT,
        f"record a weight: none within the clinic's {facts.weight_max_age_days} days",
        _NURSE,
    )


def _height(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if facts.height_missing_for is None:
        return None
    return GateFailure(
        GateItem.HEIGHT,
        f"record the patient's height: the clinic doses on {facts.height_missing_for} body "
        "weight above a BMI threshold, and the BMI needs the height",
        _NURSE,
    )


def _pre_infusion_measures(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if not facts.measures_missing:
        return None
    titles = ", ".join(INSTRUMENTS[code].short_title for code in facts.measures_missing)
    return GateFailure(
        GateItem.PRE_INFUSION_MEASURES, f"complete the pre-infusion {titles}", _NURSE
    )


def _contraindication(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if not facts.absolute_contraindications:
        return None
    present = "; ".join(split_sources(item).text for item in facts.absolute_contraindications)
    return GateFailure(
        GateItem.CONTRAINDICATION,
        f"an absolute contraindication is present ({present}): no infusion until a prescriber "
        "signs a new contraindication screen without it",
        (),
    )


def _suicide_risk(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if not facts.open_suicide_alert or facts.suicide_risk_cleared:
        return None
    return GateFailure(
        GateItem.SUICIDE_RISK,
        "an open suicide-risk alert: a prescriber must clear the patient for today with a note",
        _PRESCRIBER,
    )


def _min_gap(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if facts.last_infusion_at is None:
        return None
    since = facts.now - facts.last_infusion_at
    gap = max(facts.min_gap, INFUSION_GAP_FLOOR)
    if since >= gap:
        return None
    rule = (
        f"the protocol allows one at least {_duration(gap)} after the last"
        if facts.min_gap >= INFUSION_GAP_FLOOR
        else f"infusions of one patient start at least {_duration(gap)} apart, whatever the "
        "protocol"
    )
    return GateFailure(
        GateItem.MIN_GAP, f"the last infusion was {_duration(since)} ago; {rule}", ()
    )


def _dose_review(facts: GateFacts, _: SafetyThresholds) -> GateFailure | None:
    if not facts.dose_review_pending:
        return None
    return GateFailure(
        GateItem.DOSE_REVIEW,
        "the last infusion was stopped for blood pressure: a prescriber must review the dose",
        _PRESCRIBER,
    )


_GATE_CHECKS = (
    _identity,
    _visit_today,
    _contraindication,
    _fasting,
    _escort,
    _no_driving,
    _pregnancy,
    _substance_use,
    _medication_changes,
    _last_doses,
    _baseline_vitals,
    _blood_pressure,
    _weight,
    _height,
    _pre_infusion_measures,
    _suicide_risk,
    _min_gap,
    _dose_review,
)


# --- Timed vital signs -----------------------------------------------------------------------


class ReadingStatus(StrEnum):
    """Where a timed reading stands at ``now``."""

    TAKEN = "taken"
    DUE = "due"
    OVERDUE = "overdue"
    UPCOMING = "upcoming"


@dataclass(frozen=True)
class DueReading:
    """A timed reading: when it is due and where it stands."""

    at: dt.datetime
    status: ReadingStatus


def vitals_due(
    *,
    started_at: dt.datetime,
    observe_until: dt.datetime,
    every: dt.timedelta,
    taken: Sequence[dt.datetime],
    now: dt.datetime,
) -> tuple[DueReading, ...]:
    """The timed readings from the start of the infusion to the end of observation.

    A reading is due at ``started_at`` + k × ``every`` for k = 1, 2, … while that time is not
    after ``observe_until`` (the pre-infusion reading is the gate's, not one of these). A due
    time is met (taken) by a reading taken within half an interval either side of it: from
    half an interval before it up to, not including, half an interval after it, so the
    windows of consecutive due times touch without overlapping and one reading meets at most
    one due time. Not met, it is overdue once half an interval has passed since it (at
    ``now``), due from its time until then, and upcoming before it.

    ``every`` is the protocol's ``monitoring.vitals_every_minutes`` (15 min by default;
    Riva-Posse 2018 measured BP every 10 min during and every 15 min after the infusion
    [RivaPosse2018]; an interval as a rule is unconfirmed, clinical-facts §5a). The windows
    and the overdue rule are the clinic's workflow (unconfirmed).

    Raises OutOfRange naming ``every`` when it is not above 0.
    """
    if every <= _ZERO:
        raise OutOfRange("every", f"the time between readings must be above 0; got {every}")
    half = every / 2
    readings: list[DueReading] = []
    at = started_at + every
    while at <= observe_until:
        if any(at - half <= moment < at + half for moment in taken):
            status = ReadingStatus.TAKEN
        elif now >= at + half:
            status = ReadingStatus.OVERDUE
        elif now >= at:
            status = ReadingStatus.DUE
        else:
            status = ReadingStatus.UPCOMING
        readings.append(DueReading(at, status))
        at += every
    return tuple(readings)


def next_overdue_at(
    *,
    started_at: dt.datetime,
    observe_until: dt.datetime,
    every: dt.timedelta,
    taken: Sequence[dt.datetime],
) -> dt.datetime | None:
    """When the next timed reading becomes overdue: the first due time after the latest
    reading that no reading met, half an interval on (``vitals_due``'s overdue rule); None
    when no reading is left before the end of observation. A reading missed before the latest
    one stays overdue on the record; this is the one to take next (the day board shows it).

    Raises OutOfRange naming ``every`` when it is not above 0.
    """
    latest = max(taken, default=started_at)
    due = vitals_due(
        started_at=started_at, observe_until=observe_until, every=every, taken=taken,
        now=started_at,
    )  # fmt: skip
    upcoming = [d.at for d in due if d.status != ReadingStatus.TAKEN and d.at > latest]
    return upcoming[0] + every / 2 if upcoming else None


# --- Discharge -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DischargeFacts:
    """What discharge looks at, gathered by the Django layer at ``now``.

    ``min_observation``, ``aldrete_min`` and ``return_percent`` are the protocol's
    ``monitoring`` (``min_observation_minutes``, ``aldrete_min``, ``vitals_return_percent``);
    ``safety`` its thresholds. ``aldrete`` is the modified Aldrete score (None: not scored
    yet); ``baseline`` the pre-infusion vitals and ``latest`` the last reading after the
    infusion ended (None: none yet).

    Raises OutOfRange naming the fact for a moment without a time zone, an infusion end later
    than now, a negative observation time, a score or threshold outside 0–10, or a return
    percentage outside 1–100.
    """

    infusion_ended_at: dt.datetime
    now: dt.datetime
    min_observation: dt.timedelta
    aldrete: int | None
    aldrete_min: int
    baseline: Vitals | None
    latest: Vitals | None
    return_percent: int
    safety: SafetyThresholds
    dissociation_resolved: bool
    escort_present: bool

    def __post_init__(self) -> None:
        _check_moment("now", self.now)
        _check_moment("infusion_ended_at", self.infusion_ended_at, self.now)
        _check_duration("min_observation", self.min_observation)
        if self.aldrete is not None:
            _check_whole("aldrete", self.aldrete, 0, ALDRETE_MAX, "the modified Aldrete score")
        _check_whole(
            "aldrete_min", self.aldrete_min, 0, ALDRETE_MAX, "the least modified Aldrete score"
        )
        _check_whole(
            "return_percent", self.return_percent, 1, 100, "the allowed change from baseline (%)"
        )


def discharge_failures(facts: DischargeFacts) -> tuple[str, ...]:
    """Every unmet discharge criterion in plain words; empty: the patient may leave.

    In order: observation time ("observed 35 min of the 60 min needed after the infusion"),
    the modified Aldrete score ("score the modified Aldrete (at least 9 needed)", "modified
    Aldrete 8, below 9"), vital signs ("no pre-infusion vital signs to compare with", "take
    the vital signs after the infusion", "systolic 152 mmHg is more than 20 % above the
    baseline 118" for systolic, diastolic and heart rate, "SpO₂ 91 % is below 92 %"),
    "dissociation has not yet resolved", "no escort".

    Sources (clinical-facts §5d): release only after recovery is complete, accompanied by a
    responsible adult [Ketalar-label]; observe ≥ 60 min after the final dose until
    verbalisation, awareness and purposeful movement are back to baseline [ED-scirp]; vital
    signs back to baseline [RCEM-discharge]. The modified Aldrete score (``aldrete_score``),
    its threshold of 9 and the ± 20 % return to baseline are (unconfirmed) defaults; SpO₂ is
    judged against the protocol's stop threshold (unconfirmed, §5a). A value exactly 20 %
    from baseline is back.
    """
    failures: list[str] = []
    observed = facts.now - facts.infusion_ended_at
    if observed < facts.min_observation:
        failures.append(
            f"observed {observed // _MINUTE} min of the {facts.min_observation // _MINUTE} min "
            "needed after the infusion"
        )
    if facts.aldrete is None:
        failures.append(f"score the modified Aldrete (at least {facts.aldrete_min} needed)")
    elif facts.aldrete < facts.aldrete_min:
        failures.append(f"modified Aldrete {facts.aldrete}, below {facts.aldrete_min}")
    if facts.baseline is None:
        failures.append("no pre-infusion vital signs to compare with")
    if facts.latest is None:
        failures.append("take the vital signs after the infusion")
    else:
        if facts.baseline is not None:
            failures.extend(_not_back(facts.baseline, facts.latest, facts.return_percent))
        if facts.latest.spo2_percent < facts.safety.stop_spo2_below:
            failures.append(
                f"SpO₂ {facts.latest.spo2_percent} % is below {facts.safety.stop_spo2_below} %"
            )
    if not facts.dissociation_resolved:
        failures.append("dissociation has not yet resolved")
    if not facts.escort_present:
        failures.append("no escort")
    return tuple(failures)


def _not_back(baseline: Vitals, latest: Vitals, percent: int) -> list[str]:
    """The vital signs more than ``percent`` % away from baseline, in plain words."""
    found = []
    for what, unit, before, after in (
        ("systolic", "mmHg", baseline.systolic_mmhg, latest.systolic_mmhg),
        ("diastolic", "mmHg", baseline.diastolic_mmhg, latest.diastolic_mmhg),
        ("heart rate", "bpm", baseline.heart_rate_bpm, latest.heart_rate_bpm),
    ):
        if abs(after - before) * 100 > percent * before:
            direction = "above" if after > before else "below"
            found.append(
                f"{what} {after} {unit} is more than {percent} % {direction} the baseline {before}"
            )
    return found


# --- The record's stages ---------------------------------------------------------------------


class Stage(StrEnum):
    """Where an infusion day's record is."""

    CHECKING_IN = "checking_in"
    READY = "ready"
    INFUSING = "infusing"
    STOPPED = "stopped"
    RECOVERING = "recovering"
    DISCHARGED = "discharged"
    SIGNED = "signed"
    COSIGNED = "cosigned"


# The moves the record allows, each with what makes it (checked by the Django layer). The
# workflow is the clinic's (issue 10), not a published rule (unconfirmed).
_MOVES: Mapping[Stage, frozenset[Stage]] = MappingProxyType(
    {
        Stage.CHECKING_IN: frozenset({Stage.READY}),  # the gate is open
        Stage.READY: frozenset({Stage.INFUSING}),  # the dose verified and started
        Stage.INFUSING: frozenset(
            {
                Stage.STOPPED,  # a stop threshold crossed, or the clinician stops it
                Stage.RECOVERING,  # the infusion ends
            }
        ),
        Stage.STOPPED: frozenset(
            {
                Stage.INFUSING,  # a prescriber resumes it, with a reason
                Stage.RECOVERING,  # the infusion ends
            }
        ),
        Stage.RECOVERING: frozenset({Stage.DISCHARGED}),  # discharge_failures is empty
        Stage.DISCHARGED: frozenset({Stage.SIGNED}),  # the nurse signs
        Stage.SIGNED: frozenset({Stage.COSIGNED}),  # the prescriber co-signs
        Stage.COSIGNED: frozenset(),  # locked
    }
)
_STAGE_WORDS: Mapping[Stage, str] = MappingProxyType(
    {stage: stage.replace("_", " ") for stage in Stage} | {Stage.COSIGNED: "co-signed"}
)


def allowed_moves(stage: Stage) -> frozenset[Stage]:
    """The stages a record in ``stage`` may move to (empty once co-signed: locked).

    Raises ClinicalValueError naming ``stage`` for an unknown stage.
    """
    return _MOVES[_stage(stage)]


def check_move(current: Stage, target: Stage) -> None:
    """Refuse a move the record does not allow, in plain words.

    checking in → ready (the gate is open); ready → infusing (the dose verified and
    started); infusing → stopped (a stop threshold or the clinician); stopped → infusing (a
    prescriber resumes, with a reason); infusing or stopped → recovering (the infusion ends);
    recovering → discharged; discharged → signed (the nurse); signed → co-signed (the
    prescriber; the record is then locked). The conditions in parentheses are the Django
    layer's to check. E.g. "from ready the record can only go to infusing, not to
    discharged"; "the record is co-signed and locked; it cannot go to signed".

    Raises ClinicalValueError naming ``stage``.
    """
    current, target = _stage(current), _stage(target)
    allowed = _MOVES[current]
    if target in allowed:
        return
    if not allowed:
        message = (
            f"the record is {_STAGE_WORDS[current]} and locked; it cannot go to "
            f"{_STAGE_WORDS[target]}"
        )
    else:
        names = " or ".join(_STAGE_WORDS[stage] for stage in Stage if stage in allowed)
        message = (
            f"from {_STAGE_WORDS[current]} the record can only go to {names}, not to "
            f"{_STAGE_WORDS[target]}"
        )
    raise ClinicalValueError("stage", message)


def _stage(value: Stage) -> Stage:
    try:
        return Stage(value)
    except ValueError:
        names = ", ".join(Stage)
        raise ClinicalValueError(
            "stage", f"the stage must be one of {names}; got {value!r}"
        ) from None
