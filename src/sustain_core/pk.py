"""Plasma level of racemic ketamine from linear compartment models (clinical-facts §6).

A model, not a measurement: the curve is what a published parameter set predicts for a
schedule of infusion, for a patient of the given weight. It is drawn beside the measured anchor
(~185 ng/mL at the end of 0.5 mg/kg over 40 min, and the 100–250 ng/mL dissociative range
[Zanos2018-T1]) so the reader can judge it.

The parameter sets (clinical-facts §6b) were transcribed from the open-source ``opentiva`` TCI
library [opentiva-ketamine] (secondary: the primary papers were not checked), except Kamp's,
which is the meta-analysis's weighted mean [Kamp2020-meta]:

- ``CLEMENTS_1981`` (the default, the closest to the 185 ng/mL anchor: 177 ng/mL at 70 kg):
  Clements JA, Nimmo WS, BJA 1981;53(1):27, 2-compartment, V1 1.7522 L/kg, k10 0.0109,
  k12 0.0186, k21 0.0137 min⁻¹.
- ``DOMINO``: Domino EF et al. (PMID 7198883), 3-compartment, V1 0.063 L/kg, k10 0.4381,
  k12 0.5921, k13 0.5900, k21 0.2470, k31 0.0146 min⁻¹ (240 ng/mL at 70 kg).
- ``KAMP_2020``: Kamp J et al., Anesthesiology 2020;133(6):1192, 1-compartment with the
  weighted means V 252 L and CL 79 L/h per 70 kg, scaled in proportion to weight (the "/70 kg"
  of the paper's figures; that scaling is our assumption, unconfirmed) (125 ng/mL at 70 kg).

The solution is exact for each constant-rate stretch (an eigen-decomposition of the
compartment matrix, which a diagonal change of scale makes symmetric, so its eigenvalues are
real), not a numerical integration: clinical-facts §6d's table (an Euler integration with a
step of 0.01 min, in whole ng/mL) agrees to its rounding, at most 0.4 ng/mL apart.

Units: weight in kg and rates in mg/min as ``Decimal``; times in minutes from the start of the
schedule; amounts in mg, volumes in L, concentrations in ng/mL (1 mg/L = 1000 ng/mL).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from sustain_core.dosing import validate_weight_kg
from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.numbers import plain
from sustain_core.protocols.model import DoseRegimen, RegimenKind

# The measured anchor and the dissociative range drawn beside a model curve [Zanos2018-T1].
MEASURED_END_OF_INFUSION_NG_PER_ML = 185
DISSOCIATIVE_RANGE_NG_PER_ML = (100, 250)
# A schedule may span at most a day (data-entry plausibility, not a published rule: the longest
# session infusions here are 4 h; a multi-day CRPS infusion is not a chair-side session).
SCHEDULE_MINUTES_MAX = Decimal("1440")
# At most this many requested times in one call (a chart needs a few hundred).
TIMES_MAX = 20000
# The peak is found on a grid this fine (minutes), with every change of rate on it.
PEAK_GRID_MINUTES = 0.1
_NG_PER_ML_PER_MG_PER_L = 1000.0


@dataclass(frozen=True)
class Model:
    """A mammillary compartment model: a central compartment of ``v1_l_per_kg`` × weight,
    elimination ``k10`` from it, and peripheral compartments exchanging with it at
    (``k1j``, ``kj1``) per minute. ``source`` cites where the figures come from."""

    key: str
    title: str
    v1_l_per_kg: float
    k10: float
    peripheral: tuple[tuple[float, float], ...]
    source: str


CLEMENTS_1981 = Model(
    key="clements-1981",
    title="Clements & Nimmo 1981, 2-compartment",
    v1_l_per_kg=1.7522,
    k10=0.0109,
    peripheral=((0.0186, 0.0137),),
    source="Clements JA, Nimmo WS. Br J Anaesth 1981;53(1):27 (doi:10.1093/bja/53.1.27); "
    "parameters as transcribed in the opentiva library [opentiva-ketamine] (secondary)",
)
DOMINO = Model(
    key="domino",
    title="Domino, 3-compartment",
    v1_l_per_kg=0.063,
    k10=0.4381,
    peripheral=((0.5921, 0.2470), (0.5900, 0.0146)),
    source="Domino EF et al. (PMID 7198883); parameters as transcribed in the opentiva "
    "library [opentiva-ketamine] (secondary)",
)
KAMP_2020 = Model(
    key="kamp-2020",
    title="Kamp 2020 meta-analysis, 1-compartment",
    v1_l_per_kg=252 / 70,
    k10=(79 / 60) / 252,
    peripheral=(),
    source="Kamp J et al. Anesthesiology 2020;133(6):1192 [Kamp2020-meta]: V 252 L and CL "
    "79 L/h per 70 kg, scaled with weight (unconfirmed)",
)
MODELS = {m.key: m for m in (CLEMENTS_1981, DOMINO, KAMP_2020)}
DEFAULT_MODEL = CLEMENTS_1981


@dataclass(frozen=True)
class Segment:
    """``mg_per_min`` into a vein from ``start_min`` to ``end_min`` (minutes from the start of
    the schedule)."""

    start_min: Decimal
    end_min: Decimal
    mg_per_min: Decimal

    @property
    def mg(self) -> Decimal:
        return (self.end_min - self.start_min) * self.mg_per_min


@dataclass(frozen=True)
class PlasmaCurve:
    """The model's plasma level at ``times_min`` (``ng_per_ml``), with the peak (found on a
    0.1-min grid holding every change of rate) and the level when the last segment ends."""

    model: Model
    weight_kg: Decimal
    segments: tuple[Segment, ...]
    times_min: tuple[float, ...]
    ng_per_ml: tuple[float, ...]
    peak_ng_per_ml: float
    peak_at_min: float
    end_min: float
    end_ng_per_ml: float

    @property
    def dose_mg(self) -> Decimal:
        return sum((s.mg for s in self.segments), Decimal(0))


def _number(field: str, value: Decimal, what: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ClinicalValueError(field, f"{what} must be a finite decimal number; got {value!r}")
    return value


def validate_schedule(segments: Sequence[Segment]) -> tuple[Segment, ...]:
    """Return the segments in time order if they make a schedule: at least one; each starts
    at 0 or later, ends after it starts, within SCHEDULE_MINUTES_MAX (a day) of the start, and
    runs at 0 mg/min or more; none overlaps another (a pause is a gap between segments; a
    change of rate starts a new segment where the last one ends).

    Raises ClinicalValueError (OutOfRange for a number out of its range) naming ``segments``
    and saying which segment is wrong and what is allowed."""
    if not segments:
        raise ClinicalValueError("segments", "give at least one stretch of infusion")
    ordered = sorted(
        segments,
        key=lambda s: (
            _number("segments", s.start_min, "a start"),
            _number("segments", s.end_min, "an end"),
        ),
    )
    for n, s in enumerate(ordered, start=1):
        rate = _number("segments", s.mg_per_min, "a rate")
        where = f"stretch {n} ({plain(s.start_min)}–{plain(s.end_min)} min)"
        if s.start_min < 0:
            raise OutOfRange("segments", f"{where} starts before 0 min; start at 0 or later")
        if s.end_min <= s.start_min:
            raise OutOfRange("segments", f"{where} must end after it starts")
        if s.end_min > SCHEDULE_MINUTES_MAX:
            raise OutOfRange(
                "segments",
                f"{where} ends after {plain(SCHEDULE_MINUTES_MAX)} min; a schedule spans at "
                "most a day",
            )
        if rate < 0:
            raise OutOfRange(
                "segments", f"{where} runs at {plain(rate)} mg/min; a rate is 0 or more"
            )
        if n > 1 and s.start_min < ordered[n - 2].end_min:
            raise ClinicalValueError(
                "segments",
                f"{where} overlaps the stretch before it, which ends at "
                f"{plain(ordered[n - 2].end_min)} min; a change of rate starts where the last "
                "stretch ends",
            )
    return tuple(ordered)


class _Solution:
    """The model's compartment matrix for one weight, diagonalised: K = D Q Λ Qᵀ D⁻¹ with D the
    diagonal that makes D⁻¹ K D symmetric (√(k1j/kj1), the compartments' volume ratios)."""

    def __init__(self, model: Model, weight_kg: Decimal) -> None:
        n = 1 + len(model.peripheral)
        k = np.zeros((n, n))
        k[0, 0] = -(model.k10 + sum(k1j for k1j, _ in model.peripheral))
        for j, (k1j, kj1) in enumerate(model.peripheral, start=1):
            k[0, j], k[j, 0], k[j, j] = kj1, k1j, -kj1
        scale = np.array([1.0] + [math.sqrt(k1j / kj1) for k1j, kj1 in model.peripheral])
        symmetric = k * scale[np.newaxis, :] / scale[:, np.newaxis]
        self.eigenvalues, self.q = np.linalg.eigh((symmetric + symmetric.T) / 2)
        self.scale = scale
        # The input vector (a rate into the central compartment) in eigen-coordinates.
        self.b = self.q.T[:, 0]
        self.v1_l = model.v1_l_per_kg * float(weight_kg)

    def step(
        self, y: NDArray[np.float64], rate: float, dt: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """The eigen-coordinates ``dt`` minutes after ``y`` at a constant ``rate`` (mg/min):
        yᵢ(t) = e^{λᵢt} yᵢ + (e^{λᵢt} − 1)/λᵢ · bᵢ · rate, exactly."""
        grow = np.exp(np.outer(dt, self.eigenvalues))
        after: NDArray[np.float64] = (
            grow * y[np.newaxis, :] + (grow - 1) / self.eigenvalues * self.b * rate
        )
        return after

    def amounts(self, y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Amounts (mg) in each compartment from eigen-coordinates (rows)."""
        amounts: NDArray[np.float64] = (y @ self.q.T) * self.scale[np.newaxis, :]
        return amounts


def _evaluate(
    model: Model, weight_kg: Decimal, schedule: tuple[Segment, ...], times: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Amounts (mg) in each compartment at each of ``times`` (rows)."""
    solution = _Solution(model, weight_kg)
    # Breakpoints where the rate changes, with the rate that holds from each.
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    for s in schedule:
        start, end = float(s.start_min), float(s.end_min)
        if start > points[-1][0]:
            points.append((start, 0.0))
        points[-1] = (start, float(s.mg_per_min))
        points.append((end, 0.0))
    starts = np.array([p[0] for p in points])
    rates = [p[1] for p in points]
    states = [np.zeros(len(solution.eigenvalues))]
    for i in range(1, len(points)):
        dt = np.array([starts[i] - starts[i - 1]])
        states.append(solution.step(states[-1], rates[i - 1], dt)[0])
    index = np.searchsorted(starts, times, side="right") - 1
    y = np.empty((len(times), len(solution.eigenvalues)))
    for i in np.unique(index):
        at = index == i
        y[at] = solution.step(states[i], rates[i], times[at] - starts[i])
    return solution.amounts(y)


def _times(times_min: Sequence[float]) -> NDArray[np.float64]:
    if len(times_min) > TIMES_MAX:
        raise OutOfRange("times_min", f"ask for at most {TIMES_MAX} times; got {len(times_min)}")
    times = np.array(times_min, dtype=float)
    if not np.all(np.isfinite(times)) or np.any(times < 0):
        raise OutOfRange("times_min", "every time must be a finite number of minutes, 0 or more")
    return times


def amounts_mg(
    *,
    weight_kg: Decimal,
    segments: Sequence[Segment],
    times_min: Sequence[float],
    model: Model = DEFAULT_MODEL,
) -> tuple[tuple[float, ...], ...]:
    """The amount (mg) in each compartment, central first, at each of ``times_min``."""
    schedule = validate_schedule(segments)
    weight_kg = validate_weight_kg(weight_kg)
    rows = _evaluate(model, weight_kg, schedule, _times(times_min))
    return tuple(tuple(float(a) for a in row) for row in rows)


def plasma_curve(
    *,
    weight_kg: Decimal,
    segments: Sequence[Segment],
    times_min: Sequence[float],
    model: Model = DEFAULT_MODEL,
) -> PlasmaCurve:
    """The model's plasma level (ng/mL) at ``times_min`` for ``segments`` of infusion into a
    patient of ``weight_kg`` (validated as ``dosing.validate_weight_kg``: 30–300 kg to 0.1 kg),
    with its peak and its level at the end of the last segment.

    Raises ClinicalValueError / OutOfRange naming the field (``weight_kg``, ``segments``,
    ``times_min``) for a weight out of range, a schedule that is not one (validate_schedule),
    or a time before 0."""
    schedule = validate_schedule(segments)
    weight_kg = validate_weight_kg(weight_kg)
    times = _times(times_min)
    end = float(schedule[-1].end_min)
    grid = np.arange(0.0, end + PEAK_GRID_MINUTES, PEAK_GRID_MINUTES)
    edges = [float(x) for s in schedule for x in (s.start_min, s.end_min)]
    probe = np.unique(np.concatenate([grid, np.array(edges), times]))
    scale = _NG_PER_ML_PER_MG_PER_L / (model.v1_l_per_kg * float(weight_kg))
    levels = _evaluate(model, weight_kg, schedule, probe)[:, 0] * scale
    peak = int(np.argmax(levels))
    at = {float(t): float(c) for t, c in zip(probe, levels, strict=True)}
    return PlasmaCurve(
        model=model,
        weight_kg=weight_kg,
        segments=schedule,
        times_min=tuple(float(t) for t in times),
        ng_per_ml=tuple(at[float(t)] for t in times),
        peak_ng_per_ml=float(levels[peak]),
        peak_at_min=float(probe[peak]),
        end_min=end,
        end_ng_per_ml=at[end],
    )


def regimen_schedule(regimen: DoseRegimen, *, weight_kg: Decimal) -> tuple[Segment, ...]:
    """A protocol's session as one constant-rate stretch for a patient of ``weight_kg``: a
    per-session dose (mg/kg × weight) over its minutes; a per-hour dose at mg/kg/h × weight,
    never faster than its cap (the cap applies above cap ÷ rate kg, as ``dosing``), for its
    minutes. Decimal arithmetic (an hourly rate ÷ 60 to 28 significant digits)."""
    weight_kg = validate_weight_kg(weight_kg)
    minutes = Decimal(regimen.infusion_minutes)
    if regimen.kind == RegimenKind.PER_SESSION:
        assert regimen.mg_per_kg is not None  # noqa: S101 - DoseRegimen guarantees it
        rate = regimen.mg_per_kg * weight_kg / minutes
    else:
        assert regimen.mg_per_kg_per_h is not None and regimen.cap_mg_per_h is not None  # noqa: S101
        rate = min(regimen.mg_per_kg_per_h * weight_kg, regimen.cap_mg_per_h) / 60
    return validate_schedule([Segment(Decimal(0), minutes, rate)])
