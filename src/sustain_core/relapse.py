"""Relapse forecast for responders: a Weibull survival model that times boosters (issue 17).

What it does, in order:

1. **Episodes** (``episodes``). For a responder, an episode runs from an infusion that ends a
   treatment block — the last induction infusion, or a booster — to relapse or to the last
   assessment. A booster starts a new episode and censors the one before it at the booster.
   Relapse is the trajectory's ``relapse_at`` (``sustain_core.outcomes.assess_trajectory``: a
   confirmed loss of response; the instant of the first of the two observations). The
   trajectory keeps only a course's first relapse, so no episode starts after it. Everything
   is judged "as known at" an instant: infusions and scores after it are ignored, and a
   relapse counts only once an observation at least ``confirmation_days`` after ``relapse_at``
   confirms it by then. Truncating a clinic's history at a backtest cutoff is the same call.
2. **Covariate**: the patient's own trajectory, the least-squares slope of the primary score
   against time over the responding observations after the episode's infusion (so not the
   loss of response itself), in points per week divided by the baseline score: the fraction of the
   baseline gained per week. Positive = worsening. 0 with fewer than 2 such scores (or a
   baseline of 0). Our choice, not a published predictor.
3. **Model** (``fit``): a Weibull accelerated-failure-time model (lifelines
   ``WeibullAFTFitter``): S(t | x) = exp(-(t / λ(x))^ρ), log λ(x) = β₀ + β₁·x, fitted on the
   clinic's episodes plus a literature prior. The prior is a set of pseudo-episodes drawn
   deterministically from the published relapse curves (``PRIOR_SOURCES``), each source
   counting equally, with covariate 0. Together they weigh ``w = k · k / (k + r)``
   patient-equivalents (lifelines ``weights_col``), where ``k`` is the prior's size (a clinic
   parameter, default 20) and ``r`` the number of relapses in the clinic's own episodes: with
   no clinic relapses the prior counts as ``k`` patients, with ``r = k`` as ``k / 2``, and the
   clinic's data dominate as its relapses grow. Our rule (the brief's suggestion), unpublished.
4. **Prediction**: for an episode ``t`` days old without relapse, P(relapse within the next
   ``h`` days | none by ``t``) = 1 − S(t + h) / S(t) (``risk_within``); the booster day is the
   last whole day before the risk counted from today reaches the clinic's threshold ``p``:
   1 − S(d) / S(t) = p gives d* = λ · ((t / λ)^ρ − ln(1 − p))^(1/ρ) (``booster_day``).
5. **Backtest** (``backtest``): at rolling cutoffs, fit on what was known at the cutoff,
   predict the ``h``-day risk for every episode open at the cutoff, and compare with what
   happened in (cutoff, cutoff + h]: n, events, concordance (lifelines ``concordance_index``),
   the Brier score and a calibration table. A forecast is shown only with these figures, and
   per-patient risks only when ``Backtest.enough`` (at least ``MIN_BACKTEST_N`` checked
   predictions, ``MIN_BACKTEST_EVENTS`` relapses among them, and a concordance): our rule.

Sources of the prior (clinical-facts §4a, §9): [Murrough2013] median 18 days to relapse after
the last of 6 infusions, responders followed up to 83 days; [Shiroma2014] 5/11 responders still
in response at 4 weeks, the 6 relapsers at a mean of 16 days; [Ekstrand2022] (KetECT) 70 % of
remitters relapsed within 12 months, median 57 days in remission; [McInnes2022] ~80 % sustained
response at 4 weeks and ~60 % at 8 weeks (Kaplan–Meier, community practice). The relapse
definitions of these studies are unconfirmed (clinical-facts §10.8), so the prior is a rough
shape, which is why the clinic's own data take over.

Pure: no clock (``now`` is a parameter), no I/O; deterministic (lifelines' fit is a
deterministic optimisation on the same rows).
"""

import datetime as dt
import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
from lifelines import WeibullAFTFitter
from lifelines.utils import concordance_index

from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.outcomes import Observation

DAY = dt.timedelta(days=1)
WEEK_DAYS = 7.0
HORIZONS_DAYS = (7, 14, 28)
PRIOR_PATIENTS_DEFAULT = 20
PRIOR_PATIENTS_MAX = 1000  # a bound against typing errors, not a clinical rule
PSEUDO_EPISODES_PER_CURVE = 20
MIN_BACKTEST_N = 30
MIN_BACKTEST_EVENTS = 5
# Calibration groups by predicted risk (our choice): [0, 10 %), [10, 20 %), [20, 40 %), [40, 100 %].
CALIBRATION_EDGES = (0.0, 0.1, 0.2, 0.4, 1.0)


