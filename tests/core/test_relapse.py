import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pytest

from sustain_core import relapse
from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.outcomes import Observation
from sustain_core.relapse import CourseHistory, Episode, RelapseModel

pytestmark = pytest.mark.core

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=UTC)
DAY = dt.timedelta(days=1)


def course(
    course_id: int,
    start: dt.datetime,
    *,
    relapse_days: float | None,
    slope_points: float = 0.0,
    every_days: float = 7.0,
    until: dt.datetime = NOW,
    boosters: tuple[float, ...] = (),
    baseline: int = 20,
) -> CourseHistory:
    """A responder whose induction ended at ``start``: baseline 20 before it, scores every
    ``every_days`` after it rising ``slope_points`` a week from 8, a relapse observation at
    ``relapse_days`` (confirmed 7 days later) and observations up to ``until``."""
    induction = tuple(start - DAY * (2 * k) for k in (5, 4, 3, 2, 1, 0))
    observations = [Observation(start - DAY * 11, baseline), Observation(start - DAY / 2, 8)]
    end = until if relapse_days is None else min(until, start + DAY * relapse_days)
    k = 1
    while start + DAY * (every_days * k) < end:
        at = start + DAY * (every_days * k)
        observations.append(
            Observation(at, Decimal(str(round(8 + slope_points * every_days * k / 7, 2))))
        )
        k += 1
    relapse_at = None
    if relapse_days is not None and start + DAY * relapse_days <= until:
        relapse_at = start + DAY * relapse_days
        observations.append(Observation(relapse_at, 19))
        if relapse_at + 7 * DAY <= until:
            observations.append(Observation(relapse_at + 7 * DAY, 19))
    return CourseHistory(
        course_id=course_id,
        patient_id=course_id,
        infusions=induction + tuple(start + DAY * b for b in boosters),
        induction_count=6,
        observations=tuple(sorted(observations, key=lambda o: o.at)),
        baseline_score=baseline,
        first_response_at=start - DAY / 2,
        relapse_at=relapse_at,
    )


def model(shape: float = 1.5, scale: float = 30.0, coefficient: float = 0.0) -> RelapseModel:
    return RelapseModel(
        shape=shape,
        log_scale_intercept=math.log(scale),
        slope_coefficient=coefficient,
        clinic_episodes=0,
        clinic_relapses=0,
        prior_patients=0.0,
        prior_weight=0.0,
    )


# Episodes ------------------------------------------------------------------------------------


def test_a_responder_who_relapses_has_one_episode_to_the_relapse():
    start = NOW - 100 * DAY
    history = course(1, start, relapse_days=30, slope_points=1.4)
    (episode,) = relapse.episodes(history, now=NOW)
    assert episode == Episode(
        course_id=1,
        patient_id=1,
        start=start,
        days=30.0,
        relapsed=True,
        slope=pytest.approx(1.4 / 20),  # scores on days 7..28 rise 1.4 a week; baseline 20
    )


def test_a_booster_censors_the_episode_before_it_and_starts_a_new_one():
    start = NOW - 100 * DAY
    history = course(2, start, relapse_days=60, boosters=(21,))
    first, second = relapse.episodes(history, now=NOW)
    assert (first.start, first.days, first.relapsed) == (start, 21.0, False)
    assert (second.start, second.days, second.relapsed) == (start + 21 * DAY, 39.0, True)


def test_without_relapse_the_episode_is_censored_at_the_last_assessment():
    start = NOW - 30 * DAY
    (episode,) = relapse.episodes(course(3, start, relapse_days=None), now=NOW)
    assert (episode.days, episode.relapsed, episode.slope) == (28.0, False, 0.0)


def test_what_was_not_known_at_the_cutoff_does_not_count():
    start = NOW - 100 * DAY
    history = course(4, start, relapse_days=30)
    # Before the confirming observation (relapse + 7 days), the relapse is not known yet.
    (episode,) = relapse.episodes(history, now=start + 33 * DAY)
    assert (episode.days, episode.relapsed) == (30.0, False)
    (episode,) = relapse.episodes(history, now=start + 37 * DAY)
    assert (episode.days, episode.relapsed) == (30.0, True)
    # Before the end of induction: no episode; before any assessment after it: none either.
    assert relapse.episodes(history, now=start - DAY) == ()
    assert relapse.episodes(history, now=start + DAY) == ()


