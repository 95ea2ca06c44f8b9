"""Cohort statistics on a hand-computed cohort (tests/core/cohort_cases.py)."""

import datetime as dt
import math
from dataclasses import replace
from decimal import Decimal

import pytest

from sustain_core import cohort, outcomes
from sustain_core.errors import ClinicalValueError, OutOfRange
from tests.core import cohort_cases

pytestmark = pytest.mark.core

E = cohort.EndOfInduction
OC = outcomes.Outcome


def by_name() -> dict[str, cohort.CourseRecord]:
    return {
        case.name: rec for case, rec in zip(cohort_cases.CASES, cohort_cases.records(), strict=True)
    }


# --- Wilson ---------------------------------------------------------------------------------


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Worked by hand: z² = 3.8415; 4/5: centre 1.18415/1.76829 = 0.66965, half 0.29412.
        (4, 5, 0.3755, 0.9638),
        (2, 5, 0.1176, 0.7693),
        (3, 5, 0.2307, 0.8824),
        (1, 2, 0.0945, 0.9055),
        (50, 100, 0.4038, 0.5962),
    ],
)
def test_wilson_interval_matches_the_formula_to_4_decimals(
    k: int, n: int, low: float, high: float
) -> None:
    found = cohort.wilson_interval(k, n)
    assert (round(found.low, 4), round(found.high, 4)) == (low, high)
    assert (found.low, found.high) == pytest.approx(wilson_by_hand(k, n), abs=1e-12)
    assert found.estimate == k / n
    assert found.percent == 100 * k / n


def test_wilson_interval_at_the_ends_is_exactly_0_and_1() -> None:
    none = cohort.wilson_interval(0, 4)
    every = cohort.wilson_interval(4, 4)
    assert (none.low, round(none.high, 4)) == (0.0, 0.4899)
    assert (round(every.low, 4), every.high) == (0.5101, 1.0)
    assert none.small and every.small
    assert not cohort.wilson_interval(2, 5).small


@pytest.mark.parametrize(
    ("k", "n", "z", "field"),
    [
        (0, 0, cohort.Z_95, "n"),
        (1, True, cohort.Z_95, "n"),
        (1, 2.0, cohort.Z_95, "n"),
        (3, 2, cohort.Z_95, "successes"),
        (-1, 2, cohort.Z_95, "successes"),
        (True, 2, cohort.Z_95, "successes"),
        (1, 2, 0.0, "z"),
    ],
)
def test_wilson_interval_refuses_what_is_not_a_proportion(
    k: int, n: int, z: float, field: str
) -> None:
    with pytest.raises(OutOfRange) as refused:
        cohort.wilson_interval(k, n, z=z)
    assert refused.value.field == field


# --- windows and the end of induction -------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [(-1, 5, "start_days"), (0, True, "end_days"), (3, 3, "end_days"), (0, 1.5, "end_days")],
)
def test_window_refuses_bad_bounds(start: int, end: int, field: str) -> None:
    with pytest.raises(OutOfRange) as refused:
        cohort.Window(start, end)
    assert refused.value.field == field


def test_window_contains_its_ends_but_not_the_infusion_instant() -> None:
    day = dt.timedelta(days=1)
    assert not cohort.END_OF_INDUCTION_WINDOW.contains(dt.timedelta(0))
    assert cohort.END_OF_INDUCTION_WINDOW.contains(dt.timedelta(minutes=1))
    assert cohort.END_OF_INDUCTION_WINDOW.contains(31 * day)
    assert not cohort.END_OF_INDUCTION_WINDOW.contains(31 * day + dt.timedelta(seconds=1))
    assert not cohort.MCINNES_WINDOW.contains(14 * day - dt.timedelta(seconds=1))
    assert cohort.MCINNES_WINDOW.contains(14 * day)


def test_end_of_induction_of_each_course_by_hand() -> None:
    found = {
        name: (result.status, result.outcome, result.observation and result.observation.score)
        for name, result in (
            (name, cohort.end_of_induction(rec)) for name, rec in by_name().items()
        )
    }
    assert found == {
        "A": (E.CLASSIFIED, OC.RESPONSE, 8),
        "B": (E.CLASSIFIED, OC.REMISSION, 3),
        "C": (E.CLASSIFIED, OC.RESPONSE, 10),
        "D": (E.CLASSIFIED, OC.PARTIAL_RESPONSE, 9),
        "E": (E.NOT_COMPLETED, None, None),
        "F": (E.NOT_CLASSIFIABLE, None, None),
        "G": (E.NO_SCORE, None, None),
        "H": (E.CLASSIFIED, OC.REMISSION, 4),
    }


