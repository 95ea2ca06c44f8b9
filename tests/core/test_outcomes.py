import datetime as dt
from dataclasses import replace
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.instruments import INSTRUMENTS
from sustain_core.outcomes import (
    DEFAULT_RULES,
    Comparison,
    Observation,
    Outcome,
    OutcomeRules,
    Trajectory,
    TrajectoryStatus,
    assess_trajectory,
    baseline,
    classify,
    classify_phq9_outcome,
    meaningful_change,
    percent_change,
    rules_for,
    score_percent_change,
    worsenings,
)

pytestmark = pytest.mark.core

UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
D = Decimal

# A 12-day Monday–Wednesday–Friday induction of 6 infusions at 10:00 [Murrough2013]
# [Shiroma2014]: days 0, 2, 4, 7, 9 and 11. Questionnaires are filled in at 12:00, after the
# day's infusion; the baseline is taken at the screening visit on day -3.
FIRST_INFUSION = dt.datetime(2026, 1, 5, 10, tzinfo=UTC)  # a Monday
LAST_INDUCTION_INFUSION = FIRST_INFUSION + dt.timedelta(days=11)


def day(n: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return FIRST_INFUSION + dt.timedelta(days=n, hours=hour - 10, minutes=minute)


def obs(n: int, score: int | Decimal, hour: int = 12, minute: int = 0) -> Observation:
    return Observation(at=day(n, hour, minute), score=score)


# --- the existing PHQ-9 functions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline_total", "current", "expected"),
    [
        pytest.param(20, 10, Outcome.RESPONSE, id="20-to-10-response-at-exactly-50pct"),
        pytest.param(20, 11, Outcome.NO_RESPONSE, id="20-to-11-no-response"),
        pytest.param(20, 4, Outcome.REMISSION, id="20-to-4-remission"),
        pytest.param(20, 5, Outcome.RESPONSE, id="20-to-5-response-not-remission"),
        pytest.param(21, 10, Outcome.RESPONSE, id="21-to-10-response"),
        pytest.param(21, 11, Outcome.NO_RESPONSE, id="21-to-11-under-50pct"),
        pytest.param(9, 4, Outcome.REMISSION, id="9-to-4-remission-over-response"),
        pytest.param(5, 0, Outcome.REMISSION, id="baseline-5-classifiable"),
        pytest.param(20, 27, Outcome.NO_RESPONSE, id="worse"),
        pytest.param(3, 0, Outcome.NOT_CLASSIFIABLE, id="baseline-3-not-classifiable"),
        pytest.param(4, 20, Outcome.NOT_CLASSIFIABLE, id="baseline-4-not-classifiable"),
    ],
)
def test_classify_phq9_outcome_table(baseline_total: int, current: int, expected: Outcome) -> None:
    assert classify_phq9_outcome(baseline_total=baseline_total, current_total=current) is expected


@pytest.mark.parametrize("baseline_total", range(28))
def test_classify_phq9_outcome_matches_generic_rules(baseline_total: int) -> None:
    rules = DEFAULT_RULES["phq9"]

    results = [
        classify_phq9_outcome(baseline_total=baseline_total, current_total=current)
        for current in range(28)
    ]

    assert results == [
        classify(rules, baseline_score=baseline_total, current_score=current)
        for current in range(28)
    ]


_OUT_OF_RANGE = [
    pytest.param(-1, 10, "baseline_total", "PHQ-9 total must be an integer 0–27; got -1", id="neg"),
    pytest.param(28, 10, "baseline_total", "PHQ-9 total must be an integer 0–27; got 28", id="28"),
    pytest.param(20, 28, "current_total", "PHQ-9 total must be an integer 0–27; got 28", id="c28"),
    pytest.param(
        20, True, "current_total", "PHQ-9 total must be an integer 0–27; got True", id="b"
    ),
    pytest.param(
        20.0, 10, "baseline_total", "PHQ-9 total must be an integer 0–27; got 20.0", id="f"
    ),
]


