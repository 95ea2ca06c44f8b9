"""Cohort outcomes: one record per course and the statistics a clinic reports on them.

A ``CourseRecord`` is what the outcomes page, the relapse forecast and the simulator read of a
course: when it started, the infusions given, its outcome instrument's scores and their
trajectory (``outcomes.assess_trajectory``), its no-shows, adverse events and chair time. The
Django layer builds them (``sustain.reports.cohort.course_records``); everything here is pure:
no clock (``now`` is a parameter where needed), no I/O.

Definitions used by the statistics (each is stated on the outcomes page):

- **Completed induction**: at least the course's induction count of infusions given
  (``CourseRecord.induction_count``: the protocol's series, or more once extended).
- **End-of-induction outcome** (``end_of_induction``): the first score of the outcome
  instrument taken after the last induction infusion and within a window counted in days from
  that infusion, classified against the baseline (``outcomes.classify``, with the protocol's
  rules). The community definition [McInnes2022] classified the PHQ-9 "14–31 days
  post-induction" (whether counted from the first or the last induction infusion is
  unconfirmed); ``MCINNES_WINDOW`` gives 14–31 days after the last induction infusion. The
  default ``END_OF_INDUCTION_WINDOW`` (up to 31 days, from just after the last infusion) also
  takes the trials' endpoint, 24 h after the last infusion ([Murrough2013] study end,
  the library protocols' ``post_induction_24h`` measure).
- **Infusions to first response** (``infusions_to_first_response``): the number of infusions
  given before the first responding score (``Trajectory.first_response_at``); [Phillips2019]
  reports a median of 3.
- **Relapse among responders** (``relapse_episode``): for a course that responded at the end
  of induction, the time from its last induction infusion to the first confirmed loss of
  response after that response (the protocol's confirmation rule, ``assess_trajectory``); a
  course without one is censored at its last score of the outcome instrument, as the issue
  asks ("censoring at last assessment"). With ``censor_at_first_booster`` a course is censored
  at its first booster instead when that comes earlier: that measures relapse without
  maintenance, the quantity [Murrough2013] (median 18 days) and [McInnes2022] (~80 % still
  responding at 4 weeks, ~60 % at 8) report; by default the curve measures relapse under the
  clinic's own maintenance, which is not the same quantity (the page says so).
- **Wilson score interval** (``wilson_interval``): the 95 % interval of a proportion
  [Wilson1927]; unlike the normal (Wald) interval it stays inside [0, 1] and is usable at small
  n, though wide there.
"""

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from sustain_core import outcomes
from sustain_core.errors import ClinicalValueError, OutOfRange

# The two-sided 95 % standard normal quantile, Φ⁻¹(0.975), to double precision.
Z_95 = 1.959963984540054
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class AdverseEventCounts:
    """A course's adverse events at its infusions, by severity; ``serious`` counts those
    marked serious (21 CFR 312.32(a)) whatever their severity."""

    mild: int = 0
    moderate: int = 0
    severe: int = 0
    serious: int = 0

    @property
    def total(self) -> int:
        """Every adverse event, each counted once (by its severity)."""
        return self.mild + self.moderate + self.severe


@dataclass(frozen=True)
class CourseRecord:
    """One course as the cohort statistics see it.

    - ``infusions``: the instants at which each given infusion started (after check-in), in
      time order: induction and boosters alike (a booked, missed or cancelled visit is not
      one). ``induction_count``: how many of them make the induction.
    - ``observations``: the scores of ``instrument`` (the protocol's outcome instrument), in
      time order; ``trajectory``: ``outcomes.assess_trajectory`` on them with ``rules`` and
      ``relapse_confirmation_days`` (None when no infusion was given: there is no baseline
      instant yet, or when the instrument has no outcome rules).
    - ``no_shows`` / ``booked_visits``: visits the patient missed / every visit not cancelled
      that started before the records were read (given, missed, or still booked and past).
    - ``chair_minutes``: the booked chair time of the given visits, in minutes.
    - ``adverse_events``: at the course's infusions, by severity.
    - ``last_assessment_at``: the latest score of ``instrument`` (None: none yet).
    """

    course_id: int
    patient_id: int
    site_id: int
    protocol_key: str
    protocol_version: int
    status: str
    instrument: str
    rules: outcomes.OutcomeRules | None
    relapse_confirmation_days: int
    enrolled_at: dt.datetime
    infusions: tuple[dt.datetime, ...]
    induction_count: int
    observations: tuple[outcomes.Observation, ...]
    trajectory: outcomes.Trajectory | None
    no_shows: int
    booked_visits: int
    adverse_events: AdverseEventCounts
    chair_minutes: int
    last_assessment_at: dt.datetime | None

    @property
    def first_infusion_at(self) -> dt.datetime | None:
        """When the first infusion was given; None before it."""
        return self.infusions[0] if self.infusions else None

    @property
    def completed_induction(self) -> bool:
        """Whether the whole induction was given (``induction_count`` infusions or more)."""
        return len(self.infusions) >= self.induction_count > 0

    @property
    def last_induction_at(self) -> dt.datetime | None:
        """When the last induction infusion was given; None while the induction is not done."""
        return self.infusions[self.induction_count - 1] if self.completed_induction else None

    @property
    def boosters(self) -> tuple[dt.datetime, ...]:
        """The infusions given after the induction (maintenance boosters)."""
        return self.infusions[self.induction_count :] if self.completed_induction else ()