@dataclass(frozen=True)
class PriorSource:
    """One published relapse curve turned into pseudo-episodes.

    ``events`` and ``censored`` are explicit times (days) when a study reports its patients
    (Shiroma); otherwise the curve is a Weibull S(t) = exp(-(t / scale)^shape) through the
    published points, sampled at the quantiles (i + ½) / n and censored at ``follow_up_days``.
    """

    key: str
    summary: str
    shape: float = 1.0
    scale: float = 1.0
    follow_up_days: float = 0.0
    events: tuple[float, ...] = ()
    censored: tuple[float, ...] = ()


def _weibull_through(t1: float, s1: float, t2: float, s2: float) -> tuple[float, float]:
    """The Weibull (shape, scale) with S(t1) = s1 and S(t2) = s2."""
    h1, h2 = -math.log(s1), -math.log(s2)
    shape = math.log(h2 / h1) / math.log(t2 / t1)
    return shape, t1 / h1 ** (1 / shape)


_KETECT = _weibull_through(57.0, 0.5, 365.0, 0.3)
_MCINNES = _weibull_through(28.0, 0.8, 56.0, 0.6)
PRIOR_SOURCES = (
    PriorSource(
        key="Murrough2013",
        summary="median 18 days to relapse (exponential through the median), follow-up 83 days",
        shape=1.0,
        scale=18.0 / math.log(2),
        follow_up_days=83.0,
    ),
    PriorSource(
        key="Shiroma2014",
        # The 6 relapse days are spread evenly around the published mean of 16 (our choice).
        summary="6 of 11 responders relapsed, mean 16 days; 5 in response at 28 days",
        events=(6.0, 10.0, 14.0, 18.0, 22.0, 26.0),
        censored=(28.0,) * 5,
    ),
    PriorSource(
        key="Ekstrand2022",
        summary="KetECT remitters: median 57 days, 70 % relapsed within 12 months",
        shape=_KETECT[0],
        scale=_KETECT[1],
        follow_up_days=365.0,
    ),
    PriorSource(
        key="McInnes2022",
        summary="~80 % sustained response at 4 weeks, ~60 % at 8 weeks",
        shape=_MCINNES[0],
        scale=_MCINNES[1],
        follow_up_days=56.0,
    ),
)


def pseudo_episodes(source: PriorSource) -> tuple[tuple[float, bool], ...]:
    """A source's pseudo-episodes as (days, relapsed), deterministic."""
    if source.events or source.censored:
        return tuple((t, True) for t in source.events) + tuple((t, False) for t in source.censored)
    n = PSEUDO_EPISODES_PER_CURVE
    rows = []
    for i in range(n):
        survival = 1 - (i + 0.5) / n
        t = source.scale * (-math.log(survival)) ** (1 / source.shape)
        rows.append((t, True) if t < source.follow_up_days else (source.follow_up_days, False))
    return tuple(rows)


@dataclass(frozen=True)
class CourseHistory:
    """What the forecast needs of one course: its given infusions in time order (induction
    first), how many of them were induction, the primary instrument's observations in time
    order, the baseline score, the trajectory's first response and relapse instants, and the
    days a loss of response needs to be confirmed (the course's ``relapse_confirmation_days``),
    and whether each observation responds (response or remission against the baseline; None:
    all do). Only responding observations count for the slope and the censoring (a patient is
    known to be in response until the last of them), and a latest observation that does not
    respond (a loss of response, confirmed or not) ends the forecast: reassess, not forecast.

    Raises OutOfRange naming ``confirmation_days`` when negative or not a whole number, and
    ClinicalValueError naming ``responding`` when it does not match the observations."""

    def responding_until(self, now: dt.datetime) -> list[Observation]:
        """The responding observations at or before ``now``."""
        flags = self.responding or (True,) * len(self.observations)
        return [o for o, r in zip(self.observations, flags, strict=True) if r and o.at <= now]

    def losing_at(self, start: dt.datetime, now: dt.datetime) -> bool:
        """Whether the latest observation in (start, now] does not respond."""
        flags = self.responding or (True,) * len(self.observations)
        after = [r for o, r in zip(self.observations, flags, strict=True) if start < o.at <= now]
        return bool(after) and not after[-1]

    course_id: int
    patient_id: int
    infusions: tuple[dt.datetime, ...]
    induction_count: int
    observations: tuple[Observation, ...]
    baseline_score: int | Decimal | None
    first_response_at: dt.datetime | None
    relapse_at: dt.datetime | None
    confirmation_days: int = 7
    responding: tuple[bool, ...] | None = None

    def __post_init__(self) -> None:
        if self.responding is not None and len(self.responding) != len(self.observations):
            raise ClinicalValueError(
                "responding", "say for each observation whether it responds, or for none"
            )
        days = self.confirmation_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise OutOfRange(
                "confirmation_days",
                f"the relapse confirmation days must be a whole number, 0 or more; got {days!r}",
            )