def test_end_of_induction_in_the_mcinnes_window_by_hand() -> None:
    found = {
        name: cohort.end_of_induction(rec, window=cohort.MCINNES_WINDOW).outcome
        for name, rec in by_name().items()
    }
    assert found == {
        "A": OC.RESPONSE,  # day 26, 15 days after: 9
        "B": OC.REMISSION,  # day 25, exactly 14 days: 4
        "C": OC.PARTIAL_RESPONSE,  # day 25: 16, a fall of 8 ≥ 25 % of 24, < 50 %
        "D": OC.RESPONSE,  # day 30: 7
        "E": None,
        "F": None,
        "G": None,
        "H": OC.PARTIAL_RESPONSE,  # day 33: 12, a fall of 8 ≥ 25 % of 20, < 50 %
    }


def test_end_of_induction_responders_and_remitters() -> None:
    results = [cohort.end_of_induction(rec) for rec in cohort_cases.records()]
    classified = [r for r in results if r.status is E.CLASSIFIED]
    assert len(classified) == 5
    assert sum(r.responded for r in results) == 4
    assert sum(r.remitted for r in results) == 2


def test_end_of_induction_without_rules_baseline_or_trajectory() -> None:
    a = by_name()["A"]
    assert cohort.end_of_induction(replace(a, rules=None)).status is E.NO_RULES
    assert cohort.end_of_induction(replace(a, trajectory=None)).status is E.NO_RULES
    assert a.trajectory is not None
    late = replace(a.trajectory, baseline=None, status=outcomes.TrajectoryStatus.NO_BASELINE)
    assert cohort.end_of_induction(replace(a, trajectory=late)).status is E.NO_BASELINE


# --- infusions to response, relapse ---------------------------------------------------------


def test_infusions_to_first_response_by_hand() -> None:
    found = {name: cohort.infusions_to_first_response(rec) for name, rec in by_name().items()}
    assert found == {"A": 2, "B": 3, "C": 6, "D": 6, "E": 2, "F": None, "G": None, "H": 6}
    assert cohort.infusions_to_first_response(replace(by_name()["A"], trajectory=None)) is None


def test_relapse_episodes_censored_at_last_assessment_by_hand() -> None:
    episodes = [cohort.relapse_episode(rec) for rec in cohort_cases.records()]
    assert [(e.course_id, e.days, e.relapsed) for e in episodes if e is not None] == [
        (1, 29.0, True),
        (2, 28.0, False),
        (3, 7.0, True),
        (8, 25.0, False),
    ]


def test_relapse_episodes_censored_at_the_first_booster() -> None:
    episodes = [
        cohort.relapse_episode(rec, censor_at_first_booster=True) for rec in cohort_cases.records()
    ]
    assert [(e.course_id, e.days, e.relapsed) for e in episodes if e is not None] == [
        (1, 29.0, True),  # the booster (day 45) came after the relapse (day 40)
        (2, 28.0, False),
        (3, 7.0, True),
        (8, 19.0, False),  # the booster on day 30
    ]


def test_relapse_episode_ignores_a_relapse_during_induction() -> None:
    # Responds day 2 (10), loses it days 4 and 11 (confirmed), responds again day 12 (8):
    # the trajectory's relapse is in induction; after the end-of-induction response none.
    case = replace(
        cohort_cases.CASES[0], scores=((-1, 20), (3, 10), (4, 14), (11, 15), (12, 8), (30, 9))
    )
    rec = cohort_cases.record(case, 1)
    assert rec.trajectory is not None and rec.trajectory.relapse_at == case.instant(4)
    assert cohort.relapse_episode(rec) == cohort.RelapseEpisode(1, 19.0, relapsed=False)


def test_relapse_episode_days_are_fractional() -> None:
    a = by_name()["A"]
    shifted = tuple(
        outcomes.Observation(o.at + dt.timedelta(hours=12), o.score) if i > 2 else o
        for i, o in enumerate(a.observations)
    )
    episode = cohort.relapse_episode(replace(a, observations=shifted))
    assert episode == cohort.RelapseEpisode(1, 29.5, relapsed=True)


# --- record properties, rates ---------------------------------------------------------------


def test_course_record_induction_and_boosters() -> None:
    a, e = by_name()["A"], by_name()["E"]
    assert a.completed_induction and a.last_induction_at == a.infusions[5]
    assert a.boosters == (a.infusions[6],) and a.first_infusion_at == a.infusions[0]
    assert not e.completed_induction and e.last_induction_at is None and e.boosters == ()
    unstarted = replace(e, infusions=())
    assert unstarted.first_infusion_at is None and not unstarted.completed_induction


