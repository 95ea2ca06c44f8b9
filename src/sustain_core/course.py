"""The course lifecycle as an explicit state machine with guarded transitions.

referred → screening → ready → induction → review → maintenance → completed; maintenance may
go to relapsed and back; review may go back to induction when the prescriber extends the
series for a partial or late responder (``protocols.check_extension``); any phase that is
not final may go to discontinued (with a reason); ready, induction and maintenance may be
paused, and a paused course resumes to ready, induction or maintenance. Completed and
discontinued are final.

The lifecycle and its guards come from the clinic's workflow (the issue text), not from a
published source (unconfirmed); each guard's clinical basis is cited where it is defined. The
guards belong to the phase being *entered*, so resuming a paused course checks the same
things as entering that phase the first time (a paused induction needs a current weight
again). This module only decides; the Django service records the change and writes the
audit entry (CONVENTIONS rule 14).
"""

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from sustain_core.dosing import (
    WEIGHT_MAX_AGE_DAYS_DEFAULT,
    check_weight_recency,
    validate_weight_max_age_days,
)
from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.instruments import INSTRUMENTS
from sustain_core.medications import CLASS_TITLES, DrugClass
from sustain_core.protocols.sources import split_sources


class TransitionRefused(ClinicalValueError):
    """A course may not move to the requested phase; the message says every unmet guard."""


class Phase(StrEnum):
    """Where a course is. Values match the Django app's course statuses where both exist."""

    REFERRED = "referred"
    SCREENING = "screening"
    READY = "ready"
    INDUCTION = "induction"
    REVIEW = "review"
    MAINTENANCE = "maintenance"
    RELAPSED = "relapsed"
    COMPLETED = "completed"
    DISCONTINUED = "discontinued"
    PAUSED = "paused"


FINAL_PHASES = frozenset({Phase.COMPLETED, Phase.DISCONTINUED})

# Phases a paused course can resume to; the same phases are the ones that can be paused.
# Relapsed is not among them: a relapsed course goes back to maintenance first (unconfirmed;
# clinic workflow).
_PAUSABLE = frozenset({Phase.READY, Phase.INDUCTION, Phase.MAINTENANCE})

_TRANSITIONS: MappingProxyType[Phase, frozenset[Phase]] = MappingProxyType(
    {
        Phase.REFERRED: frozenset({Phase.SCREENING, Phase.DISCONTINUED}),
        Phase.SCREENING: frozenset({Phase.READY, Phase.DISCONTINUED}),
        Phase.READY: frozenset({Phase.INDUCTION, Phase.PAUSED, Phase.DISCONTINUED}),
        Phase.INDUCTION: frozenset({Phase.REVIEW, Phase.PAUSED, Phase.DISCONTINUED}),
        # A review may close the course without maintenance (no response, or no maintenance
        # wanted); the Django app already allows it.
        # Back to induction when the series is extended (issue 11: partial and late
        # responders); entering induction checks its guards again.
        Phase.REVIEW: frozenset(
            {Phase.INDUCTION, Phase.MAINTENANCE, Phase.COMPLETED, Phase.DISCONTINUED}
        ),
        Phase.MAINTENANCE: frozenset(
            {Phase.RELAPSED, Phase.COMPLETED, Phase.PAUSED, Phase.DISCONTINUED}
        ),
        Phase.RELAPSED: frozenset({Phase.MAINTENANCE, Phase.COMPLETED, Phase.DISCONTINUED}),
        Phase.PAUSED: _PAUSABLE | {Phase.DISCONTINUED},
        Phase.COMPLETED: frozenset(),
        Phase.DISCONTINUED: frozenset(),
    }
)