@pytest.mark.parametrize(("baseline_total", "current", "field", "message"), _OUT_OF_RANGE)
def test_classify_phq9_outcome_out_of_range_rejected(
    baseline_total: int, current: int, field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        classify_phq9_outcome(baseline_total=baseline_total, current_total=current)

    assert (raised.value.field, raised.value.message) == (field, message)


@pytest.mark.parametrize(("baseline_total", "current", "field", "message"), _OUT_OF_RANGE)
def test_percent_change_out_of_range_rejected(
    baseline_total: int, current: int, field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        percent_change(baseline_total=baseline_total, current_total=current)

    assert (raised.value.field, raised.value.message) == (field, message)


@pytest.mark.parametrize(
    ("baseline_total", "current", "expected"),
    [
        pytest.param(20, 10, Decimal("-50.0"), id="halved"),
        pytest.param(20, 20, Decimal("0.0"), id="unchanged"),
        pytest.param(3, 2, Decimal("-33.3"), id="thirds-round-down"),
        pytest.param(6, 5, Decimal("-16.7"), id="sixths-round-up"),
        pytest.param(16, 15, Decimal("-6.3"), id="half-rounds-away-from-zero-negative"),
        pytest.param(16, 17, Decimal("6.3"), id="half-rounds-away-from-zero-positive"),
        pytest.param(1, 27, Decimal("2600.0"), id="large-increase"),
        pytest.param(0, 5, None, id="baseline-0-undefined"),
    ],
)
def test_percent_change_table(baseline_total: int, current: int, expected: Decimal | None) -> None:
    assert percent_change(baseline_total=baseline_total, current_total=current) == expected


def test_percent_change_keeps_one_decimal_place() -> None:
    assert str(percent_change(baseline_total=20, current_total=10)) == "-50.0"


# --- default rules ---------------------------------------------------------------------------


def test_default_rules_cover_every_instrument() -> None:
    assert list(DEFAULT_RULES) == [
        "phq9",
        "gad7",
        "pcl5",
        "qids_sr16",
        "madrs",
        "pain_nrs",
        "bpi_sf",
        "fiqr",
    ]


@pytest.mark.parametrize(
    ("instrument", "expected", "cited"),
    [
        pytest.param("phq9", (4, D("0.5"), 5, None, 5), "[McInnes2022]", id="phq9"),
        pytest.param("gad7", (4, D("0.5"), 4, None, 0), "[Toussaint2020]", id="gad7"),
        pytest.param("pcl5", (None, D("0.5"), 10, None, 0), "[PCL5-qxmd]", id="pcl5"),
        pytest.param("qids_sr16", (5, D("0.5"), None, None, 0), "[QIDS-hiboop]", id="qids"),
        pytest.param("madrs", (9, D("0.5"), None, None, 0), "[Hawley2002]", id="madrs"),
        pytest.param("pain_nrs", (None, D("0.5"), 2, D("0.3"), 0), "[Farrar2001]", id="nrs"),
        pytest.param("bpi_sf", (None, D("0.5"), None, D("0.3"), 0), "[ePPOC-BPI]", id="bpi"),
        pytest.param("fiqr", (None, D("0.5"), None, None, 0), "(unconfirmed", id="fiqr"),
    ],
)
def test_default_rules_table(
    instrument: str,
    expected: tuple[int | None, Decimal, int | None, Decimal | None, int],
    cited: str,
) -> None:
    rules = DEFAULT_RULES[instrument]

    actual = (
        rules.remission_max,
        rules.response_fraction,
        rules.meaningful_change,
        rules.meaningful_change_fraction,
        rules.classifiable_min,
    )

    assert (rules.instrument, actual, cited in rules.citation) == (instrument, expected, True)


def test_default_rules_are_read_only() -> None:
    with pytest.raises(TypeError):
        DEFAULT_RULES["phq9"] = DEFAULT_RULES["gad7"]  # type: ignore[index]


def test_rules_for_without_override_returns_the_default() -> None:
    assert rules_for("madrs") is DEFAULT_RULES["madrs"]


def test_rules_for_ketect_remission_threshold() -> None:
    rules = rules_for("madrs", remission_max=10)

    assert rules == replace(
        DEFAULT_RULES["madrs"],
        remission_max=10,
        citation=DEFAULT_RULES["madrs"].citation + "; remission ≤ 10 set by the protocol",
    )


def test_rules_for_can_remove_remission() -> None:
    rules = rules_for("qids_sr16", remission_max=None)

    assert (
        rules.remission_max,
        rules.citation.endswith("; no remission threshold set by the protocol"),
        classify(rules, baseline_score=20, current_score=0),
    ) == (None, True, Outcome.RESPONSE)


def test_rules_for_unknown_instrument_rejected() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        rules_for("hamd17")

    assert (raised.value.field, raised.value.message) == (
        "instrument",
        "unknown instrument 'hamd17'; known: phq9, gad7, pcl5, qids_sr16, madrs, pain_nrs, "
        "bpi_sf, fiqr",
    )


def test_rules_for_negative_remission_rejected() -> None:
    with pytest.raises(OutOfRange) as raised:
        rules_for("madrs", remission_max=-1)

    assert (raised.value.field, raised.value.message) == (
        "remission_max",
        "remission_max must be 0 or more; got -1",
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            {"remission_max": 4.0},
            "remission_max",
            "remission_max must be an int or a Decimal; got 4.0",
            id="float-remission",
        ),
        pytest.param(
            {"response_fraction": D("0")},
            "response_fraction",
            "response_fraction must be a Decimal above 0 and at most 1; got Decimal('0')",
            id="zero-fraction",
        ),
        pytest.param(
            {"response_fraction": D("1.01")},
            "response_fraction",
            "response_fraction must be a Decimal above 0 and at most 1; got Decimal('1.01')",
            id="fraction-above-1",
        ),
        pytest.param(
            {"response_fraction": 0.5},
            "response_fraction",
            "response_fraction must be a Decimal above 0 and at most 1; got 0.5",
            id="float-fraction",
        ),
        pytest.param(
            {"response_fraction": D("NaN")},
            "response_fraction",
            "response_fraction must be a Decimal above 0 and at most 1; got Decimal('NaN')",
            id="nan-fraction",
        ),
        pytest.param(
            {"meaningful_change": 0},
            "meaningful_change",
            "meaningful_change must be above 0; got 0",
            id="zero-mcid",
        ),
        pytest.param(
            {"meaningful_change": -2},
            "meaningful_change",
            "meaningful_change must be 0 or more; got -2",
            id="negative-mcid",
        ),
        pytest.param(
            {"meaningful_change_fraction": D("0")},
            "meaningful_change_fraction",
            "meaningful_change_fraction must be a Decimal above 0 and at most 1; got Decimal('0')",
            id="zero-mcid-fraction",
        ),
        pytest.param(
            {"classifiable_min": -1},
            "classifiable_min",
            "classifiable_min must be 0 or more; got -1",
            id="negative-classifiable-min",
        ),
        pytest.param(
            {"partial_response_fraction": D("0")},
            "partial_response_fraction",
            "partial_response_fraction must be a Decimal above 0 and at most 1; got Decimal('0')",
            id="zero-partial-fraction",
        ),
        pytest.param(
            {"partial_response_fraction": D("0.5")},
            "partial_response_fraction",
            "partial_response_fraction must be below the response fraction 0.5; got 0.5",
            id="partial-at-the-response-fraction",
        ),
    ],
)
def test_outcome_rules_invalid_rejected(
    changes: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        replace(DEFAULT_RULES["pain_nrs"], **changes)  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.message) == (field, message)