# --- proportions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Proportion:
    """``successes`` out of ``n`` with its Wilson score interval (``low``, ``high``)."""

    successes: int
    n: int
    low: float
    high: float

    @property
    def estimate(self) -> float:
        """The observed proportion, successes / n."""
        return self.successes / self.n

    @property
    def percent(self) -> float:
        """The observed proportion in percent."""
        return 100 * self.successes / self.n

    @property
    def small(self) -> bool:
        """Fewer than 5 in the denominator: the interval is wide and the figure fragile."""
        return self.n < SMALL_CELL


SMALL_CELL = 5


def wilson_interval(successes: int, n: int, *, z: float = Z_95) -> Proportion:
    """Return the proportion successes/n with its Wilson score interval [Wilson1927].

    With p = successes / n: centre = (p + z²/2n) / (1 + z²/n) and half-width
    = z / (1 + z²/n) · √(p(1 − p)/n + z²/4n²); the bounds are centre ∓ half-width. At 0 or n
    successes the bound at that end is exactly 0 or 1. ``z`` defaults to the 95 % quantile.

    Raises OutOfRange naming ``n`` when n is not an integer of 1 or more (no interval for an
    empty group), naming ``successes`` when it is not an integer from 0 to n, and naming ``z``
    when it is not above 0.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise OutOfRange("n", f"a proportion needs 1 or more in its group; got {n!r}")
    if isinstance(successes, bool) or not isinstance(successes, int) or not 0 <= successes <= n:
        raise OutOfRange(
            "successes", f"successes must be an integer from 0 to {n}; got {successes!r}"
        )
    if not z > 0:
        raise OutOfRange("z", f"z must be above 0; got {z!r}")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if successes == 0 else centre - half
    high = 1.0 if successes == n else centre + half
    return Proportion(successes=successes, n=n, low=low, high=high)


# --- end of induction -----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Days after the last induction infusion within which the end-of-induction score is
    taken: after ``start_days`` (exclusive when 0, so a score at the infusion's own instant,
    the pre-infusion questionnaire, is not one) and at most ``end_days``.

    Raises OutOfRange naming ``start_days`` or ``end_days`` when negative, not an integer, or
    when the end is not after the start.
    """

    start_days: int
    end_days: int
    label: str = ""

    def __post_init__(self) -> None:
        for field in ("start_days", "end_days"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise OutOfRange(field, f"{field} must be a whole number of days, 0 or more")
        if self.end_days <= self.start_days:
            raise OutOfRange(
                "end_days",
                f"end_days must be after start_days ({self.start_days}); got {self.end_days}",
            )

    def contains(self, elapsed: dt.timedelta) -> bool:
        """Whether a score ``elapsed`` after the last induction infusion falls in the window."""
        return elapsed > dt.timedelta(0) and self.start_days * _DAY <= elapsed <= (
            self.end_days * _DAY
        )


# Up to 31 days after the last induction infusion: the trials' 24-h endpoint [Murrough2013]
# and the community window's end [McInnes2022] (a clinic default, unconfirmed as a standard).
END_OF_INDUCTION_WINDOW = Window(0, 31, "first score up to 31 days after the last infusion")
# The community definition: 14–31 days post-induction [McInnes2022] (counted here from the
# last induction infusion; the paper's anchor is unconfirmed).
MCINNES_WINDOW = Window(14, 31, "first score 14–31 days after the last infusion [McInnes2022]")


class EndOfInduction(StrEnum):
    """Why a course is, or is not, in the end-of-induction denominator."""

    CLASSIFIED = "classified"
    NOT_COMPLETED = "induction not completed"
    NO_RULES = "no outcome rules for the instrument"
    NO_BASELINE = "no baseline score"
    NOT_CLASSIFIABLE = "baseline not classifiable"
    NO_SCORE = "no score in the window"


@dataclass(frozen=True)
class InductionResult:
    """A course's end-of-induction outcome: ``status`` CLASSIFIED with ``outcome`` and the
    ``observation`` used, or the reason it has none."""

    status: EndOfInduction
    outcome: outcomes.Outcome | None = None
    observation: outcomes.Observation | None = None

    @property
    def responded(self) -> bool:
        """Response or remission (a remission counts as a response, as in [McInnes2022])."""
        return self.outcome in {outcomes.Outcome.RESPONSE, outcomes.Outcome.REMISSION}

    @property
    def remitted(self) -> bool:
        """Remission."""
        return self.outcome is outcomes.Outcome.REMISSION


def end_of_induction(
    record: CourseRecord, *, window: Window = END_OF_INDUCTION_WINDOW
) -> InductionResult:
    """Classify the course at the end of its induction (see the module's definitions).

    The score used is the first one of the outcome instrument inside ``window`` after the
    last induction infusion; it is classified against the baseline with the course's rules
    (``outcomes.classify``: remission before response). A course that did not complete its
    induction, has no rules, no baseline, an unclassifiable baseline (e.g. PHQ-9 below 5) or no
    score in the window is left out, with the reason.
    """
    last = record.last_induction_at
    if last is None:
        return InductionResult(EndOfInduction.NOT_COMPLETED)
    rules = record.rules
    trajectory = record.trajectory
    if rules is None or trajectory is None:
        return InductionResult(EndOfInduction.NO_RULES)
    base = trajectory.baseline
    if base is None:
        return InductionResult(EndOfInduction.NO_BASELINE)
    if trajectory.status is outcomes.TrajectoryStatus.NOT_CLASSIFIABLE:
        return InductionResult(EndOfInduction.NOT_CLASSIFIABLE)
    used = _first_in_window(record.observations, after=last, window=window)
    if used is None:
        return InductionResult(EndOfInduction.NO_SCORE)
    outcome = outcomes.classify(rules, baseline_score=base.score, current_score=used.score)
    return InductionResult(EndOfInduction.CLASSIFIED, outcome, used)


def _first_in_window(
    observations: Sequence[outcomes.Observation], *, after: dt.datetime, window: Window
) -> outcomes.Observation | None:
    for observation in observations:
        if window.contains(_utc(observation.at) - _utc(after)):
            return observation
    return None


def infusions_to_first_response(record: CourseRecord) -> int | None:
    """Return how many infusions were given before the course's first responding score
    (``Trajectory.first_response_at``; a response measured the day after infusion 3 is 3);
    None when it never responded. [Phillips2019] reports a median of 3.
    """
    trajectory = record.trajectory
    if trajectory is None or trajectory.first_response_at is None:
        return None
    first = _utc(trajectory.first_response_at)
    return sum(1 for at in record.infusions if _utc(at) < first)


# --- relapse among responders ---------------------------------------------------------------


@dataclass(frozen=True)
class RelapseEpisode:
    """Time from a responder's last induction infusion to relapse (``relapsed``) or to
    censoring, in days of elapsed time (fractional: 36 h is 1.5)."""

    course_id: int
    days: float
    relapsed: bool


def relapse_episode(
    record: CourseRecord,
    *,
    window: Window = END_OF_INDUCTION_WINDOW,
    censor_at_first_booster: bool = False,
) -> RelapseEpisode | None:
    """Return the course's relapse episode if it responded at the end of induction, else None.

    The relapse is the first confirmed loss of response after the end-of-induction score
    (``outcomes.assess_trajectory`` on the baseline and the scores from that one on, with the
    course's confirmation days): a relapse during the induction that the end-of-induction
    score ended does not count. Without one the course is censored at its last score of the
    instrument; with ``censor_at_first_booster`` at its first booster when that is earlier
    (and a relapse after that booster is censored there too). See the module's definitions.
    """
    result = end_of_induction(record, window=window)
    used = result.observation
    last = record.last_induction_at
    trajectory = record.trajectory
    # The last four are set whenever the course responded at the end of induction; the
    # checks are for the type checker.
    if (
        not result.responded
        or used is None
        or last is None
        or record.rules is None
        or trajectory is None
        or trajectory.baseline is None
    ):
        return None
    start = record.observations.index(used)
    after = outcomes.assess_trajectory(
        record.rules,
        (trajectory.baseline, *record.observations[start:]),
        first_infusion_at=record.infusions[0],
        last_induction_infusion_at=last,
        relapse_confirmation_days=record.relapse_confirmation_days,
    )
    relapsed = after.relapse_at is not None
    end = after.relapse_at if after.relapse_at is not None else record.observations[-1].at
    boosters = record.boosters
    if censor_at_first_booster and boosters and _utc(boosters[0]) < _utc(end):
        end, relapsed = boosters[0], False
    return RelapseEpisode(
        course_id=record.course_id,
        days=(_utc(end) - _utc(last)) / _DAY,
        relapsed=relapsed,
    )


def no_show_rate(records: Sequence[CourseRecord]) -> Proportion | None:
    """No-shows among the visits that were due (``booked_visits``), with its Wilson interval;
    None when no visit was due."""
    due = sum(r.booked_visits for r in records)
    if due == 0:
        return None
    return wilson_interval(sum(r.no_shows for r in records), due)


def per_100(count: int, denominator: int) -> Decimal | None:
    """``count`` per 100 of ``denominator`` (e.g. adverse events per 100 infusions), exact
    as a Decimal to 0.1 (display figure, half-up); None when the denominator is 0.

    Raises OutOfRange naming ``count`` or ``denominator`` when negative.
    """
    if count < 0:
        raise OutOfRange("count", f"count must be 0 or more; got {count}")
    if denominator < 0:
        raise OutOfRange("denominator", f"denominator must be 0 or more; got {denominator}")
    if denominator == 0:
        return None
    return (Decimal(count) * 100 / Decimal(denominator)).quantize(Decimal("0.1"), "ROUND_HALF_UP")


def _utc(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ClinicalValueError(
            "at", f"instants must be timezone-aware; got {instant.isoformat()}"
        )
    return instant.astimezone(dt.UTC)


# --- Kaplan–Meier ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SurvivalStep:
    """One time of the product-limit table: at ``days``, ``at_risk`` courses were followed,
    ``events`` relapsed and ``censored`` left follow-up; ``survival`` is the estimate just
    after, with its 95 % interval (``low``, ``high``)."""

    days: float
    at_risk: int
    events: int
    censored: int
    survival: float
    low: float
    high: float


@dataclass(frozen=True)
class SurvivalCurve:
    """A Kaplan–Meier estimate of remaining relapse-free among responders.

    ``median_days`` is the first time the estimate is at or below one half (None: not reached
    in follow-up); ``median_low`` / ``median_high`` its 95 % interval, from where the
    interval's bands cross one half (None: not reached: the interval is open there).
    """

    steps: tuple[SurvivalStep, ...]
    n: int
    events: int
    median_days: float | None
    median_low: float | None
    median_high: float | None

    def survival_at(self, days: float) -> float:
        """The estimate at ``days`` (1 before the first time; a step function)."""
        value = 1.0
        for step in self.steps:
            if step.days > days:
                break
            value = step.survival
        return value


def kaplan_meier(episodes: Sequence[RelapseEpisode]) -> SurvivalCurve | None:
    """Fit the Kaplan–Meier product-limit estimate to relapse episodes (lifelines
    ``KaplanMeierFitter``, 95 % pointwise intervals by Greenwood's variance on the
    log(−log) scale, the lifelines default); None when there is no episode.

    At each time with an event, S(t) = S(t⁻) · (1 − events / at risk); censored courses leave
    the risk set after the events of their time [Kaplan1958]. Used for the time to relapse
    among responders (``relapse_episode``).
    """
    if not episodes:
        return None
    # lifelines loads pandas (seconds): only when a curve is drawn.
    from lifelines import KaplanMeierFitter  # noqa: PLC0415 - loaded only for a curve
    from lifelines.utils import median_survival_times  # noqa: PLC0415 - as above

    fitter = KaplanMeierFitter()
    fitter.fit([e.days for e in episodes], event_observed=[e.relapsed for e in episodes])
    table = fitter.event_table
    survival = fitter.survival_function_["KM_estimate"]
    bands = fitter.confidence_interval_survival_function_
    low_band, high_band = bands.columns[0], bands.columns[1]
    steps = tuple(
        SurvivalStep(
            days=float(t),
            at_risk=int(table.loc[t, "at_risk"]),
            events=int(table.loc[t, "observed"]),
            censored=int(table.loc[t, "censored"]),
            survival=float(survival.loc[t]),
            low=float(bands.loc[t, low_band]),
            high=float(bands.loc[t, high_band]),
        )
        for t in table.index
        if t > 0 or table.loc[t, "removed"] > 0
    )
    median_ci = median_survival_times(fitter.confidence_interval_)
    return SurvivalCurve(
        steps=steps,
        n=len(episodes),
        events=sum(e.relapsed for e in episodes),
        median_days=_finite(fitter.median_survival_time_),
        median_low=_finite(median_ci.iloc[0, 0]),
        median_high=_finite(median_ci.iloc[0, 1]),
    )


def _finite(value: float) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None