def test_no_episode_for_a_non_responder_or_after_a_relapse():
    start = NOW - 100 * DAY
    history = course(5, start, relapse_days=30, boosters=(40,))
    assert [e.start for e in relapse.episodes(history, now=NOW)] == [start]
    non_responder = CourseHistory(**{**history.__dict__, "first_response_at": None})
    assert relapse.episodes(non_responder, now=NOW) == ()
    assert relapse.open_episode(non_responder, now=NOW) is None
    no_induction = CourseHistory(**{**history.__dict__, "induction_count": 0})
    assert relapse.episodes(no_induction, now=NOW) == ()


def test_an_unconfirmed_relapse_after_now_or_without_confirmation_is_not_known():
    start = NOW - 100 * DAY
    history = course(6, start, relapse_days=30)
    unconfirmed = CourseHistory(**{**history.__dict__, "observations": history.observations[:-1]})
    assert relapse.episodes(unconfirmed, now=NOW)[0].relapsed is False


def test_the_open_episode_is_from_the_last_infusion():
    start = NOW - 40 * DAY
    history = course(7, start, relapse_days=None, boosters=(20,), every_days=2, slope_points=0.7)
    current = relapse.open_episode(history, now=NOW)
    assert current is not None
    assert (current.start, current.days) == (start + 20 * DAY, 20.0)
    assert current.slope == pytest.approx(0.7 / 20)
    assert relapse.open_episode(course(8, start, relapse_days=10), now=NOW) is None


def test_slope_is_zero_with_too_few_scores_or_no_baseline():
    one = [Observation(NOW, 5)]
    same = [Observation(NOW, 5), Observation(NOW, 7)]
    two = [Observation(NOW, 5), Observation(NOW + 7 * DAY, 7)]
    assert relapse.slope_per_week(one, baseline_score=20) == 0.0
    assert relapse.slope_per_week(same, baseline_score=20) == 0.0
    assert relapse.slope_per_week(two, baseline_score=None) == 0.0
    assert relapse.slope_per_week(two, baseline_score=0) == 0.0
    assert relapse.slope_per_week(two, baseline_score=Decimal(20)) == pytest.approx(0.1)


def test_bad_instants_and_confirmation_days_are_refused_in_plain_words():
    history = course(9, NOW - 50 * DAY, relapse_days=None)
    with pytest.raises(ClinicalValueError, match="now must be an aware instant"):
        relapse.episodes(history, now=dt.datetime(2026, 1, 1))  # noqa: DTZ001
    for bad in (-1, 1.5, True):
        with pytest.raises(OutOfRange, match="whole number, 0 or more"):
            CourseHistory(**{**history.__dict__, "confirmation_days": bad})


# The prior -----------------------------------------------------------------------------------


def test_the_prior_follows_its_sources():
    murrough, shiroma, ketect, mcinnes = relapse.PRIOR_SOURCES
    # Exponential through Murrough's median of 18 days.
    assert math.exp(-((18 / murrough.scale) ** murrough.shape)) == pytest.approx(0.5)
    drawn = relapse.pseudo_episodes(shiroma)
    assert sum(1 for _, r in drawn if r) == 6 and len(drawn) == 11
    assert np.mean([t for t, r in drawn if r]) == pytest.approx(16)
    for source, points in ((ketect, ((57, 0.5), (365, 0.3))), (mcinnes, ((28, 0.8), (56, 0.6)))):
        for t, s in points:
            assert math.exp(-((t / source.scale) ** source.shape)) == pytest.approx(s)
    drawn = relapse.pseudo_episodes(mcinnes)
    assert len(drawn) == relapse.PSEUDO_EPISODES_PER_CURVE
    assert [r for _, r in drawn].count(False) == 12  # 60 % still in response at 56 days
    assert relapse.pseudo_episodes(mcinnes) == drawn  # deterministic