# --- classify: every instrument's defaults ---------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "baseline_score", "current", "expected"),
    [
        # PHQ-9: ≥ 50 % [McInnes2022], remission < 5, classifiable from 5 [Kroenke2001].
        pytest.param(DEFAULT_RULES["phq9"], 20, 10, Outcome.RESPONSE, id="phq9-exactly-50pct"),
        pytest.param(DEFAULT_RULES["phq9"], 20, 11, Outcome.NO_RESPONSE, id="phq9-45pct"),
        pytest.param(DEFAULT_RULES["phq9"], 20, 4, Outcome.REMISSION, id="phq9-remission-4"),
        pytest.param(DEFAULT_RULES["phq9"], 20, 5, Outcome.RESPONSE, id="phq9-5-not-remission"),
        pytest.param(DEFAULT_RULES["phq9"], 4, 0, Outcome.NOT_CLASSIFIABLE, id="phq9-baseline-4"),
        # GAD-7: remission < 5 [Spitzer2006], MCID 4 [Toussaint2020].
        pytest.param(DEFAULT_RULES["gad7"], 15, 7, Outcome.RESPONSE, id="gad7-53pct"),
        pytest.param(DEFAULT_RULES["gad7"], 16, 8, Outcome.RESPONSE, id="gad7-exactly-50pct"),
        pytest.param(DEFAULT_RULES["gad7"], 16, 9, Outcome.NO_RESPONSE, id="gad7-44pct"),
        pytest.param(DEFAULT_RULES["gad7"], 16, 4, Outcome.REMISSION, id="gad7-remission-4"),
        pytest.param(DEFAULT_RULES["gad7"], 9, 5, Outcome.NO_RESPONSE, id="gad7-5-not-remission"),
        pytest.param(DEFAULT_RULES["gad7"], 5, 4, Outcome.REMISSION, id="gad7-baseline-5"),
        pytest.param(DEFAULT_RULES["gad7"], 4, 0, Outcome.NOT_CLASSIFIABLE, id="gad7-baseline-4"),
        # PCL-5: no remission threshold, so even 0 is a response.
        pytest.param(DEFAULT_RULES["pcl5"], 60, 30, Outcome.RESPONSE, id="pcl5-exactly-50pct"),
        pytest.param(DEFAULT_RULES["pcl5"], 60, 31, Outcome.NO_RESPONSE, id="pcl5-48pct"),
        pytest.param(DEFAULT_RULES["pcl5"], 60, 0, Outcome.RESPONSE, id="pcl5-0-no-remission"),
        pytest.param(DEFAULT_RULES["pcl5"], 0, 0, Outcome.NOT_CLASSIFIABLE, id="pcl5-baseline-0"),
        # QIDS-SR16: remission ≤ 5 [QIDS-hiboop].
        pytest.param(DEFAULT_RULES["qids_sr16"], 20, 10, Outcome.RESPONSE, id="qids-50pct"),
        pytest.param(DEFAULT_RULES["qids_sr16"], 20, 11, Outcome.NO_RESPONSE, id="qids-45pct"),
        pytest.param(DEFAULT_RULES["qids_sr16"], 20, 5, Outcome.REMISSION, id="qids-remission-5"),
        pytest.param(DEFAULT_RULES["qids_sr16"], 20, 6, Outcome.RESPONSE, id="qids-6-response"),
        pytest.param(DEFAULT_RULES["qids_sr16"], 6, 5, Outcome.REMISSION, id="qids-baseline-6"),
        pytest.param(
            DEFAULT_RULES["qids_sr16"], 5, 0, Outcome.NOT_CLASSIFIABLE, id="qids-baseline-5"
        ),
        # MADRS: response ≥ 50 % [Murrough2013-avyia]; remission ≤ 9 [Hawley2002].
        pytest.param(DEFAULT_RULES["madrs"], 30, 15, Outcome.RESPONSE, id="madrs-50pct"),
        pytest.param(DEFAULT_RULES["madrs"], 30, 16, Outcome.NO_RESPONSE, id="madrs-47pct"),
        pytest.param(DEFAULT_RULES["madrs"], 30, 9, Outcome.REMISSION, id="madrs-remission-9"),
        pytest.param(DEFAULT_RULES["madrs"], 30, 10, Outcome.RESPONSE, id="madrs-10-response"),
        pytest.param(DEFAULT_RULES["madrs"], 10, 9, Outcome.REMISSION, id="madrs-baseline-10"),
        pytest.param(DEFAULT_RULES["madrs"], 9, 0, Outcome.NOT_CLASSIFIABLE, id="madrs-baseline-9"),
        # MADRS with KetECT's remission ≤ 10 [Ekstrand2022].
        pytest.param(rules_for("madrs", remission_max=10), 30, 10, Outcome.REMISSION, id="ket-10"),
        pytest.param(rules_for("madrs", remission_max=10), 30, 11, Outcome.RESPONSE, id="ket-11"),
        pytest.param(
            rules_for("madrs", remission_max=10), 10, 0, Outcome.NOT_CLASSIFIABLE, id="ket-base-10"
        ),
        # Pain NRS: ≥ 50 % IMMPACT substantial [ePPOC-BPI]; no remission.
        pytest.param(DEFAULT_RULES["pain_nrs"], 8, 4, Outcome.RESPONSE, id="nrs-exactly-50pct"),
        pytest.param(DEFAULT_RULES["pain_nrs"], 8, 5, Outcome.NO_RESPONSE, id="nrs-37pct"),
        pytest.param(DEFAULT_RULES["pain_nrs"], 7, 3, Outcome.RESPONSE, id="nrs-odd-baseline-57"),
        pytest.param(DEFAULT_RULES["pain_nrs"], 7, 4, Outcome.NO_RESPONSE, id="nrs-odd-base-43"),
        pytest.param(DEFAULT_RULES["pain_nrs"], 8, 0, Outcome.RESPONSE, id="nrs-0-no-remission"),
        pytest.param(DEFAULT_RULES["pain_nrs"], 3, 9, Outcome.NO_RESPONSE, id="nrs-worse"),
        # BPI-SF severity (mean of 4 items) and FIQR are fractional: compared as Decimals.
        pytest.param(DEFAULT_RULES["bpi_sf"], D("6.5"), D("3.25"), Outcome.RESPONSE, id="bpi-50"),
        pytest.param(
            DEFAULT_RULES["bpi_sf"], D("6.5"), D("3.26"), Outcome.NO_RESPONSE, id="bpi-just-below"
        ),
        pytest.param(DEFAULT_RULES["fiqr"], D("60.5"), D("30.25"), Outcome.RESPONSE, id="fiqr-50"),
        pytest.param(
            DEFAULT_RULES["fiqr"], D("60.5"), D("30.3"), Outcome.NO_RESPONSE, id="fiqr-just-below"
        ),
        pytest.param(DEFAULT_RULES["fiqr"], D("60.5"), 0, Outcome.RESPONSE, id="fiqr-int-current"),
        pytest.param(DEFAULT_RULES["fiqr"], D("0.0"), 0, Outcome.NOT_CLASSIFIABLE, id="fiqr-0"),
    ],
)
def test_classify_table(
    rules: OutcomeRules,
    baseline_score: int | Decimal,
    current: int | Decimal,
    expected: Outcome,
) -> None:
    assert classify(rules, baseline_score=baseline_score, current_score=current) is expected