@dataclass(frozen=True)
class Episode:
    """One episode: ``days`` from ``start`` (an infusion) to relapse (``relapsed``) or to
    censoring, with the slope covariate (fraction of baseline per week)."""

    course_id: int
    patient_id: int
    start: dt.datetime
    days: float
    relapsed: bool
    slope: float


@dataclass(frozen=True)
class OpenEpisode:
    """A responder's episode open at ``now``: ``days`` since its infusion, no relapse known."""

    course_id: int
    patient_id: int
    start: dt.datetime
    days: float
    slope: float


def _check_now(now: dt.datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ClinicalValueError("now", "now must be an aware instant (with a time zone)")


def slope_per_week(
    observations: Sequence[Observation], *, baseline_score: int | Decimal | None
) -> float:
    """The least-squares slope of the scores against time, in baseline fractions per week;
    0 with fewer than 2 scores at distinct instants or without a positive baseline."""
    if baseline_score is None or baseline_score <= 0 or len(observations) < 2:
        return 0.0
    origin = observations[0].at
    weeks = np.array([(o.at - origin) / DAY / WEEK_DAYS for o in observations])
    scores = np.array([float(o.score) for o in observations])
    spread = weeks - weeks.mean()
    denominator = float((spread**2).sum())
    if denominator == 0:
        return 0.0
    slope = float((spread * (scores - scores.mean())).sum()) / denominator
    return slope / float(baseline_score)


def _known_relapse(history: CourseHistory, *, now: dt.datetime) -> dt.datetime | None:
    relapse = history.relapse_at
    if relapse is None or relapse > now:
        return None
    confirmed_from = relapse + dt.timedelta(days=history.confirmation_days)
    if any(confirmed_from <= o.at <= now for o in history.observations):
        return relapse
    return None


def _starts(history: CourseHistory, *, now: dt.datetime) -> list[dt.datetime]:
    """The infusions that start an episode, as known at ``now`` (empty for a non-responder or
    an induction not yet complete)."""
    given = [at for at in history.infusions if at <= now]
    if (
        history.first_response_at is None
        or history.first_response_at > now
        or history.induction_count < 1
        or len(given) < history.induction_count
    ):
        return []
    return given[history.induction_count - 1 :]


def episodes(history: CourseHistory, *, now: dt.datetime) -> tuple[Episode, ...]:
    """A course's episodes as known at ``now`` (see the module text): each ends at the known
    relapse (relapsed), else at the next booster, else at the last assessment (censored). An
    episode that ends no later than it starts (no assessment after its infusion) is left out.

    Raises ClinicalValueError naming ``now`` when naive.
    """
    _check_now(now)
    relapse = _known_relapse(history, now=now)
    seen = history.responding_until(now)
    last_seen = seen[-1].at if seen else None
    starts = [s for s in _starts(history, now=now) if relapse is None or s < relapse]
    found: list[Episode] = []
    for index, start in enumerate(starts):
        following = starts[index + 1] if index + 1 < len(starts) else None
        relapsed = relapse is not None and (following is None or relapse <= following)
        end = relapse if relapsed else (following or last_seen)
        if end is None or end <= start:
            continue
        inside = [o for o in seen if start < o.at <= end and not (relapsed and o.at == end)]
        found.append(
            Episode(
                course_id=history.course_id,
                patient_id=history.patient_id,
                start=start,
                days=(end - start) / DAY,
                relapsed=relapsed,
                slope=slope_per_week(inside, baseline_score=history.baseline_score),
            )
        )
    return tuple(found)


def open_episode(history: CourseHistory, *, now: dt.datetime) -> OpenEpisode | None:
    """The episode open at ``now``: from the latest infusion that starts one, for a responder
    with no loss of response seen by ``now``; None otherwise. A loss awaiting confirmation
    (``relapse_at`` seen, or a latest observation that does not respond) ends the forecast
    too: the patient is to be reassessed, not forecast (and the backtest does not score a
    loss already seen).

    Raises like ``episodes``.
    """
    _check_now(now)
    starts = _starts(history, now=now)
    if not starts or (history.relapse_at is not None and history.relapse_at <= now):
        return None
    start = starts[-1]
    if history.losing_at(start, now):
        return None
    inside = [o for o in history.responding_until(now) if start < o.at]
    return OpenEpisode(
        course_id=history.course_id,
        patient_id=history.patient_id,
        start=start,
        days=(now - start) / DAY,
        slope=slope_per_week(inside, baseline_score=history.baseline_score),
    )


@dataclass(frozen=True)
class RelapseModel:
    """A fitted Weibull AFT: S(t | x) = exp(-(t / λ(x))^ρ), log λ(x) = intercept + coefficient·x,
    with what it was fitted on."""

    shape: float
    log_scale_intercept: float
    slope_coefficient: float
    clinic_episodes: int
    clinic_relapses: int
    prior_patients: float
    prior_weight: float

    def scale(self, slope: float) -> float:
        """λ(x) in days."""
        return math.exp(self.log_scale_intercept + self.slope_coefficient * slope)

    def survival(self, days: float, slope: float) -> float:
        """S(t | x): the probability of no relapse by ``days`` after the infusion."""
        return math.exp(-((max(days, 0.0) / self.scale(slope)) ** self.shape))

    def median_days(self, slope: float = 0.0) -> float:
        """The median time to relapse: λ(x) · (ln 2)^(1/ρ)."""
        return float(self.scale(slope) * math.log(2) ** (1 / self.shape))

    def as_dict(self) -> dict[str, float | int]:
        """Plain values for storage (``from_dict`` reads them back)."""
        return {
            "shape": self.shape,
            "log_scale_intercept": self.log_scale_intercept,
            "slope_coefficient": self.slope_coefficient,
            "clinic_episodes": self.clinic_episodes,
            "clinic_relapses": self.clinic_relapses,
            "prior_patients": self.prior_patients,
            "prior_weight": self.prior_weight,
        }

    @classmethod
    def from_dict(cls, values: dict[str, float | int]) -> "RelapseModel":
        """The model ``as_dict`` stored."""
        return cls(
            shape=float(values["shape"]),
            log_scale_intercept=float(values["log_scale_intercept"]),
            slope_coefficient=float(values["slope_coefficient"]),
            clinic_episodes=int(values["clinic_episodes"]),
            clinic_relapses=int(values["clinic_relapses"]),
            prior_patients=float(values["prior_patients"]),
            prior_weight=float(values["prior_weight"]),
        )


def prior_weight(prior_patients: float, clinic_relapses: int) -> float:
    """The prior's weight in patient-equivalents: k · k / (k + r) (0 when k is 0)."""
    if prior_patients == 0:
        return 0.0
    return prior_patients * prior_patients / (prior_patients + clinic_relapses)


def _check_prior_patients(prior_patients: float) -> None:
    if (
        isinstance(prior_patients, bool)
        or not isinstance(prior_patients, int | float)
        or not 0 <= prior_patients <= PRIOR_PATIENTS_MAX
    ):
        raise OutOfRange(
            "prior_patients",
            f"the prior's size must be a number of patients from 0 to {PRIOR_PATIENTS_MAX}; "
            f"got {prior_patients!r}",
        )


def fit(
    clinic: Sequence[Episode], *, prior_patients: float = PRIOR_PATIENTS_DEFAULT
) -> RelapseModel:
    """Fit the Weibull AFT on the clinic's episodes and the weighted literature prior.

    The slope coefficient is fitted only when the slopes differ between rows; otherwise it is
    0 (a constant covariate cannot be estimated).

    Raises OutOfRange naming ``prior_patients`` when outside 0–1000, and naming ``episodes``
    when there is no relapse to fit on (no clinic relapse and no prior).
    """
    _check_prior_patients(prior_patients)
    relapses = sum(1 for e in clinic if e.relapsed)
    weight = prior_weight(prior_patients, relapses)
    rows: list[tuple[float, bool, float, float]] = [
        (e.days, e.relapsed, e.slope, 1.0) for e in clinic
    ]
    if weight > 0:
        for source in PRIOR_SOURCES:
            drawn = pseudo_episodes(source)
            each = weight / len(PRIOR_SOURCES) / len(drawn)
            rows.extend((days, relapsed, 0.0, each) for days, relapsed in drawn)
    if not any(relapsed for _, relapsed, _, _ in rows):
        raise OutOfRange(
            "episodes",
            "the model needs at least one relapse, in the clinic's episodes or in the prior",
        )
    frame = pd.DataFrame(rows, columns=["days", "relapsed", "slope", "weight"])
    with_slope = frame["slope"].nunique() > 1
    if not with_slope:
        frame = frame.drop(columns=["slope"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines warns that non-integer weights are used
        fitted = WeibullAFTFitter().fit(
            frame, duration_col="days", event_col="relapsed", weights_col="weight"
        )
    params = fitted.params_
    return RelapseModel(
        shape=math.exp(float(params[("rho_", "Intercept")])),
        log_scale_intercept=float(params[("lambda_", "Intercept")]),
        slope_coefficient=float(params[("lambda_", "slope")]) if with_slope else 0.0,
        clinic_episodes=len(clinic),
        clinic_relapses=relapses,
        prior_patients=float(prior_patients),
        prior_weight=weight,
    )


def _check_days(field: str, value: float, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise OutOfRange(field, f"{what} must be a number of days, 0 or more; got {value!r}")


def risk_within(model: RelapseModel, *, days: float, horizon_days: float, slope: float) -> float:
    """P(relapse within the next ``horizon_days`` | no relapse by ``days``) = 1 − S(t+h)/S(t).

    Raises OutOfRange naming ``days`` or ``horizon_days`` when negative or not a number.
    """
    _check_days("days", days, "the time since the infusion")
    _check_days("horizon_days", horizon_days, "the horizon")
    scale = model.scale(slope)
    # In log form, so that a very late t (S(t) ≈ 0) stays exact.
    cumulative = ((days + horizon_days) / scale) ** model.shape - (days / scale) ** model.shape
    return -math.expm1(-cumulative)


def _check_threshold(threshold_percent: int) -> None:
    if (
        isinstance(threshold_percent, bool)
        or not isinstance(threshold_percent, int)
        or not 1 <= threshold_percent <= 99
    ):
        raise OutOfRange(
            "threshold_percent",
            f"the relapse risk threshold must be a whole percent from 1 to 99; "
            f"got {threshold_percent!r}",
        )


def booster_day(model: RelapseModel, *, days: float, slope: float, threshold_percent: int) -> int:
    """The last whole day after the infusion before the relapse risk counted from ``days``
    reaches ``threshold_percent``: the largest whole D < d* with
    d* = λ · ((t / λ)^ρ − ln(1 − p))^(1/ρ). D is at least ⌊t⌋ (today, when the risk
    crosses within the day), since d* > t.

    Raises OutOfRange naming ``days`` or ``threshold_percent``.
    """
    _check_days("days", days, "the time since the infusion")
    _check_threshold(threshold_percent)
    scale = model.scale(slope)
    p = threshold_percent / 100
    crossing = scale * ((days / scale) ** model.shape - math.log1p(-p)) ** (1 / model.shape)
    return math.ceil(float(crossing)) - 1  # d* > t, so this is never before ⌊t⌋


@dataclass(frozen=True)
class CalibrationGroup:
    """Predictions with risk in [low, high): how many, their mean, and the observed share."""

    low: float
    high: float
    n: int
    mean_predicted: float
    observed: float


@dataclass(frozen=True)
class Backtest:
    """The forecast checked on held-out time (see the module text)."""

    horizon_days: int
    cutoffs: tuple[dt.datetime, ...]
    n: int
    events: int
    concordance: float | None
    brier: float | None
    calibration: tuple[CalibrationGroup, ...]

    @property
    def enough(self) -> bool:
        """Whether the check has enough held-out data to show per-patient risks."""
        return (
            self.n >= MIN_BACKTEST_N
            and self.events >= MIN_BACKTEST_EVENTS
            and self.concordance is not None
        )

    def as_dict(self) -> dict[str, object]:
        """Plain values for storage."""
        return {
            "horizon_days": self.horizon_days,
            "cutoffs": [c.isoformat() for c in self.cutoffs],
            "n": self.n,
            "events": self.events,
            "concordance": self.concordance,
            "brier": self.brier,
            "calibration": [
                {
                    "low": g.low,
                    "high": g.high,
                    "n": g.n,
                    "mean_predicted": g.mean_predicted,
                    "observed": g.observed,
                }
                for g in self.calibration
            ],
            "enough": self.enough,
        }


def _outcome(
    full: Sequence[Episode], start: dt.datetime, cutoff: dt.datetime, horizon: dt.timedelta
) -> tuple[bool, float] | None:
    """What happened to the episode that began at ``start`` in (cutoff, cutoff + h]:
    (relapsed, days from the cutoff to the relapse or h), or None when it is unknown
    (censored before cutoff + h without a relapse)."""
    for episode in full:
        if episode.start != start:
            continue
        end = episode.start + episode.days * DAY
        if episode.relapsed and end <= cutoff + horizon:
            return True, (end - cutoff) / DAY  # after the cutoff: open_episode saw no loss
        if end >= cutoff + horizon:
            return False, horizon / DAY
        return None
    return None


def backtest(
    histories: Sequence[CourseHistory],
    *,
    now: dt.datetime,
    horizon_days: int,
    prior_patients: float = PRIOR_PATIENTS_DEFAULT,
    cutoffs: int = 6,
    step_days: int = 28,
) -> Backtest:
    """Check the forecast on held-out time at ``cutoffs`` cutoffs, the latest ``horizon_days``
    before ``now`` and the others ``step_days`` apart before it. At each, fit on the histories
    as known at the cutoff and predict the ``horizon_days`` risk of every episode open there;
    the outcome is read from the histories as known at ``now``. A cutoff with no relapse to fit
    on is skipped. Concordance is None when no pair of predictions can be compared.

    Raises OutOfRange naming ``horizon_days``, ``cutoffs`` or ``step_days`` when not a whole
    number from 1 (up to 365, 52 and 365), and like ``episodes`` and ``fit``.
    """
    _check_now(now)
    for field, value, high in (
        ("horizon_days", horizon_days, 365),
        ("cutoffs", cutoffs, 52),
        ("step_days", step_days, 365),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise OutOfRange(
                field, f"{field} must be a whole number from 1 to {high}; got {value!r}"
            )
    _check_prior_patients(prior_patients)
    horizon = dt.timedelta(days=horizon_days)
    full = {h.course_id: episodes(h, now=now) for h in histories}
    points = tuple(now - horizon - dt.timedelta(days=step_days * k) for k in range(cutoffs))
    predicted: list[float] = []
    observed: list[bool] = []
    times: list[float] = []
    for cutoff in points:
        known = [e for h in histories for e in episodes(h, now=cutoff)]
        try:
            model = fit(known, prior_patients=prior_patients)
        except OutOfRange:
            continue
        for history in histories:
            current = open_episode(history, now=cutoff)
            if current is None:
                continue
            outcome = _outcome(full[history.course_id], current.start, cutoff, horizon)
            if outcome is None:
                continue
            predicted.append(
                risk_within(
                    model, days=current.days, horizon_days=horizon_days, slope=current.slope
                )
            )
            observed.append(outcome[0])
            times.append(outcome[1])
    return _summarise(horizon_days, points, predicted, observed, times)


def _summarise(
    horizon_days: int,
    points: tuple[dt.datetime, ...],
    predicted: list[float],
    observed: list[bool],
    times: list[float],
) -> Backtest:
    n = len(predicted)
    concordance: float | None = None
    if n:
        try:
            concordance = float(concordance_index(times, [-p for p in predicted], observed))
        except ZeroDivisionError:  # no admissible pair (e.g. no relapse at all)
            concordance = None
    brier = (
        sum((p - float(y)) ** 2 for p, y in zip(predicted, observed, strict=True)) / n
        if n
        else None
    )
    groups = []
    for low, high in itertools.pairwise(CALIBRATION_EDGES):
        last = high == CALIBRATION_EDGES[-1]
        members = [
            (p, y)
            for p, y in zip(predicted, observed, strict=True)
            if low <= p < high or (last and p == high)
        ]
        if members:
            groups.append(
                CalibrationGroup(
                    low=low,
                    high=high,
                    n=len(members),
                    mean_predicted=sum(p for p, _ in members) / len(members),
                    observed=sum(1 for _, y in members if y) / len(members),
                )
            )
    return Backtest(
        horizon_days=horizon_days,
        cutoffs=points,
        n=n,
        events=sum(observed),
        concordance=concordance,
        brier=brier,
        calibration=tuple(groups),
    )