def test_prior_weight_shrinks_with_the_clinics_relapses():
    assert relapse.prior_weight(20, 0) == 20
    assert relapse.prior_weight(20, 20) == 10
    assert relapse.prior_weight(20, 180) == 2
    assert relapse.prior_weight(0, 5) == 0


# Fitting -------------------------------------------------------------------------------------


def synthetic(n: int, shape: float, scale: float, seed: int, offset: int = 0) -> list[Episode]:
    rng = np.random.default_rng(seed)
    times = scale * rng.weibull(shape, n)
    return [
        Episode(
            course_id=offset + i,
            patient_id=offset + i,
            start=NOW,
            days=float(min(t, 120.0)),
            relapsed=bool(t < 120.0),
            slope=0.0,
        )
        for i, t in enumerate(times)
    ]


def test_the_fit_recovers_shape_and_scale_of_synthetic_weibull_data():
    fitted = relapse.fit(synthetic(3000, 1.5, 30.0, seed=1), prior_patients=0)
    assert fitted.shape == pytest.approx(1.5, rel=0.05)
    assert fitted.scale(0.0) == pytest.approx(30.0, rel=0.05)
    assert (fitted.prior_weight, fitted.slope_coefficient) == (0.0, 0.0)
    assert fitted.clinic_episodes == 3000
    assert fitted.clinic_relapses == 2999  # one drawn time is past 120 days: censored


def test_the_fit_recovers_a_covariate():
    rng = np.random.default_rng(2)
    slopes = rng.uniform(-0.2, 0.2, 3000)
    times = np.exp(math.log(30.0) - 5.0 * slopes) * rng.weibull(1.5, 3000)
    clinic = [
        Episode(course_id=i, patient_id=i, start=NOW, days=float(t), relapsed=True, slope=float(s))
        for i, (t, s) in enumerate(zip(times, slopes, strict=True))
    ]
    fitted = relapse.fit(clinic, prior_patients=0)
    assert fitted.slope_coefficient == pytest.approx(-5.0, rel=0.1)


def test_with_no_clinic_relapses_the_model_is_the_priors():
    prior_only = relapse.fit([], prior_patients=20)
    assert prior_only.prior_weight == 20
    assert (prior_only.clinic_episodes, prior_only.clinic_relapses) == (0, 0)
    # Weighting does not change a fit on the prior alone: same model at any size.
    assert relapse.fit([], prior_patients=5).median_days() == pytest.approx(
        prior_only.median_days(), rel=1e-4
    )
    # Between the sources' medians (Shiroma ~16–28, Murrough 18, McInnes ~78, KetECT 57).
    assert 18 < prior_only.median_days() < 60
    assert relapse.fit([], prior_patients=20) == prior_only  # deterministic


def test_with_many_clinic_relapses_the_model_follows_the_clinic():
    clinic = synthetic(500, 2.0, 100.0, seed=3)
    fitted = relapse.fit(clinic, prior_patients=20)
    assert fitted.prior_weight == pytest.approx(20 * 20 / (20 + fitted.clinic_relapses))
    assert fitted.median_days() == pytest.approx(100 * math.log(2) ** 0.5, rel=0.08)
    few = relapse.fit(clinic[:3], prior_patients=20)
    assert abs(few.median_days() - relapse.fit([], prior_patients=20).median_days()) < abs(
        few.median_days() - fitted.median_days()
    )


def test_the_fit_refuses_bad_prior_sizes_and_nothing_to_fit():
    for bad in (-1, 1001, "20", True):
        with pytest.raises(OutOfRange, match="from 0 to 1000"):
            relapse.fit([], prior_patients=bad)
    censored = [Episode(course_id=1, patient_id=1, start=NOW, days=5.0, relapsed=False, slope=0)]
    with pytest.raises(OutOfRange, match="at least one relapse"):
        relapse.fit(censored, prior_patients=0)


def test_a_model_round_trips_through_plain_values():
    fitted = relapse.fit(synthetic(50, 1.5, 30.0, seed=4), prior_patients=20)
    assert RelapseModel.from_dict(fitted.as_dict()) == fitted


# Prediction ----------------------------------------------------------------------------------