@pytest.mark.parametrize(
    ("baseline_score", "expected"),
    [
        pytest.param(3, Outcome.NOT_CLASSIFIABLE, id="below-protocol-minimum"),
        pytest.param(4, Outcome.RESPONSE, id="at-protocol-minimum"),
    ],
)
def test_classify_protocol_classifiable_min(baseline_score: int, expected: Outcome) -> None:
    rules = replace(DEFAULT_RULES["pain_nrs"], classifiable_min=4)

    assert classify(rules, baseline_score=baseline_score, current_score=0) is expected


@pytest.mark.parametrize(
    ("baseline_score", "current", "field", "message"),
    [
        pytest.param(-1, 0, "baseline_score", "baseline_score must be 0 or more; got -1", id="neg"),
        pytest.param(
            10, D("-0.5"), "current_score", "current_score must be 0 or more; got -0.5", id="dneg"
        ),
        pytest.param(
            10.0,
            0,
            "baseline_score",
            "baseline_score must be an int or a Decimal; got 10.0",
            id="float",
        ),
        pytest.param(
            10,
            False,
            "current_score",
            "current_score must be an int or a Decimal; got False",
            id="bool",
        ),
        pytest.param(
            D("Infinity"),
            0,
            "baseline_score",
            "baseline_score must be a finite number; got Infinity",
            id="infinite",
        ),
    ],
)
def test_classify_invalid_score_rejected(
    baseline_score: int | Decimal, current: int | Decimal, field: str, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        classify(DEFAULT_RULES["pcl5"], baseline_score=baseline_score, current_score=current)

    assert (raised.value.field, raised.value.message) == (field, message)


# --- meaningful change -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "previous", "current", "expected"),
    [
        pytest.param("phq9", 15, 10, -1, id="phq9-5-points-better"),
        pytest.param("phq9", 15, 11, 0, id="phq9-4-points-better"),
        pytest.param("phq9", 10, 15, 1, id="phq9-5-points-worse"),
        pytest.param("phq9", 10, 14, 0, id="phq9-4-points-worse"),
        pytest.param("phq9", 10, 10, 0, id="phq9-unchanged"),
        pytest.param("gad7", 12, 8, -1, id="gad7-4-points-better"),
        pytest.param("gad7", 12, 9, 0, id="gad7-3-points-better"),
        pytest.param("gad7", 8, 12, 1, id="gad7-4-points-worse"),
        pytest.param("pcl5", 50, 40, -1, id="pcl5-10-points-better"),
        pytest.param("pcl5", 50, 41, 0, id="pcl5-9-points-reliable-not-meaningful"),
        pytest.param("pcl5", 40, 50, 1, id="pcl5-10-points-worse"),
        # NRS: ~2 points OR ~30 % [Farrar2001] — whichever is reached first.
        pytest.param("pain_nrs", 8, 6, -1, id="nrs-2-points-25pct"),
        pytest.param("pain_nrs", 8, 7, 0, id="nrs-1-point-12pct"),
        pytest.param("pain_nrs", 10, 8, -1, id="nrs-2-points-20pct"),
        pytest.param("pain_nrs", 10, 9, 0, id="nrs-1-point-10pct"),
        pytest.param("pain_nrs", 3, 2, -1, id="nrs-1-point-33pct"),
        pytest.param("pain_nrs", 4, 3, 0, id="nrs-1-point-25pct"),
        pytest.param("pain_nrs", D("5.0"), D("3.5"), -1, id="nrs-exactly-30pct"),
        pytest.param("pain_nrs", D("5.0"), D("3.6"), 0, id="nrs-28pct"),
        pytest.param("pain_nrs", 3, 4, 1, id="nrs-worse-by-33pct"),
        pytest.param("pain_nrs", 7, 8, 0, id="nrs-worse-by-14pct"),
        pytest.param("pain_nrs", 5, 7, 1, id="nrs-worse-by-2-points"),
        pytest.param("pain_nrs", 0, 1, 0, id="nrs-from-0-percent-undefined"),
        pytest.param("pain_nrs", 0, 2, 1, id="nrs-from-0-by-2-points"),
        # BPI-SF severity: ≥ 30 % only (IMMPACT moderate) [ePPOC-BPI].
        pytest.param("bpi_sf", D("6.0"), D("4.2"), -1, id="bpi-exactly-30pct"),
        pytest.param("bpi_sf", D("6.0"), D("4.25"), 0, id="bpi-29pct"),
        pytest.param("bpi_sf", D("6.0"), D("9.0"), 1, id="bpi-worse-by-50pct"),
        pytest.param("bpi_sf", 0, 3, 0, id="bpi-from-0-undefined"),
    ],
)
def test_meaningful_change_table(
    instrument: str, previous: int | Decimal, current: int | Decimal, expected: int
) -> None:
    assert meaningful_change(DEFAULT_RULES[instrument], previous=previous, current=current) == (
        expected
    )


@pytest.mark.parametrize("instrument", ["qids_sr16", "madrs", "fiqr"])
def test_meaningful_change_without_mcid_rejected(instrument: str) -> None:
    with pytest.raises(ClinicalValueError) as raised:
        meaningful_change(DEFAULT_RULES[instrument], previous=30, current=10)

    assert (raised.value.field, raised.value.message) == (
        "rules",
        f"no minimal clinically important difference is set for {instrument}",
    )


@pytest.mark.parametrize(
    ("previous", "current", "field"),
    [pytest.param(-1, 5, "previous", id="previous"), pytest.param(5, -1, "current", id="current")],
)
def test_meaningful_change_negative_score_rejected(previous: int, current: int, field: str) -> None:
    with pytest.raises(OutOfRange) as raised:
        meaningful_change(DEFAULT_RULES["phq9"], previous=previous, current=current)

    assert raised.value.field == field


# --- observations and baseline ---------------------------------------------------------------


def test_observation_naive_instant_rejected() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        Observation(at=dt.datetime(2026, 1, 5, 9), score=20)  # noqa: DTZ001 -- the naive input

    assert (raised.value.field, raised.value.message) == (
        "at",
        "at must be a timezone-aware datetime; got naive 2026-01-05T09:00:00",
    )


def test_observation_negative_score_rejected() -> None:
    with pytest.raises(OutOfRange) as raised:
        obs(0, -3)

    assert (raised.value.field, raised.value.message) == (
        "score",
        "score must be 0 or more; got -3",
    )