@dataclass(frozen=True, kw_only=True)
class CourseFacts:
    """What the transition guards look at, gathered by the Django layer on ``today``.

    ``baseline_measures_missing`` lists the instrument codes (e.g. "phq9") whose baseline is
    still missing; the guards name them by their short titles ("PHQ-9").
    ``weight_max_age_days`` is the clinic's setting (default 30, unconfirmed; see
    ``sustain_core.dosing.validate_weight_max_age_days``). ``absolute_contraindications``
    are the items the latest signed screen marks present among the protocol's absolute ones;
    ``age_years`` is the patient's age today and ``minimum_age_years`` the protocol's (None:
    no minimum). ``induction_infusions_planned`` is
    the protocol's (or the prescriber's) number of induction infusions;
    ``induction_infusions_given`` may be None (not counted) for any move but one to review.
    ``medication_classes_missing`` lists the classes the protocol requires on the patient's
    medication list (``Protocol.required_medication_classes``) that no current medication of
    the list belongs to (``sustain_core.medications``).

    Raises OutOfRange naming the fact when a count, a code (not a known instrument's or drug
    class's) or the weight age is malformed.
    """

    consent_signed: bool
    contraindication_screen_signed_by_prescriber: bool
    baseline_measures_missing: tuple[str, ...]
    weight_measured_on: dt.date | None
    induction_infusions_given: int | None
    induction_infusions_planned: int
    review_signed_by_prescriber: bool
    today: dt.date
    weight_max_age_days: int = field(default=WEIGHT_MAX_AGE_DAYS_DEFAULT)
    absolute_contraindications: tuple[str, ...] = ()
    age_years: int | None = None
    minimum_age_years: int | None = None
    medication_classes_missing: tuple[DrugClass, ...] = ()

    def __post_init__(self) -> None:
        validate_weight_max_age_days(self.weight_max_age_days, field="weight_max_age_days")
        for name in ("age_years", "minimum_age_years"):
            if getattr(self, name) is not None:
                _check_count(name, getattr(self, name), least=0)
        if self.induction_infusions_given is not None:
            _check_count("induction_infusions_given", self.induction_infusions_given, least=0)
        _check_count("induction_infusions_planned", self.induction_infusions_planned, least=1)
        if not isinstance(self.baseline_measures_missing, tuple) or not all(
            isinstance(code, str) and code in INSTRUMENTS for code in self.baseline_measures_missing
        ):
            raise OutOfRange(
                "baseline_measures_missing",
                "missing baseline measures must be a tuple of instrument codes; "
                f"got {self.baseline_measures_missing!r}",
            )
        if not isinstance(self.medication_classes_missing, tuple) or not all(
            code in tuple(DrugClass) for code in self.medication_classes_missing
        ):
            raise OutOfRange(
                "medication_classes_missing",
                "missing medication classes must be a tuple of drug classes; "
                f"got {self.medication_classes_missing!r}",
            )


def age_years(date_of_birth: dt.date, today: dt.date) -> int:
    """Return the age in whole years on ``today`` (a birthday on 29 February falls on
    1 March in other years). Raises OutOfRange naming ``date_of_birth`` for a birth after
    ``today``."""
    if date_of_birth > today:
        raise OutOfRange(
            "date_of_birth", f"the date of birth {date_of_birth} is after today ({today})"
        )
    before_birthday = (today.month, today.day) < (date_of_birth.month, date_of_birth.day)
    return today.year - date_of_birth.year - before_birthday


def allowed_transitions(phase: Phase) -> frozenset[Phase]:
    """Return the phases a course in ``phase`` may move to (empty for a final phase).

    The lifecycle is the clinic's workflow (issue text; unconfirmed as a published rule).
    Raises TransitionRefused on ``status`` for an unknown phase.
    """
    return _TRANSITIONS[_phase(phase)]


def check_transition(
    current: Phase, target: Phase, facts: CourseFacts, *, reason: str = ""
) -> None:
    """Refuse a move from ``current`` to ``target`` that the lifecycle or its guards forbid.

    First the move must be in ``allowed_transitions(current)``. Then every guard of
    ``target`` is checked and all unmet ones are listed together, e.g. "induction needs:
    signed consent; baseline PHQ-9, GAD-7; a weight measured within 30 days (last:
    2026-09-01)". Guards, by the phase entered:

    - ready: signed consent [ASKP-basics-2018] (item 4: informed consent reflecting off-label
      use) [Sanacora2017-reply]; a contraindication screen [Cohen2018-GC] (relative
      contraindications) signed by a prescriber (the signature is a clinic rule,
      unconfirmed) with no absolute contraindication present (each protocol lists its own,
      cited: e.g. known hypersensitivity [Ketalar-label]); a patient at least the protocol's
      minimum age (the library's studies enrolled adults).
    - induction: the same, no missing baseline measures (response and remission are
      defined against baseline, e.g. ≥ 50% PHQ-9 reduction [McInnes2022]), and a weight
      measured within ``weight_max_age_days`` (mg/kg dosing [Murrough2013]; the age limit is
      a clinic setting, unconfirmed; rule as ``sustain_core.dosing.check_weight_recency``);
      and every medication class the protocol requires on the medication list, e.g. "a mood
      stabiliser on the medication list": the bipolar-depression trial's patients were
      maintained on lithium or valproate [Diazgranados2010] (clinical-facts §3d).
    - review: all planned induction infusions given, or a ``reason`` for stopping early
      (e.g. futility after ~3 infusions without response [Sanacora2017-medscape]).
    - maintenance: a post-induction review signed by a prescriber (a review 14–31 days after
      induction [McInnes2022]; the signature is a clinic rule, unconfirmed).
    - discontinued: a non-blank ``reason``.

    ``reason`` is only examined by the review and discontinued guards; recording it is the
    caller's job. Raises TransitionRefused on ``status``.
    """
    current, target = _phase(current), _phase(target)
    allowed = _TRANSITIONS[current]
    if target not in allowed:
        if current in FINAL_PHASES:
            message = f"a {current} course is final; it cannot move to {target}"
        else:
            names = ", ".join(phase for phase in Phase if phase in allowed)
            message = f"a course in {current} can move to {names}; not to {target}"
        raise TransitionRefused("status", message)
    unmet = _unmet_guards(target, facts, reason)
    if unmet:
        raise TransitionRefused("status", f"{target} needs: {'; '.join(unmet)}")