def test_conditional_risk_by_hand():
    m = model(shape=2.0, scale=20.0)
    # S(t) = exp(-(t/20)^2): S(10) = e^-0.25, S(24) = e^-1.44; 1 - S(24)/S(10) = 1 - e^-1.19.
    assert relapse.risk_within(m, days=10, horizon_days=14, slope=0.0) == pytest.approx(
        1 - math.exp(-1.19)
    )
    assert relapse.risk_within(m, days=0, horizon_days=0, slope=0.0) == 0.0
    # A covariate scales λ: coefficient -10 and slope 0.1 give λ = 20 / e.
    c = model(shape=1.0, scale=20.0, coefficient=-10.0)
    assert relapse.risk_within(c, days=3, horizon_days=7, slope=0.1) == pytest.approx(
        1 - math.exp(-7 * math.e / 20)
    )
    assert m.survival(-1.0, 0.0) == 1.0
    for field, kwargs in (("days", {"days": -1}), ("horizon_days", {"horizon_days": "7"})):
        with pytest.raises(OutOfRange, match=field):
            relapse.risk_within(m, **{"days": 1, "horizon_days": 7, "slope": 0.0, **kwargs})


def test_booster_day_by_hand():
    m = model(shape=1.0, scale=50.0)
    # Exponential: memoryless, so d* = t - 50 ln(0.8) = t + 11.157: the last day before is t + 11.
    assert relapse.booster_day(m, days=10, slope=0.0, threshold_percent=20) == 21
    w = model(shape=2.0, scale=20.0)
    # d* = 20 * sqrt((10/20)^2 - ln 0.8) = 20 * sqrt(0.4731) = 13.757: day 13.
    assert relapse.booster_day(w, days=10, slope=0.0, threshold_percent=20) == 13
    # Risk at that day is below the threshold, the next day above it.
    assert (
        1 - w.survival(13, 0) / w.survival(10, 0) < 0.2 < 1 - w.survival(14, 0) / w.survival(10, 0)
    )
    # A crossing within today gives today.
    # Hazard at day 100 is 2·100/20² = 0.5 a day: 20 % is reached within half a day.
    assert relapse.booster_day(w, days=100.5, slope=0.0, threshold_percent=20) == 100
    for bad in (0, 100, 20.0, True):
        with pytest.raises(OutOfRange, match="whole percent from 1 to 99"):
            relapse.booster_day(w, days=1, slope=0.0, threshold_percent=bad)


def test_a_lower_threshold_brings_the_booster_forward():
    m = model(shape=1.5, scale=40.0)
    days = [relapse.booster_day(m, days=7, slope=0.0, threshold_percent=p) for p in (10, 20, 40)]
    assert days == sorted(days) and days[0] < days[-1]


# Backtest ------------------------------------------------------------------------------------


def cohort(n: int, seed: int, *, strong: bool) -> list[CourseHistory]:
    """Patients starting over the year before NOW. strong: half worsen 2 points a week and
    relapse fast (Weibull shape 3, scale 20 days), half stay flat and relapse slowly (scale
    300); otherwise everyone relapses at exponential mean 40 days (memoryless, so the time
    since the infusion tells nothing either) and the slope is noise."""
    rng = np.random.default_rng(seed)
    histories = []
    for i in range(n):
        start = NOW - DAY * float(rng.uniform(20, 365))
        if strong:
            fast = i % 2 == 0
            points, scale = (2.0, 20.0) if fast else (0.0, 300.0)
            days = scale * float(rng.weibull(3.0))
        else:
            points, days = float(rng.uniform(0, 2)), float(rng.exponential(40.0))
        histories.append(course(i, start, relapse_days=days, slope_points=points, every_days=2))
    return histories


def test_backtest_concordance_is_about_half_on_noise():
    result = relapse.backtest(cohort(300, 5, strong=False), now=NOW, horizon_days=14)
    assert result.n >= relapse.MIN_BACKTEST_N and result.events >= relapse.MIN_BACKTEST_EVENTS
    assert result.concordance == pytest.approx(0.5, abs=0.1)
    assert result.enough