SCREENING = obs(-3, 19)
MORNING_OF_FIRST_INFUSION = obs(0, 21, hour=9)
AT_FIRST_INFUSION = obs(0, 22, hour=10)
AFTER_FIRST_INFUSION = obs(0, 15, hour=10, minute=1)


@pytest.mark.parametrize(
    ("observations", "expected"),
    [
        pytest.param(
            (obs(-10, 18), SCREENING, MORNING_OF_FIRST_INFUSION, AFTER_FIRST_INFUSION),
            MORNING_OF_FIRST_INFUSION,
            id="several-before-takes-the-last",
        ),
        pytest.param(
            (SCREENING, AT_FIRST_INFUSION, AFTER_FIRST_INFUSION),
            AT_FIRST_INFUSION,
            id="exactly-at-first-infusion-counts",
        ),
        pytest.param((SCREENING,), SCREENING, id="only-one-before"),
        pytest.param(
            (SCREENING, obs(-3, 18)), obs(-3, 18), id="equal-instants-keep-the-given-order"
        ),
        pytest.param((AFTER_FIRST_INFUSION, obs(2, 12)), None, id="none-before"),
        pytest.param((), None, id="no-observations"),
        pytest.param(
            # 04:59 in New York is 09:59 UTC: before the 10:00 UTC infusion.
            (Observation(at=dt.datetime(2026, 1, 5, 4, 59, tzinfo=NEW_YORK), score=20),),
            Observation(at=dt.datetime(2026, 1, 5, 4, 59, tzinfo=NEW_YORK), score=20),
            id="other-zone-compared-as-instants",
        ),
        pytest.param(
            # 05:01 in New York is 10:01 UTC: after the infusion, although 05:01 < 10:00.
            (Observation(at=dt.datetime(2026, 1, 5, 5, 1, tzinfo=NEW_YORK), score=20),),
            None,
            id="other-zone-after-the-infusion",
        ),
    ],
)
def test_baseline_table(
    observations: tuple[Observation, ...], expected: Observation | None
) -> None:
    assert baseline(observations, first_infusion_at=FIRST_INFUSION) == expected


def test_baseline_unsorted_rejected() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        baseline((MORNING_OF_FIRST_INFUSION, SCREENING), first_infusion_at=FIRST_INFUSION)

    assert (raised.value.field, raised.value.message) == (
        "observations",
        "observations must be in time order; observation 1 at 2026-01-02T12:00:00+00:00 is "
        "before observation 0 at 2026-01-05T09:00:00+00:00",
    )


def test_baseline_naive_first_infusion_rejected() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        baseline((SCREENING,), first_infusion_at=dt.datetime(2026, 1, 5, 10))  # noqa: DTZ001

    assert raised.value.field == "first_infusion_at"


# --- trajectories ----------------------------------------------------------------------------

# Each case: PHQ-9 scores by day (at 12:00; the first is the screening baseline on day -3),
# then the expected status, outcome of the latest score, first response, first remission and
# relapse days, days to response (from the first infusion) and days to relapse (from the last
# induction infusion, day 11 at 10:00).
_NEVER = ((-3, 20), (0, 18), (2, 17), (4, 16), (7, 14), (9, 13), (11, 12))
_AT_INFUSION_3 = ((-3, 20), (0, 16), (2, 13), (4, 10), (7, 9), (9, 8), (11, 8))
_REMITS = ((-3, 20), (0, 15), (2, 10), (4, 7), (7, 4), (9, 3), (11, 3))
_INDUCTION_RESPONSE = ((-3, 20), (0, 15), (2, 12), (4, 10), (7, 8), (9, 7), (11, 6))