def test_no_show_rate_and_adverse_events() -> None:
    recs = cohort_cases.records()
    rate = cohort.no_show_rate(recs)
    assert rate is not None and (rate.successes, rate.n) == (1, 49)
    assert cohort.no_show_rate([replace(r, booked_visits=0) for r in recs]) is None
    assert sum(r.adverse_events.total for r in recs) == 3
    assert sum(r.adverse_events.severe for r in recs) == 1
    assert cohort.per_100(3, sum(len(r.infusions) for r in recs)) == Decimal("6.3")


@pytest.mark.parametrize(
    ("count", "denominator", "expected"),
    [(1, 8, Decimal("12.5")), (0, 5, Decimal("0.0")), (2, 3, Decimal("66.7")), (1, 0, None)],
)
def test_per_100(count: int, denominator: int, expected: Decimal | None) -> None:
    assert cohort.per_100(count, denominator) == expected


@pytest.mark.parametrize(
    ("count", "denominator", "field"), [(-1, 3, "count"), (1, -3, "denominator")]
)
def test_per_100_refuses_negative_counts(count: int, denominator: int, field: str) -> None:
    with pytest.raises(OutOfRange) as refused:
        cohort.per_100(count, denominator)
    assert refused.value.field == field


def test_naive_instants_are_refused() -> None:
    a = by_name()["A"]
    naive = replace(a, infusions=tuple(i.replace(tzinfo=None) for i in a.infusions))
    with pytest.raises(ClinicalValueError) as refused:
        cohort.infusions_to_first_response(naive)
    assert refused.value.field == "at"


# --- Kaplan–Meier ---------------------------------------------------------------------------


def test_kaplan_meier_equals_the_hand_computed_product_limit_table() -> None:
    episodes = [e for e in map(cohort.relapse_episode, cohort_cases.records()) if e is not None]
    curve = cohort.kaplan_meier(episodes)
    assert curve is not None
    # days, at risk, events, censored, S(t) by hand: S(7) = 1 · (1 − 1/4) = 0.75, then the
    # two censored courses leave, S(29) = 0.75 · (1 − 1/1) = 0.
    assert [
        (s.days, s.at_risk, s.events, s.censored, round(s.survival, 4)) for s in curve.steps
    ] == [
        (7.0, 4, 1, 0, 0.75),
        (25.0, 3, 0, 1, 0.75),
        (28.0, 2, 0, 1, 0.75),
        (29.0, 1, 1, 0, 0.0),
    ]
    # Greenwood on the log(−log) scale at 7 days, by hand: var = 1/(4·3); se = √var / |ln 0.75|
    # = 1.0034; bounds 0.75^exp(±1.96·1.0034) = 0.75^7.1468, 0.75^0.1399.
    se = math.sqrt(1 / 12) / abs(math.log(0.75))
    low, high = 0.75 ** math.exp(cohort.Z_95 * se), 0.75 ** math.exp(-cohort.Z_95 * se)
    assert (round(low, 4), round(high, 4)) == (0.1279, 0.9605)
    assert (curve.steps[0].low, curve.steps[0].high) == pytest.approx((low, high), abs=1e-9)
    assert (curve.n, curve.events) == (4, 2)
    assert (curve.median_days, curve.median_low, curve.median_high) == (29.0, 7.0, 29.0)
    assert (curve.survival_at(6.9), curve.survival_at(7), curve.survival_at(30)) == (
        1.0,
        pytest.approx(0.75),
        0.0,
    )


def test_kaplan_meier_median_not_reached() -> None:
    episodes = [
        cohort.RelapseEpisode(1, 10.0, True),
        *(cohort.RelapseEpisode(n, 40.0, False) for n in range(2, 6)),
    ]
    curve = cohort.kaplan_meier(episodes)
    assert curve is not None
    assert curve.median_days is None and curve.median_high is None
    assert [s.survival for s in curve.steps] == [pytest.approx(0.8), pytest.approx(0.8)]


def test_kaplan_meier_keeps_an_event_at_time_zero_and_no_episode_is_none() -> None:
    curve = cohort.kaplan_meier(
        [cohort.RelapseEpisode(1, 0.0, True), cohort.RelapseEpisode(2, 3.0, False)]
    )
    assert curve is not None and curve.steps[0].days == 0.0 and curve.steps[0].events == 1
    assert cohort.kaplan_meier([]) is None