def test_backtest_concordance_is_high_on_a_strong_covariate():
    result = relapse.backtest(cohort(300, 6, strong=True), now=NOW, horizon_days=14)
    assert result.concordance is not None and result.concordance > 0.75
    assert result.brier is not None and 0 <= result.brier < 0.25
    assert sum(g.n for g in result.calibration) == result.n
    assert result.events == round(sum(g.observed * g.n for g in result.calibration))
    high = result.calibration[-1]
    assert high.observed > result.calibration[0].observed
    stored = result.as_dict()
    assert stored["n"] == result.n and stored["enough"] is True
    assert len(stored["cutoffs"]) == 6


def test_backtest_by_hand_on_two_patients():
    # Cutoff = NOW - 14 days (one cutoff). Patient 0 relapses 5 days after it; patient 1 is
    # followed past the window; patient 2 stops being assessed inside it (unknown: left out).
    cutoff = NOW - 14 * DAY
    histories = [
        course(0, cutoff - 20 * DAY, relapse_days=25),
        # Assessed every 2 days up to NOW (= cutoff + 14 days): followed through the window.
        course(1, cutoff - 20 * DAY, relapse_days=None, every_days=2, until=NOW + DAY),
        course(2, cutoff - 20 * DAY, relapse_days=None, until=cutoff + 3 * DAY),
        # A booster the day before the cutoff and no assessment after it: unknown, left out.
        course(3, cutoff - 20 * DAY, relapse_days=None, boosters=(19,), until=cutoff - 1.5 * DAY),
    ]
    result = relapse.backtest(histories, now=NOW, horizon_days=14, cutoffs=1)
    assert (result.n, result.events, result.cutoffs) == (2, 1, (cutoff,))
    known = [e for h in histories for e in relapse.episodes(h, now=cutoff)]
    assert [(e.days, e.relapsed) for e in known] == [
        (14.0, False),
        (20.0, False),
        (14.0, False),
        (19.0, False),
    ]
    at_cutoff = relapse.fit(known, prior_patients=20)
    predicted = relapse.risk_within(at_cutoff, days=20, horizon_days=14, slope=0.0)
    assert result.brier == pytest.approx(((predicted - 1) ** 2 + predicted**2) / 2)
    assert result.concordance == 0.5  # equal predictions: a tie
    assert not result.enough


def test_backtest_with_nothing_to_check():
    result = relapse.backtest([], now=NOW, horizon_days=14, prior_patients=0)
    assert (result.n, result.events, result.concordance, result.brier) == (0, 0, None, None)
    assert result.calibration == ()
    # Checked predictions but no relapse among them: no pair to compare.
    quiet = [
        course(i, NOW - 40 * DAY, relapse_days=None, every_days=2, until=NOW + DAY)
        for i in range(3)
    ]
    result = relapse.backtest(quiet, now=NOW, horizon_days=14, cutoffs=1)
    assert (result.n, result.events, result.concordance) == (3, 0, None)


def test_backtest_refuses_bad_settings():
    for field, kwargs in (
        ("horizon_days", {"horizon_days": 0}),
        ("cutoffs", {"cutoffs": 53}),
        ("step_days", {"step_days": 1.5}),
    ):
        with pytest.raises(OutOfRange, match=field):
            relapse.backtest([], now=NOW, **{"horizon_days": 14, **kwargs})


def test_only_responding_observations_count_and_a_seen_loss_ends_the_forecast():
    start = NOW - 40 * DAY
    history = course(10, start, relapse_days=None, every_days=7)
    # Days 7..35 respond; mark the last (day 35) as a loss of response not yet confirmed.
    flags = tuple(o.at <= start + 28 * DAY for o in history.observations)
    losing = CourseHistory(**{**history.__dict__, "responding": flags})
    (episode,) = relapse.episodes(losing, now=NOW)
    assert (episode.days, episode.relapsed) == (28.0, False)  # in response until day 28
    assert relapse.open_episode(losing, now=NOW) is None  # reassess, not forecast
    assert relapse.open_episode(losing, now=start + 30 * DAY) is not None
    # No observation after the infusion yet: still forecast (risk from the infusion).
    assert relapse.open_episode(losing, now=start + DAY) is not None
    with pytest.raises(ClinicalValueError, match="for each observation"):
        CourseHistory(**{**history.__dict__, "responding": (True,)})