@pytest.mark.parametrize(
    ("scores", "status", "outcome", "days", "days_to_response", "days_to_relapse"),
    [
        pytest.param(
            _NEVER,
            TrajectoryStatus.NOT_YET_RESPONDED,
            Outcome.NO_RESPONSE,
            (None, None, None),
            None,
            None,
            id="never-responds",
        ),
        pytest.param(
            # Median 3 infusions to response [Phillips2019]: infusion 3 is on day 4, and the
            # questionnaire 2 h after it is 4 days 2 hours after the first infusion.
            _AT_INFUSION_3,
            TrajectoryStatus.RESPONDED,
            Outcome.RESPONSE,
            (4, None, None),
            4,
            None,
            id="responds-at-infusion-3",
        ),
        pytest.param(
            _REMITS,
            TrajectoryStatus.REMITTED,
            Outcome.REMISSION,
            (2, 7, None),
            2,
            None,
            id="remits",
        ),
        pytest.param(
            (*_REMITS, (18, 6)),
            TrajectoryStatus.RESPONDED,
            Outcome.RESPONSE,
            (2, 7, None),
            2,
            None,
            id="remission-lost-response-kept",
        ),
        pytest.param(
            # Loss of response on day 29, 18 days after the last induction infusion: the
            # median time to relapse after 6 infusions in [Murrough2013]. Confirmed on day 36.
            (*_INDUCTION_RESPONSE, (18, 8), (29, 12), (36, 14)),
            TrajectoryStatus.RELAPSED,
            Outcome.NO_RESPONSE,
            (4, None, 29),
            4,
            18,
            id="relapses-18-days-after-induction",
        ),
        pytest.param(
            (*_INDUCTION_RESPONSE, (29, 12), (36, 14), (43, 16)),
            TrajectoryStatus.RELAPSED,
            Outcome.NO_RESPONSE,
            (4, None, 29),
            4,
            18,
            id="stays-relapsed",
        ),
        pytest.param(
            (*_INDUCTION_RESPONSE, (29, 12), (32, 9)),
            TrajectoryStatus.RESPONDED,
            Outcome.RESPONSE,
            (4, None, None),
            4,
            None,
            id="single-blip-then-response-is-not-relapse",
        ),
        pytest.param(
            (*_INDUCTION_RESPONSE, (29, 12)),
            TrajectoryStatus.LOSS_UNCONFIRMED,
            Outcome.NO_RESPONSE,
            (4, None, None),
            4,
            None,
            id="single-loss-awaits-confirmation",
        ),
        pytest.param(
            (*_INDUCTION_RESPONSE, (29, 12), (35, 13)),
            TrajectoryStatus.LOSS_UNCONFIRMED,
            Outcome.NO_RESPONSE,
            (4, None, None),
            4,
            None,
            id="two-losses-6-days-apart-not-confirmed",
        ),
        pytest.param(
            # No responding score between day 29 and day 36, so day 36 confirms day 29.
            (*_INDUCTION_RESPONSE, (29, 12), (32, 13), (36, 14)),
            TrajectoryStatus.RELAPSED,
            Outcome.NO_RESPONSE,
            (4, None, 29),
            4,
            18,
            id="run-of-losses-confirmed-from-its-first",
        ),
        pytest.param(
            (*_INDUCTION_RESPONSE, (29, 12), (32, 9), (35, 12), (41, 13)),
            TrajectoryStatus.LOSS_UNCONFIRMED,
            Outcome.NO_RESPONSE,
            (4, None, None),
            4,
            None,
            id="response-between-losses-restarts-the-clock",
        ),
        pytest.param(
            (*_INDUCTION_RESPONSE, (29, 12), (36, 14), (40, 8)),
            TrajectoryStatus.RESPONDED,
            Outcome.RESPONSE,
            (4, None, 29),
            4,
            18,
            id="response-after-relapse-keeps-relapse-at",
        ),
        pytest.param(
            (*_INDUCTION_RESPONSE, (29, 12), (36, 14), (40, 8), (50, 12), (57, 13)),
            TrajectoryStatus.RELAPSED,
            Outcome.NO_RESPONSE,
            (4, None, 29),
            4,
            18,
            id="second-relapse-keeps-the-first",
        ),
        pytest.param(
            # Response on day 2, loss on day 4 confirmed on day 11: the loss began 6 days
            # 22 hours before the last induction infusion; rounded down, that is -7.
            ((-3, 20), (0, 15), (2, 10), (4, 12), (11, 13)),
            TrajectoryStatus.RELAPSED,
            Outcome.NO_RESPONSE,
            (2, None, 4),
            2,
            -7,
            id="relapse-during-induction-counts-negative",
        ),
        pytest.param(
            ((-3, 20),),
            TrajectoryStatus.NOT_YET_RESPONDED,
            Outcome.NO_RESPONSE,
            (None, None, None),
            None,
            None,
            id="baseline-only",
        ),
        pytest.param(
            ((-3, 4), (0, 2), (7, 0)),
            TrajectoryStatus.NOT_CLASSIFIABLE,
            Outcome.NOT_CLASSIFIABLE,
            (None, None, None),
            None,
            None,
            id="baseline-below-5-not-classifiable",
        ),
    ],
)
def test_assess_trajectory_phq9_table(
    scores: tuple[tuple[int, int], ...],
    status: TrajectoryStatus,
    outcome: Outcome,
    days: tuple[int | None, int | None, int | None],
    days_to_response: int | None,
    days_to_relapse: int | None,
) -> None:
    observations = tuple(obs(n, score) for n, score in scores)
    response_day, remission_day, relapse_day = days

    trajectory = assess_trajectory(
        DEFAULT_RULES["phq9"],
        observations,
        first_infusion_at=FIRST_INFUSION,
        last_induction_infusion_at=LAST_INDUCTION_INFUSION,
    )

    assert trajectory == Trajectory(
        baseline=observations[0],
        latest=observations[-1],
        outcome=outcome,
        status=status,
        first_response_at=None if response_day is None else day(response_day),
        first_remission_at=None if remission_day is None else day(remission_day),
        relapse_at=None if relapse_day is None else day(relapse_day),
        days_to_response=days_to_response,
        days_to_relapse=days_to_relapse,
    )


@pytest.mark.parametrize(
    ("confirmation_days", "status", "relapse_at"),
    [
        pytest.param(7, TrajectoryStatus.RELAPSED, day(29), id="default-7-days"),
        pytest.param(8, TrajectoryStatus.LOSS_UNCONFIRMED, None, id="protocol-8-days"),
        pytest.param(0, TrajectoryStatus.RELAPSED, day(29), id="protocol-0-days"),
    ],
)
def test_assess_trajectory_relapse_confirmation_is_a_protocol_setting(
    confirmation_days: int, status: TrajectoryStatus, relapse_at: dt.datetime | None
) -> None:
    observations = tuple(obs(n, score) for n, score in (*_INDUCTION_RESPONSE, (29, 12), (36, 14)))

    trajectory = assess_trajectory(
        DEFAULT_RULES["phq9"],
        observations,
        first_infusion_at=FIRST_INFUSION,
        last_induction_infusion_at=LAST_INDUCTION_INFUSION,
        relapse_confirmation_days=confirmation_days,
    )

    assert (trajectory.status, trajectory.relapse_at) == (status, relapse_at)


def test_assess_trajectory_confirmation_measures_elapsed_time() -> None:
    # A check-in 6 days 23 hours after the first loss (an hour earlier in the day) is not yet
    # 7 days after it: the loss stays unconfirmed until the next check-in.
    observations = (
        *(obs(n, score) for n, score in _INDUCTION_RESPONSE),
        obs(29, 12),
        obs(36, 14, hour=11),
    )

    trajectory = assess_trajectory(
        DEFAULT_RULES["phq9"],
        observations,
        first_infusion_at=FIRST_INFUSION,
        last_induction_infusion_at=LAST_INDUCTION_INFUSION,
    )

    assert (trajectory.status, trajectory.relapse_at) == (TrajectoryStatus.LOSS_UNCONFIRMED, None)


def test_assess_trajectory_without_last_induction_infusion_has_no_days_to_relapse() -> None:
    observations = tuple(obs(n, score) for n, score in (*_INDUCTION_RESPONSE, (29, 12), (36, 14)))

    trajectory = assess_trajectory(
        DEFAULT_RULES["phq9"],
        observations,
        first_infusion_at=FIRST_INFUSION,
        last_induction_infusion_at=None,
    )

    assert (trajectory.status, trajectory.relapse_at, trajectory.days_to_relapse) == (
        TrajectoryStatus.RELAPSED,
        day(29),
        None,
    )


def test_assess_trajectory_days_to_response_rounds_down() -> None:
    # Infusion 3 on Friday at 10:00; a questionnaire before it at 09:00 is 3 days 23 hours
    # after the first infusion.
    observations = (obs(-3, 20), obs(2, 14), obs(4, 10, hour=9))

    trajectory = assess_trajectory(
        DEFAULT_RULES["phq9"],
        observations,
        first_infusion_at=FIRST_INFUSION,
        last_induction_infusion_at=None,
    )

    assert (trajectory.first_response_at, trajectory.days_to_response) == (day(4, hour=9), 3)


