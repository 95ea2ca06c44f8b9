"""The cohort simulator: virtual patients through induction and maintenance under a policy.

Issue 17 item 4: compare maintenance policies (a fixed interval, a taper, boosters on
symptoms, boosters on a forecast) before trying them on patients, in relapse-free days,
infusions and chair hours per patient-year and in the chairs a site needs for its intake.

The model (each line an input or an assumption; none of it is a published algorithm):

- Every patient has the protocol's induction (``induction_infusions`` over ``induction_days``);
  maintenance starts ``induction_days`` after the first infusion. Futility stops and
  extensions are not modelled: everyone gets the whole induction.
- At the end of induction a patient responds with probability ``response_probability``
  (presets: 70.8 % [Murrough2013], 91.6 % [Shiroma2014], 53.6 % [McInnes2022]).
  Non-responders leave the program after induction (assumption).
- A responder's time to relapse after an infusion is Weibull (``relapse_shape``,
  ``relapse_scale_days``). The presets take a median of 18 days after the last of 6
  infusions [Murrough2013]; the default shape 1.2 is our assumption, derived from the
  approximate ~80 % / ~60 % still in response at 4 / 8 weeks in community care
  [McInnes2022] (those two points give a shape of about 1.19).
- A booster resets the relapse clock (assumption): the time to relapse after it is a fresh
  draw from the same Weibull. A booster given in relapse restores response (assumption).
- Responders stay in the program to the horizon (``years`` after the first infusion).

Time is continuous, in days. A patient-year is 365.25 days. Every patient's days in the
program are induction days + relapse-free days + days in relapse (non-responders: induction
days only). The simulation is event-driven over booster cycles and vectorised over patients;
it draws from ``numpy.random.default_rng(seed)`` only, so a seed gives the same output on
every run, and every policy run with the same seed sees the same responders.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from sustain_core.errors import ClinicalValueError, OutOfRange

DAYS_PER_YEAR = 365.25
# Median days from the last of 6 infusions to relapse [Murrough2013].
MURROUGH_MEDIAN_DAYS_TO_RELAPSE = 18.0
# Our assumption: ~80 % / ~60 % in sustained response at 28 / 56 days [McInnes2022] give
# ln(ln 0.6 / ln 0.8) / ln 2 = 1.19 for a Weibull; rounded.
DEFAULT_RELAPSE_SHAPE = 1.2
# Response at the end of induction, by preset (clinical-facts §9).
LITERATURE_RESPONSE = {
    "murrough": (17 / 24, "[Murrough2013] 70.8 % (17/24) after 6 infusions over 12 days"),
    "shiroma": (11 / 12, "[Shiroma2014] 91.6 % (11/12) after 6 infusions MWF over 12 days"),
    "mcinnes": (0.536, "[McInnes2022] 53.6 % PHQ-9 response after community induction"),
}
_MAX_INDUCTION_INFUSIONS = 50
_MAX_INDUCTION_DAYS = 365
_MAX_VISIT_MINUTES = 24 * 60
_MAX_INTERVAL_DAYS = 3650

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


def _check_number(name: str, value: float, *, low: float, high: float, what: str) -> None:
    """Refuse a value that is not a finite number within (low, high] or [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise OutOfRange(name, f"{name} must be a number {what}; got {value!r}")
    if not low <= value <= high:
        raise OutOfRange(name, f"{name} must be {what}; got {value!r}")


def _check_whole(name: str, value: int, *, low: int, high: int) -> None:
    """Refuse a value that is not a whole number from low to high."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise OutOfRange(name, f"{name} must be a whole number from {low} to {high}; got {value!r}")


@dataclass(frozen=True)
class CohortParameters:
    """What the virtual patients are: response at the end of induction, the Weibull time to
    relapse after an infusion, the protocol's induction and its chair time per visit.

    ``response_probability`` from 0 to 1; ``relapse_shape`` (Weibull k) above 0 and at most
    20; ``relapse_scale_days`` (Weibull lambda) above 0 and at most 3650 days;
    ``induction_infusions`` 1 to 50; ``induction_days`` 1 to 365; ``visit_minutes`` (chair
    time per visit, check-in to discharge) 1 to 1440. ``source`` says where the numbers come
    from. Raises OutOfRange naming the field otherwise.
    """

    response_probability: float
    relapse_shape: float
    relapse_scale_days: float
    induction_infusions: int = 6
    induction_days: int = 12
    visit_minutes: int = 120
    source: str = ""

    def __post_init__(self) -> None:
        _check_number(
            "response_probability", self.response_probability, low=0, high=1, what="from 0 to 1"
        )
        for name, value in (
            ("relapse_shape", self.relapse_shape),
            ("relapse_scale_days", self.relapse_scale_days),
        ):
            high = 20.0 if name == "relapse_shape" else float(_MAX_INTERVAL_DAYS)
            _check_number(name, value, low=0, high=high, what=f"above 0 and at most {high:g}")
            if value <= 0:
                raise OutOfRange(
                    name, f"{name} must be above 0 and at most {high:g}; got {value!r}"
                )
        _check_whole(
            "induction_infusions", self.induction_infusions, low=1, high=_MAX_INDUCTION_INFUSIONS
        )
        _check_whole("induction_days", self.induction_days, low=1, high=_MAX_INDUCTION_DAYS)
        _check_whole("visit_minutes", self.visit_minutes, low=1, high=_MAX_VISIT_MINUTES)

    @classmethod
    def from_literature(
        cls,
        preset: str,
        *,
        relapse_shape: float = DEFAULT_RELAPSE_SHAPE,
        induction_infusions: int = 6,
        induction_days: int = 12,
        visit_minutes: int = 120,
    ) -> "CohortParameters":
        """Return a literature preset: "murrough", "shiroma" or "mcinnes" for the response
        probability (see LITERATURE_RESPONSE), each with the Weibull of median 18 days to
        relapse [Murrough2013] and the given shape (default 1.2, our assumption; see the
        module). Raises ClinicalValueError naming ``preset`` for an unknown preset.
        """
        if preset not in LITERATURE_RESPONSE:
            known = ", ".join(sorted(LITERATURE_RESPONSE))
            raise ClinicalValueError("preset", f"the preset must be one of {known}; got {preset!r}")
        probability, citation = LITERATURE_RESPONSE[preset]
        _check_number("relapse_shape", relapse_shape, low=0, high=20, what="above 0, at most 20")
        if relapse_shape <= 0:
            raise OutOfRange("relapse_shape", f"relapse_shape must be above 0; got {relapse_shape}")
        return cls(
            response_probability=probability,
            relapse_shape=relapse_shape,
            relapse_scale_days=weibull_scale_for_median(
                MURROUGH_MEDIAN_DAYS_TO_RELAPSE, relapse_shape
            ),
            induction_infusions=induction_infusions,
            induction_days=induction_days,
            visit_minutes=visit_minutes,
            source=(
                f"{citation}; median 18 days to relapse [Murrough2013]; "
                f"Weibull shape {relapse_shape:g} (assumption)"
            ),
        )

    @classmethod
    def from_fitted(
        cls,
        *,
        shape: float,
        scale_days: float,
        response_probability: float,
        induction_infusions: int = 6,
        induction_days: int = 12,
        visit_minutes: int = 120,
        source: str = "fitted on the clinic's own data",
    ) -> "CohortParameters":
        """Return parameters from a clinic's own fit: the Weibull ``shape`` and ``scale_days``
        of the time from an infusion to relapse, and the response probability at the end of
        induction. Validation as for the class."""
        return cls(
            response_probability=response_probability,
            relapse_shape=shape,
            relapse_scale_days=scale_days,
            induction_infusions=induction_infusions,
            induction_days=induction_days,
            visit_minutes=visit_minutes,
            source=source,
        )

    @property
    def relapse_median_days(self) -> float:
        """Return the median of the Weibull time to relapse, in days."""
        return float(self.relapse_scale_days * math.log(2) ** (1 / self.relapse_shape))

    def still_responding(self, days: float) -> float:
        """Return S(days): the probability of no relapse ``days`` after an infusion."""
        return math.exp(-float((days / self.relapse_scale_days) ** self.relapse_shape))

    def conditional_relapse_risk(self, days: float, horizon_days: float) -> float:
        """Return 1 - S(days + horizon) / S(days): the risk of relapse within the next
        ``horizon_days`` for a responder still in response ``days`` after an infusion."""
        k, scale = self.relapse_shape, self.relapse_scale_days
        cumulative = ((days + horizon_days) / scale) ** k - (days / scale) ** k
        return -math.expm1(-float(cumulative))


def weibull_scale_for_median(median_days: float, shape: float) -> float:
    """Return the Weibull scale (days) whose median is ``median_days`` at this shape:
    lambda = median / (ln 2)^(1/k)."""
    return float(median_days / math.log(2) ** (1 / shape))


class PolicyKind(StrEnum):
    NONE = "none"
    FIXED = "fixed"
    TAPER = "taper"
    SYMPTOM = "symptom"
    FORECAST = "forecast"


@dataclass(frozen=True)
class Policy:
    """A maintenance policy for responders.

    NONE: no boosters. FIXED: a booster every ``intervals_days[0]`` days. TAPER: boosters
    after each of ``intervals_days`` in turn (e.g. 7, 14, 21, 28), then every last interval.
    SYMPTOM: PHQ-9 (or the protocol's instrument) every ``assessment_days`` from the end of
    induction; a relapse is seen at the first assessment on or after it, confirmed at the first
    assessment at least ``confirmation_days`` later (0: no second measurement), and the booster
    is given that day; the days between relapse and booster count as days in relapse.
    FORECAST: a booster on the first whole day after an infusion on which the conditional risk
    of relapse over the next ``horizon_days`` reaches ``threshold``, never sooner than
    ``min_gap_days`` (see ``forecast_interval_days``); a relapse before it lasts until it.
    Every virtual patient has the same Weibull, so the forecast is the same for all of them and
    the policy is a fixed interval found from the model; what a forecast adds for a real
    patient (his own trajectory since the last infusion) is not modelled here.

    Intervals, assessment, confirmation, horizon and gap are whole days (1 to 3650;
    confirmation 0 to 3650); a taper has 1 to 20 intervals; ``threshold`` lies strictly
    between 0 and 1. A field another kind uses must be left at its default. Raises
    OutOfRange or ClinicalValueError naming the field.
    """

    kind: PolicyKind
    intervals_days: tuple[int, ...] = ()
    assessment_days: int = 7
    confirmation_days: int = 0
    threshold: float = 0.2
    horizon_days: int = 7
    min_gap_days: int = 7

    def __post_init__(self) -> None:
        try:
            kind = PolicyKind(self.kind)
        except ValueError:
            known = ", ".join(k.value for k in PolicyKind)
            raise ClinicalValueError(
                "kind", f"the policy must be one of {known}; got {self.kind!r}"
            ) from None
        object.__setattr__(self, "kind", kind)
        wanted = {PolicyKind.FIXED: (1, 1), PolicyKind.TAPER: (1, 20)}.get(kind, (0, 0))
        if not wanted[0] <= len(self.intervals_days) <= wanted[1]:
            raise ClinicalValueError(
                "intervals_days",
                f"a {kind.value} policy takes {_count_text(wanted)} interval(s); "
                f"got {len(self.intervals_days)}",
            )
        for interval in self.intervals_days:
            _check_whole("intervals_days", interval, low=1, high=_MAX_INTERVAL_DAYS)
        _check_whole("assessment_days", self.assessment_days, low=1, high=_MAX_INTERVAL_DAYS)
        _check_whole("confirmation_days", self.confirmation_days, low=0, high=_MAX_INTERVAL_DAYS)
        _check_whole("horizon_days", self.horizon_days, low=1, high=_MAX_INTERVAL_DAYS)
        _check_whole("min_gap_days", self.min_gap_days, low=1, high=_MAX_INTERVAL_DAYS)
        _check_number("threshold", self.threshold, low=0, high=1, what="between 0 and 1")
        if not 0 < self.threshold < 1:
            raise OutOfRange(
                "threshold", f"threshold must be between 0 and 1 (not 0 or 1); got {self.threshold}"
            )
        defaults = Policy.__dataclass_fields__
        used = {
            PolicyKind.SYMPTOM: {"assessment_days", "confirmation_days"},
            PolicyKind.FORECAST: {"threshold", "horizon_days", "min_gap_days"},
        }.get(kind, set())
        for name in ("assessment_days", "confirmation_days", "threshold", "horizon_days",
                     "min_gap_days"):  # fmt: skip
            if name not in used and getattr(self, name) != defaults[name].default:
                raise ClinicalValueError(name, f"a {kind.value} policy does not take {name}")

    @property
    def label(self) -> str:
        """Return the policy as written on the command line ("fixed:28", "symptom:7,7")."""
        if self.kind in (PolicyKind.FIXED, PolicyKind.TAPER):
            return f"{self.kind.value}:{','.join(str(days) for days in self.intervals_days)}"
        if self.kind == PolicyKind.SYMPTOM:
            confirm = f",{self.confirmation_days}" if self.confirmation_days else ""
            return f"symptom:{self.assessment_days}{confirm}"
        if self.kind == PolicyKind.FORECAST:
            return f"forecast:{self.threshold:g},{self.horizon_days},{self.min_gap_days}"
        return "none"


def _count_text(wanted: tuple[int, int]) -> str:
    low, high = wanted
    return "no" if high == 0 else (str(low) if low == high else f"{low} to {high}")


def parse_policy(text: str) -> Policy:
    """Return the policy written as on the command line.

    "none"; "fixed:N" (every N days); "taper:7,14,21,28" (then every 28 days);
    "symptom:A" or "symptom:A,C" (assessment every A days, confirmation C days later);
    "forecast:P" or "forecast:P,H" or "forecast:P,H,G" (threshold P over the next H days,
    default 7, boosters at least G days apart, default 7). Raises ClinicalValueError naming
    ``policy`` when the text does not read as one of these, or the field the policy refuses.
    """
    name, _, rest = text.strip().partition(":")
    parts = [part.strip() for part in rest.split(",")] if rest else []
    forms = "none, fixed:N, taper:N,N,..., symptom:A[,C] or forecast:P[,H[,G]]"
    try:
        kind = PolicyKind(name)
        if kind == PolicyKind.FORECAST and 1 <= len(parts) <= 3:
            threshold = float(parts[0])
            whole = [int(part) for part in parts[1:]]
            horizon, gap = [*whole, 7, 7][:2]
            return Policy(kind, threshold=threshold, horizon_days=horizon, min_gap_days=gap)
        numbers = tuple(int(part) for part in parts)
        if kind == PolicyKind.SYMPTOM and 1 <= len(numbers) <= 2:
            return Policy(kind, assessment_days=numbers[0], confirmation_days=sum(numbers[1:]))
        if kind in (PolicyKind.NONE, PolicyKind.FIXED, PolicyKind.TAPER):
            return Policy(kind, intervals_days=numbers)
    except ValueError as error:
        if isinstance(error, ClinicalValueError):
            raise
        raise ClinicalValueError("policy", f"the policy must be {forms}; got {text!r}") from None
    raise ClinicalValueError("policy", f"the policy must be {forms}; got {text!r}")


def forecast_interval_days(parameters: CohortParameters, policy: Policy) -> int | None:
    """Return the whole days from an infusion to a forecast-triggered booster, or None when
    the risk never reaches the threshold (no booster).

    The booster day is the first whole day t (at least ``min_gap_days``) with
    1 - S(t + h) / S(t) >= threshold. For the Weibull, that is
    (t + h)^k - t^k >= -lambda^k ln(1 - threshold); the left side rises with t when k > 1
    (closed form only for k = 2: t = (c - h^2) / 2h), so the real root is found by bisection
    to float precision and rounded up. For k <= 1 the risk never rises: the booster comes at
    the minimum gap if the risk there already reaches the threshold, else never.
    """
    if policy.kind != PolicyKind.FORECAST:
        raise ClinicalValueError("policy", f"a forecast policy is needed; got {policy.label}")
    h, gap, p = policy.horizon_days, policy.min_gap_days, policy.threshold
    risk = parameters.conditional_relapse_risk
    if risk(gap, h) >= p:
        return gap
    if parameters.relapse_shape <= 1:
        return None
    low, high = float(gap), 2.0 * gap
    while risk(high, h) < p:
        low, high = high, 2.0 * high
    while (middle := (low + high) / 2) not in (low, high):  # to float precision
        low, high = (middle, high) if risk(middle, h) < p else (low, middle)
    return math.ceil(high)


@dataclass(frozen=True, eq=False)
class CohortRun:
    """One policy's virtual cohort, one entry per patient: whether they responded, days in
    the program, relapse-free days and days in relapse (maintenance), infusions (induction and
    boosters), relapses and the longest single stretch in relapse. Days are floats."""

    policy: Policy
    parameters: CohortParameters
    years: float
    responded: Bools
    days_in_program: Floats
    relapse_free_days: Floats
    relapse_days: Floats
    infusions: Ints
    relapses: Ints
    longest_relapse_days: Floats
    booster_interval_days: int | None = None


@dataclass(frozen=True)
class PolicyOutcome:
    """One policy's totals over a cohort and the figures per patient-year in the program."""

    label: str
    patients: int
    responders: int
    patient_years: float
    induction_days: float
    relapse_free_days: float
    relapse_days: float
    infusions: int
    chair_hours: float
    relapses: int
    longest_relapse_days: float
    years: float
    booster_interval_days: int | None = None
    per_year: dict[str, float] = field(default_factory=dict)

    @property
    def chair_hours_per_patient(self) -> float:
        """Return the chair hours one enrolled patient uses over the simulated years."""
        return self.chair_hours / self.patients

    def chairs_needed(
        self, *, intake_per_week: float, chair_hours_per_week: float, utilisation: float
    ) -> float:
        """Return the chairs a site needs at steady state for ``intake_per_week`` new patients
        a week, each staying the simulated years: chair hours needed a week (intake x chair
        hours per enrolled patient) over the hours one chair gives a week at the target
        utilisation. Intake 0 to 10,000; chair hours a week above 0 and at most 168;
        utilisation above 0 and at most 1. Raises OutOfRange naming the argument."""
        _check_number(
            "intake_per_week", intake_per_week, low=0, high=10_000, what="from 0 to 10000"
        )
        _check_number(
            "chair_hours_per_week", chair_hours_per_week, low=0, high=168,
            what="above 0 and at most 168",
        )  # fmt: skip
        _check_number("utilisation", utilisation, low=0, high=1, what="above 0 and at most 1")
        for name, value in (("chair_hours_per_week", chair_hours_per_week),
                            ("utilisation", utilisation)):  # fmt: skip
            if value <= 0:
                raise OutOfRange(name, f"{name} must be above 0; got {value!r}")
        return intake_per_week * self.chair_hours_per_patient / (chair_hours_per_week * utilisation)


def simulate(
    parameters: CohortParameters, policy: Policy, *, patients: int, years: float, seed: int
) -> CohortRun:
    """Return the virtual cohort of ``patients`` (1 to 10,000,000) followed ``years`` after
    their first infusion (the horizon must pass the end of induction, at most 50 years) under
    ``policy``, drawn from ``numpy.random.default_rng(seed)`` (seed 0 to 2**63 - 1).

    Raises OutOfRange naming ``patients``, ``years`` or ``seed``.
    """
    _check_whole("patients", patients, low=1, high=10_000_000)
    _check_whole("seed", seed, low=0, high=2**63 - 1)
    _check_number("years", years, low=0, high=50, what="above 0 and at most 50")
    horizon = years * DAYS_PER_YEAR
    start = float(parameters.induction_days)
    if horizon <= start:
        raise OutOfRange(
            "years", f"years must reach past the end of induction ({start:g} days); got {years}"
        )
    rng = np.random.default_rng(seed)
    responded = rng.random(patients) < parameters.response_probability
    count = int(responded.sum())
    state = _State(count)
    interval: int | None = None
    draw = _drawer(rng, parameters)
    if policy.kind == PolicyKind.SYMPTOM:
        _run_symptom(state, draw, policy, start=start, horizon=horizon)
    elif policy.kind == PolicyKind.NONE:
        _run_schedule(state, draw, _Gaps(()), start=start, horizon=horizon)
    else:
        if policy.kind == PolicyKind.FORECAST:
            interval = forecast_interval_days(parameters, policy)
            gaps: tuple[int, ...] = () if interval is None else (interval,)
        else:
            gaps = policy.intervals_days
        _run_schedule(state, draw, _Gaps(gaps), start=start, horizon=horizon)

    days = np.full(patients, start)
    days[responded] = horizon
    return CohortRun(
        policy=policy,
        parameters=parameters,
        years=float(years),
        responded=responded,
        days_in_program=days,
        relapse_free_days=_spread(responded, state.free),
        relapse_days=_spread(responded, state.relapse),
        infusions=_spread_whole(responded, state.boosters) + parameters.induction_infusions,
        relapses=_spread_whole(responded, state.relapses),
        longest_relapse_days=_spread(responded, state.longest),
        booster_interval_days=interval,
    )


def summarise(run: CohortRun) -> PolicyOutcome:
    """Return the run's totals and its figures per patient-year in the program (relapse-free
    days, days in relapse, infusions, chair hours)."""
    patient_years = float(run.days_in_program.sum()) / DAYS_PER_YEAR
    responders = int(run.responded.sum())
    induction = float((run.days_in_program - run.relapse_free_days - run.relapse_days).sum())
    infusions = int(run.infusions.sum())
    chair_hours = infusions * run.parameters.visit_minutes / 60
    free, relapse = float(run.relapse_free_days.sum()), float(run.relapse_days.sum())
    return PolicyOutcome(
        label=run.policy.label,
        patients=len(run.responded),
        responders=responders,
        patient_years=patient_years,
        induction_days=induction,
        relapse_free_days=free,
        relapse_days=relapse,
        infusions=infusions,
        chair_hours=chair_hours,
        relapses=int(run.relapses.sum()),
        longest_relapse_days=float(run.longest_relapse_days.max()),
        years=run.years,
        booster_interval_days=run.booster_interval_days,
        per_year={
            "relapse_free_days": free / patient_years,
            "relapse_days": relapse / patient_years,
            "infusions": infusions / patient_years,
            "chair_hours": chair_hours / patient_years,
        },
    )


class _State:
    """The responders' running totals, one entry per responder."""

    def __init__(self, count: int) -> None:
        self.free = np.zeros(count)
        self.relapse = np.zeros(count)
        self.longest = np.zeros(count)
        self.boosters = np.zeros(count, dtype=np.int64)
        self.relapses = np.zeros(count, dtype=np.int64)


def _drawer(rng: np.random.Generator, parameters: CohortParameters) -> Callable[[int], Floats]:
    shape, scale = parameters.relapse_shape, parameters.relapse_scale_days

    def draw(size: int) -> Floats:
        return scale * rng.weibull(shape, size)

    return draw


class _Gaps:
    """The booster intervals in turn, then the last one for ever (none: no boosters)."""

    def __init__(self, gaps: tuple[int, ...]) -> None:
        self._gaps = gaps
        self._index = 0

    def next(self) -> float | None:
        """Return the next interval in days, or None when there are no boosters."""
        if not self._gaps:
            return None
        gap = self._gaps[min(self._index, len(self._gaps) - 1)]
        self._index += 1
        return float(gap)


def _run_schedule(
    state: _State, draw: Callable[[int], Floats], gaps: _Gaps, *, start: float,
    horizon: float,
) -> None:  # fmt: skip
    """Boosters on a schedule shared by every responder (none, fixed, taper, forecast): one
    draw per responder per cycle; a relapse within the cycle lasts to the cycle's booster."""
    count = len(state.free)
    now = start
    while now < horizon:
        gap = gaps.next()
        end = horizon if gap is None else min(now + gap, horizon)
        length = end - now
        days = draw(count)  # to relapse; then, in place, relapse-free; then in relapse
        state.relapses += days < length
        np.minimum(days, length, out=days)
        state.free += days
        np.subtract(length, days, out=days)
        state.relapse += days
        np.maximum(state.longest, days, out=state.longest)
        if end < horizon:
            state.boosters += 1
        now = end


def _run_symptom(
    state: _State, draw: Callable[[int], Floats], policy: Policy, *, start: float,
    horizon: float,
) -> None:  # fmt: skip
    """Boosters on confirmed relapse: each responder's own cycles, vectorised over those still
    before the horizon (the cohort shrinks each round)."""
    every = float(policy.assessment_days)
    confirm = math.ceil(policy.confirmation_days / every) * every
    who = np.arange(len(state.free))
    now = np.full(len(state.free), start)
    while len(who):
        relapse_at = now + draw(len(who))
        ended = relapse_at >= horizon
        state.free[who] += np.minimum(relapse_at, horizon) - now
        seen = start + np.ceil((relapse_at - start) / every) * every
        booster_at = np.minimum(seen + confirm, horizon)
        stretch = np.where(ended, 0.0, booster_at - relapse_at)
        state.relapse[who] += stretch
        state.longest[who] = np.maximum(state.longest[who], stretch)
        state.relapses[who] += ~ended
        boosted = booster_at < horizon
        state.boosters[who] += boosted
        who, now = who[boosted], booster_at[boosted]


def _spread(responded: Bools, values: Floats) -> Floats:
    """Return one entry per patient: the responders' values, 0 for the others."""
    out = np.zeros(len(responded))
    out[responded] = values
    return out


def _spread_whole(responded: Bools, values: Ints) -> Ints:
    """Return one entry per patient: the responders' counts, 0 for the others."""
    out = np.zeros(len(responded), dtype=np.int64)
    out[responded] = values
    return out