def _unmet_guards(target: Phase, facts: CourseFacts, reason: str) -> list[str]:
    unmet = _unmet_ready(facts) if target in {Phase.READY, Phase.INDUCTION} else []
    if target == Phase.INDUCTION:
        if facts.baseline_measures_missing:
            titles = (INSTRUMENTS[code].short_title for code in facts.baseline_measures_missing)
            unmet.append(f"baseline {', '.join(titles)}")
        weight = _unmet_weight(facts)
        if weight:
            unmet.append(weight)
        unmet.extend(
            f"a {CLASS_TITLES[DrugClass(code)]} on the medication list"
            for code in facts.medication_classes_missing
        )
    has_reason = bool(reason.strip())
    given = facts.induction_infusions_given
    if target == Phase.REVIEW:
        if given is None:
            raise OutOfRange(
                "induction_infusions_given", "count the induction infusions given before review"
            )
        if given < facts.induction_infusions_planned and not has_reason:
            unmet.append(
                f"all {facts.induction_infusions_planned} planned induction infusions given "
                f"({given} so far) or a reason for stopping early"
            )
    if target == Phase.MAINTENANCE and not facts.review_signed_by_prescriber:
        unmet.append("a post-induction review signed by a prescriber")
    if target == Phase.DISCONTINUED and not has_reason:
        unmet.append("a reason")
    return unmet


def _unmet_ready(facts: CourseFacts) -> list[str]:
    """The guards of ready, which induction shares: consent, the screen, no absolute
    contraindication present, the protocol's minimum age."""
    unmet = []
    if not facts.consent_signed:
        unmet.append("signed consent")
    if not facts.contraindication_screen_signed_by_prescriber:
        unmet.append("a contraindication screen signed by a prescriber")
    if facts.absolute_contraindications:
        # In plain words: the sources written in an item stay on the screen (issue 13).
        present = "; ".join(split_sources(i).text for i in facts.absolute_contraindications)
        unmet.append(f"no absolute contraindication (present: {present})")
    minimum, age = facts.minimum_age_years, facts.age_years
    if minimum is not None and age is not None and age < minimum:
        unmet.append(
            f"a patient aged {minimum} or over, as the protocol requires (the patient is {age})"
        )
    return unmet


def _unmet_weight(facts: CourseFacts) -> str:
    """Describe the missing current weight, or return "" when the weight is current."""
    wanted = f"a weight measured within {facts.weight_max_age_days} days"
    if facts.weight_measured_on is None:
        return f"{wanted} (none recorded)"
    try:
        check_weight_recency(
            measured_on=facts.weight_measured_on,
            today=facts.today,
            max_age_days=facts.weight_max_age_days,
        )
    except OutOfRange:
        # The maximum age was validated with the facts, so this is the weight's own refusal.
        if facts.weight_measured_on > facts.today:
            return f"{wanted} (last: {facts.weight_measured_on}, after today)"
        return f"{wanted} (last: {facts.weight_measured_on})"
    return ""


def _phase(value: Phase) -> Phase:
    try:
        return Phase(value)
    except ValueError:
        names = ", ".join(Phase)
        raise TransitionRefused("status", f"phase must be one of {names}; got {value!r}") from None


def _check_count(name: str, value: int, *, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise OutOfRange(name, f"{name} must be a whole number from {least} up; got {value!r}")