def test_assess_trajectory_days_count_elapsed_time_across_dst() -> None:
    # London springs forward on 29 March 2026. From Monday 23 March 10:00 GMT to Monday
    # 30 March 10:30 BST is 6 days 23.5 hours of elapsed time (7 days on the wall clock).
    first_infusion = dt.datetime(2026, 3, 23, 10, tzinfo=LONDON)
    observations = (
        Observation(at=dt.datetime(2026, 3, 20, 12, tzinfo=LONDON), score=20),
        Observation(at=dt.datetime(2026, 3, 30, 10, 30, tzinfo=LONDON), score=9),
    )

    trajectory = assess_trajectory(
        DEFAULT_RULES["phq9"],
        observations,
        first_infusion_at=first_infusion,
        last_induction_infusion_at=None,
    )

    assert trajectory.days_to_response == 6


def test_assess_trajectory_pain_nrs_has_no_remission() -> None:
    observations = (obs(-3, 8), obs(0, 6), obs(2, 4), obs(4, 0))

    trajectory = assess_trajectory(
        DEFAULT_RULES["pain_nrs"],
        observations,
        first_infusion_at=FIRST_INFUSION,
        last_induction_infusion_at=None,
    )

    assert (trajectory.status, trajectory.first_response_at, trajectory.first_remission_at) == (
        TrajectoryStatus.RESPONDED,
        day(2),
        None,
    )


def test_assess_trajectory_ketect_madrs_remission() -> None:
    observations = (obs(-3, 32), obs(2, 20), obs(4, 14), obs(7, 10))

    default = assess_trajectory(
        rules_for("madrs"),
        observations,
        first_infusion_at=FIRST_INFUSION,
        last_induction_infusion_at=None,
    )
    ketect = assess_trajectory(
        rules_for("madrs", remission_max=10),
        observations,
        first_infusion_at=FIRST_INFUSION,
        last_induction_infusion_at=None,
    )

    assert (
        (default.status, default.first_remission_at),
        (ketect.status, ketect.first_remission_at),
    ) == (
        (TrajectoryStatus.RESPONDED, None),
        (TrajectoryStatus.REMITTED, day(7)),
    )


@pytest.mark.parametrize(
    ("observations", "latest"),
    [
        pytest.param((obs(0, 20), obs(2, 9)), obs(2, 9), id="all-after-first-infusion"),
        pytest.param((), None, id="no-observations"),
    ],
)
def test_assess_trajectory_without_baseline(
    observations: tuple[Observation, ...], latest: Observation | None
) -> None:
    trajectory = assess_trajectory(
        DEFAULT_RULES["phq9"],
        observations,
        first_infusion_at=FIRST_INFUSION,
        last_induction_infusion_at=LAST_INDUCTION_INFUSION,
    )

    assert trajectory == Trajectory(
        baseline=None,
        latest=latest,
        outcome=Outcome.NOT_CLASSIFIABLE,
        status=TrajectoryStatus.NO_BASELINE,
        first_response_at=None,
        first_remission_at=None,
        relapse_at=None,
        days_to_response=None,
        days_to_relapse=None,
    )


NAIVE = dt.datetime(2026, 1, 16, 10)  # noqa: DTZ001 -- the naive input under test


@pytest.mark.parametrize(
    ("observations", "changes", "error", "field", "message"),
    [
        pytest.param(
            (obs(2, 10), obs(-3, 20)),
            {},
            ClinicalValueError,
            "observations",
            "observations must be in time order; observation 1 at 2026-01-02T12:00:00+00:00 "
            "is before observation 0 at 2026-01-07T12:00:00+00:00",
            id="unsorted",
        ),
        pytest.param(
            (),
            {"first_infusion_at": dt.datetime(2026, 1, 5, 10)},  # noqa: DTZ001
            ClinicalValueError,
            "first_infusion_at",
            "first_infusion_at must be a timezone-aware datetime; got naive 2026-01-05T10:00:00",
            id="naive-first-infusion",
        ),
        pytest.param(
            (),
            {"last_induction_infusion_at": NAIVE},
            ClinicalValueError,
            "last_induction_infusion_at",
            "last_induction_infusion_at must be a timezone-aware datetime; got naive "
            "2026-01-16T10:00:00",
            id="naive-last-induction",
        ),
        pytest.param(
            (),
            {"last_induction_infusion_at": day(-1, hour=10)},
            ClinicalValueError,
            "last_induction_infusion_at",
            "last induction infusion must not be before the first infusion "
            "2026-01-05T10:00:00+00:00; got 2026-01-04T10:00:00+00:00",
            id="last-induction-before-first",
        ),
        pytest.param(
            (),
            {"relapse_confirmation_days": -1},
            OutOfRange,
            "relapse_confirmation_days",
            "relapse_confirmation_days must be 0 or more; got -1",
            id="negative-confirmation",
        ),
        pytest.param(
            (),
            {"relapse_confirmation_days": 7.5},
            OutOfRange,
            "relapse_confirmation_days",
            "relapse_confirmation_days must be an integer; got 7.5",
            id="fractional-confirmation",
        ),
        pytest.param(
            (),
            {"relapse_confirmation_days": True},
            OutOfRange,
            "relapse_confirmation_days",
            "relapse_confirmation_days must be an integer; got True",
            id="bool-confirmation",
        ),
    ],
)
def test_assess_trajectory_invalid_input_rejected(
    observations: tuple[Observation, ...],
    changes: dict[str, object],
    error: type[ClinicalValueError],
    field: str,
    message: str,
) -> None:
    arguments: dict[str, object] = {
        "first_infusion_at": FIRST_INFUSION,
        "last_induction_infusion_at": LAST_INDUCTION_INFUSION,
        **changes,
    }

    with pytest.raises(error) as raised:
        assess_trajectory(DEFAULT_RULES["phq9"], observations, **arguments)  # type: ignore[arg-type]

    assert (type(raised.value), raised.value.field, raised.value.message) == (error, field, message)


@pytest.mark.parametrize(
    ("baseline_score", "current_score", "expected"),
    [
        pytest.param(Decimal("6.5"), Decimal("3.25"), Decimal("-50.0"), id="bpi-mean-halved"),
        pytest.param(Decimal("42.5"), Decimal("51"), Decimal("20.0"), id="fiqr-worse"),
        pytest.param(16, 15, Decimal("-6.3"), id="half-rounds-away-from-zero"),
        pytest.param(0, 3, None, id="zero-baseline-undefined"),
    ],
)
def test_score_percent_change(baseline_score, current_score, expected):
    assert (
        score_percent_change(baseline_score=baseline_score, current_score=current_score) == expected
    )


def test_score_percent_change_refuses_negative_score():
    with pytest.raises(OutOfRange) as excinfo:
        score_percent_change(baseline_score=-1, current_score=3)
    assert excinfo.value.field == "baseline_score"


# --- the MCIDs are the instruments' -----------------------------------------------------------


def test_default_rules_take_every_mcid_from_the_instrument() -> None:
    """One definition of each MCID (instruments.Instrument.mcid, clinical-facts §7): the
    rules carry exactly what the instrument says, and an instrument without one has none."""
    for code, rules in DEFAULT_RULES.items():
        mcid = INSTRUMENTS[code].mcid
        expected = (None, None) if mcid is None else (mcid.points, mcid.fraction)
        assert (rules.meaningful_change, rules.meaningful_change_fraction) == expected, code
    with_mcid = sorted(code for code, i in INSTRUMENTS.items() if i.mcid is not None)
    assert with_mcid == ["bpi_sf", "gad7", "pain_nrs", "pcl5", "phq9"]


# --- partial response -------------------------------------------------------------------------

PCL5_PTSD = replace(
    DEFAULT_RULES["pcl5"], response_fraction=D("0.3"), partial_response_fraction=D("0.25")
)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        pytest.param(34, Outcome.RESPONSE, id="50-to-34-is-32pct-response-at-30pct"),
        pytest.param(35, Outcome.RESPONSE, id="50-to-35-exactly-30pct"),
        pytest.param(36, Outcome.PARTIAL_RESPONSE, id="50-to-36-28pct-partial"),
        pytest.param(37, Outcome.PARTIAL_RESPONSE, id="50-to-37-exactly-26pct-partial"),
        pytest.param(38, Outcome.NO_RESPONSE, id="50-to-38-24pct-none"),
        pytest.param(55, Outcome.NO_RESPONSE, id="worse"),
    ],
)
def test_classify_with_a_protocols_response_and_partial_fractions(
    current: int, expected: Outcome
) -> None:
    assert classify(PCL5_PTSD, baseline_score=50, current_score=current) == expected


def test_the_default_fifty_percent_calls_50_to_34_no_response() -> None:
    """The bug issue 11 found: the instrument's default 50 % ignores the PTSD protocol."""
    assert classify(DEFAULT_RULES["pcl5"], baseline_score=50, current_score=34) == (
        Outcome.NO_RESPONSE
    )


def test_assess_trajectory_partial_response_before_any_response() -> None:
    rules = replace(DEFAULT_RULES["phq9"], partial_response_fraction=D("0.25"))
    before = [obs(-3, 20), obs(2, 16), obs(4, 15)]  # −20 %, then −25 %: partial

    partial = assess_trajectory(
        rules, before, first_infusion_at=FIRST_INFUSION, last_induction_infusion_at=None
    )
    responded = assess_trajectory(
        rules,
        [*before, obs(7, 10), obs(9, 14)],  # response, then back to partial: a loss
        first_infusion_at=FIRST_INFUSION,
        last_induction_infusion_at=None,
    )
    back = assess_trajectory(
        rules,
        [*before, obs(7, 17)],
        first_infusion_at=FIRST_INFUSION,
        last_induction_infusion_at=None,
    )

    assert (partial.status, partial.outcome) == (
        TrajectoryStatus.PARTIAL_RESPONSE,
        Outcome.PARTIAL_RESPONSE,
    )
    assert (responded.status, responded.outcome) == (
        TrajectoryStatus.LOSS_UNCONFIRMED,
        Outcome.PARTIAL_RESPONSE,
    )
    assert back.status == TrajectoryStatus.NOT_YET_RESPONDED


# --- worsening against the previous, the best and the baseline score ------------------------


@pytest.mark.parametrize(
    ("current", "previous", "best", "base", "fired"),
    [
        pytest.param(17, 14, 8, 15, ["the best score so far"], id="gradual-decline-vs-best"),
        pytest.param(
            20,
            14,
            8,
            15,
            ["the previous score", "the best score so far", "the baseline"],
            id="all-three",
        ),
        pytest.param(
            15, 10, 10, None, ["the previous score", "the best score so far"], id="no-baseline-yet"
        ),
        pytest.param(12, 10, 9, 20, [], id="better-than-baseline-none"),
        pytest.param(9, None, None, None, [], id="first-score"),
    ],
)
def test_phq9_worsenings(
    current: int, previous: int | None, best: int | None, base: int | None, fired: list[str]
) -> None:
    found = worsenings(
        DEFAULT_RULES["phq9"], current=current, previous=previous, best=best, baseline=base
    )

    assert [str(w.compared_with) for w in found] == fired


def test_worsening_says_which_comparison_fired_with_the_numbers() -> None:
    found = worsenings(
        DEFAULT_RULES["phq9"], current=D("17.00"), previous=D("14.00"), best=D("8"), baseline=15
    )

    assert [w.describe() for w in found] == ["up 9 from the best score so far (8)"]
    assert found[0].compared_with is Comparison.BEST


def test_pain_worsening_fraction_is_of_the_reference() -> None:
    """NRS: 2 points or 30 % [Farrar2001]; 3 → 4 is 33 % of the best (3), not of the
    previous (4 → 4 is no change)."""
    found = worsenings(DEFAULT_RULES["pain_nrs"], current=4, previous=4, best=3, baseline=None)

    assert [(w.compared_with, w.reference) for w in found] == [(Comparison.BEST, 3)]


def test_worsenings_refused_without_an_mcid_and_for_a_bad_score() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        worsenings(DEFAULT_RULES["madrs"], current=30, previous=10, best=10, baseline=10)
    assert str(raised.value) == "rules: no minimal clinically important difference is set for madrs"
    with pytest.raises(OutOfRange) as raised:
        worsenings(DEFAULT_RULES["phq9"], current=-1, previous=None, best=None, baseline=None)
    assert raised.value.field == "current"
