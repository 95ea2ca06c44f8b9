"""The instrument library: definitions, the registry, and checks shared by every instrument.

Instrument-specific scoring rules are in test_instruments_mood.py (PHQ-9, GAD-7, QIDS-SR16,
MADRS), test_instruments_trauma.py (PCL-5, C-SSRS, CADSS) and test_instruments_pain.py
(pain NRS, BPI-SF, FIQR).
"""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from sustain_core.errors import ClinicalValueError, InvalidAnswer, OutOfRange
from sustain_core.instruments import INSTRUMENTS, Instrument, Mcid, Rater, get_instrument, score

pytestmark = pytest.mark.core

ALL_CODES = [
    "phq9",
    "gad7",
    "pcl5",
    "qids_sr16",
    "cssrs_screener",
    "pain_nrs",
    "bpi_sf",
    "fiqr",
    "cadss",
    "madrs",
    "ymrs",
]
KNOWN = "bpi_sf, cadss, cssrs_screener, fiqr, gad7, madrs, pain_nrs, pcl5, phq9, qids_sr16, ymrs"
CSSRS_SKIPPED = {"3", "4", "5", "6_recent"}  # not asked when items 2 and 6 are "no"


def lowest_answers(code: str) -> dict[str, int | None]:
    """Return the lowest complete response: every asked item at its minimum."""
    return {
        item.key: item.min_value
        for item in get_instrument(code).items
        if not (code == "cssrs_screener" and item.key in CSSRS_SKIPPED)
    }


def highest_answers(code: str) -> dict[str, int | None]:
    """Return every item at its maximum (for the C-SSRS: every item "yes")."""
    return {item.key: item.max_value for item in get_instrument(code).items}


# --- Registry ------------------------------------------------------------------------------


def test_instruments_are_keyed_by_code_in_definition_order() -> None:
    assert [(key, instrument.code) for key, instrument in INSTRUMENTS.items()] == [
        (code, code) for code in ALL_CODES
    ]


def test_instruments_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        INSTRUMENTS["phq9"] = INSTRUMENTS["gad7"]  # type: ignore[index]


def test_get_instrument_known_code() -> None:
    assert get_instrument("madrs") is INSTRUMENTS["madrs"]


@pytest.mark.parametrize("code", ["x", "PHQ9", ""], ids=["x", "wrong-case", "empty"])
def test_get_instrument_unknown_code_is_refused(code: str) -> None:
    with pytest.raises(ClinicalValueError) as raised:
        get_instrument(code)
    assert (raised.value.field, raised.value.message) == (
        "instrument",
        f"unknown instrument {code!r}; known: {KNOWN}",
    )


def test_score_unknown_code_is_refused() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        score("bdi2", {})
    assert (raised.value.field, raised.value.message) == (
        "instrument",
        f"unknown instrument 'bdi2'; known: {KNOWN}",
    )


# --- Definitions ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", [code for code, i in INSTRUMENTS.items() if i.bands])
def test_bands_are_contiguous_and_cover_the_total_range_exactly(code: str) -> None:
    instrument = get_instrument(code)
    bands = instrument.bands
    assert (bands[0].low, bands[-1].high) == (instrument.total_min, instrument.total_max)
    assert [band.low for band in bands[1:]] == [band.high + 1 for band in bands[:-1]]
    assert [band.low <= band.high for band in bands] == [True] * len(bands)


def test_instruments_without_published_bands() -> None:
    assert [code for code, i in INSTRUMENTS.items() if not i.bands] == [
        "pcl5",
        "pain_nrs",
        "fiqr",
        "cadss",
        "ymrs",
    ]


@pytest.mark.parametrize("code", ALL_CODES)
def test_answer_labels_cover_every_value_when_present(code: str) -> None:
    mismatched = [
        item.key
        for item in get_instrument(code).items
        if item.answer_labels and len(item.answer_labels) != item.max_value - item.min_value + 1
    ]
    assert mismatched == []


@pytest.mark.parametrize("code", ALL_CODES)
def test_item_keys_are_unique(code: str) -> None:
    keys = [item.key for item in get_instrument(code).items]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("code", ALL_CODES)
def test_lowest_and_highest_answers_score_total_min_and_total_max(code: str) -> None:
    instrument = get_instrument(code)
    assert (score(code, lowest_answers(code)).total, score(code, highest_answers(code)).total) == (
        instrument.total_min,
        instrument.total_max,
    )


def test_item_counts_and_ranges() -> None:
    assert {
        code: (len(i.items), {(item.min_value, item.max_value) for item in i.items})
        for code, i in INSTRUMENTS.items()
    } == {
        "phq9": (9, {(0, 3)}),
        "gad7": (7, {(0, 3)}),
        "pcl5": (20, {(0, 4)}),
        "qids_sr16": (16, {(0, 3)}),
        "cssrs_screener": (7, {(0, 1)}),
        "pain_nrs": (1, {(0, 10)}),
        "bpi_sf": (11, {(0, 10)}),
        "fiqr": (21, {(0, 10)}),
        "cadss": (23, {(0, 4)}),
        "madrs": (10, {(0, 6)}),
        "ymrs": (11, {(0, 4), (0, 8)}),
    }


def test_raters_recall_and_loinc() -> None:
    assert {
        code: (i.rater, i.recall, i.loinc_panel, i.loinc_total) for code, i in INSTRUMENTS.items()
    } == {
        "phq9": (Rater.SELF, "last 2 weeks", "44249-1", "44261-6"),
        "gad7": (Rater.SELF, "last 2 weeks", "69737-5", "70274-6"),
        "pcl5": (Rater.SELF, "past month", None, None),
        "qids_sr16": (Rater.SELF, "last 7 days", None, None),
        "cssrs_screener": (Rater.CLINICIAN, "since last contact", None, None),
        "pain_nrs": (Rater.SELF, "right now", None, None),
        "bpi_sf": (Rater.SELF, "last 24 hours", None, None),
        "fiqr": (Rater.SELF, "past 7 days", None, None),
        "cadss": (Rater.CLINICIAN, "right now", None, None),
        "madrs": (Rater.CLINICIAN, "past week", None, None),
        "ymrs": (Rater.CLINICIAN, "past 48 hours and the interview", None, None),
    }


def test_item_text_is_shipped_only_for_public_domain_wording() -> None:
    shipped = {code: [item.text is not None for item in i.items] for code, i in INSTRUMENTS.items()}
    assert {code: set(flags) for code, flags in shipped.items()} == {
        "phq9": {True},
        "gad7": {True},
        "pcl5": {False},
        "qids_sr16": {False},
        "cssrs_screener": {False},
        "pain_nrs": {True},
        "bpi_sf": {False},
        "fiqr": {False},
        "cadss": {False},
        "madrs": {False},
        "ymrs": {False},
    }


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        pytest.param("pcl5", "LOINC unconfirmed", id="pcl5"),
        pytest.param("qids_sr16", "default 1, unconfirmed", id="qids"),
        pytest.param("cssrs_screener", "secondary [CSSRS-summary]", id="cssrs"),
        pytest.param("pain_nrs", "local choices (unconfirmed)", id="nrs"),
        pytest.param("bpi_sf", "local choice, unconfirmed", id="bpi"),
        pytest.param("fiqr", "default 1 (unconfirmed)", id="fiqr"),
        pytest.param("cadss", "0–4 item anchors are unconfirmed", id="cadss"),
        pytest.param("madrs", "Recall period is not in clinical-facts (unconfirmed)", id="madrs"),
        pytest.param("ymrs", "used as an alert: unconfirmed", id="ymrs"),
    ],
)
def test_unconfirmed_choices_are_labelled_in_notes(code: str, fragment: str) -> None:
    assert fragment in get_instrument(code).notes


def test_phq9_and_gad7_ship_frequency_answer_labels() -> None:
    expected = ("Not at all", "Several days", "More than half the days", "Nearly every day")
    assert {
        item.answer_labels for code in ("phq9", "gad7") for item in get_instrument(code).items
    } == {expected}


def test_gad7_item_wording() -> None:
    assert [item.text for item in get_instrument("gad7").items] == [
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it's hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ]


def test_phq9_item9_wording() -> None:
    assert get_instrument("phq9").items[8].text == (
        "Thoughts that you would be better off dead or of hurting yourself in some way"
    )


# --- Refused responses, one table per kind, every instrument --------------------------------


def refused(code: str, answers: dict[str, object]) -> tuple[str, str]:
    with pytest.raises(InvalidAnswer) as raised:
        score(code, answers)  # type: ignore[arg-type]
    return raised.value.field, raised.value.message


FIRST_ITEM = {code: get_instrument(code).items[0].key for code in ALL_CODES}


@pytest.mark.parametrize(
    ("code", "value", "message"),
    [
        pytest.param("phq9", 4, "PHQ-9 item 1 must be 0–3; got 4", id="phq9"),
        pytest.param("gad7", 4, "GAD-7 item 1 must be 0–3; got 4", id="gad7"),
        pytest.param("pcl5", 5, "PCL-5 item 1 must be 0–4; got 5", id="pcl5"),
        pytest.param("qids_sr16", 4, "QIDS-SR16 item 1 must be 0–3; got 4", id="qids"),
        pytest.param("cssrs_screener", 2, "C-SSRS item 1 must be 0–1; got 2", id="cssrs"),
        pytest.param("pain_nrs", 11, "Pain NRS item 1 must be 0–10; got 11", id="nrs"),
        pytest.param("bpi_sf", 11, "BPI-SF item worst must be 0–10; got 11", id="bpi"),
        pytest.param("fiqr", 11, "FIQR item 1 must be 0–10; got 11", id="fiqr"),
        pytest.param("cadss", 5, "CADSS item 1 must be 0–4; got 5", id="cadss"),
        pytest.param("madrs", 7, "MADRS item 1 must be 0–6; got 7", id="madrs"),
    ],
)
def test_score_refuses_one_above_max(code: str, value: int, message: str) -> None:
    answers: dict[str, object] = {**lowest_answers(code), FIRST_ITEM[code]: value}
    assert refused(code, answers) == (f"item_{FIRST_ITEM[code]}", message)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        pytest.param("phq9", "PHQ-9 item 1 must be 0–3; got -1", id="phq9"),
        pytest.param("gad7", "GAD-7 item 1 must be 0–3; got -1", id="gad7"),
        pytest.param("pcl5", "PCL-5 item 1 must be 0–4; got -1", id="pcl5"),
        pytest.param("qids_sr16", "QIDS-SR16 item 1 must be 0–3; got -1", id="qids"),
        pytest.param("cssrs_screener", "C-SSRS item 1 must be 0–1; got -1", id="cssrs"),
        pytest.param("pain_nrs", "Pain NRS item 1 must be 0–10; got -1", id="nrs"),
        pytest.param("bpi_sf", "BPI-SF item worst must be 0–10; got -1", id="bpi"),
        pytest.param("fiqr", "FIQR item 1 must be 0–10; got -1", id="fiqr"),
        pytest.param("cadss", "CADSS item 1 must be 0–4; got -1", id="cadss"),
        pytest.param("madrs", "MADRS item 1 must be 0–6; got -1", id="madrs"),
    ],
)
def test_score_refuses_one_below_min(code: str, message: str) -> None:
    answers: dict[str, object] = {**lowest_answers(code), FIRST_ITEM[code]: -1}
    assert refused(code, answers) == (f"item_{FIRST_ITEM[code]}", message)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        pytest.param("phq9", "PHQ-9 item 1 must be an integer 0–3; got True", id="phq9"),
        pytest.param("gad7", "GAD-7 item 1 must be an integer 0–3; got True", id="gad7"),
        pytest.param("pcl5", "PCL-5 item 1 must be an integer 0–4; got True", id="pcl5"),
        pytest.param("qids_sr16", "QIDS-SR16 item 1 must be an integer 0–3; got True", id="qids"),
        pytest.param(
            "cssrs_screener", "C-SSRS item 1 must be an integer 0–1; got True", id="cssrs"
        ),
        pytest.param("pain_nrs", "Pain NRS item 1 must be an integer 0–10; got True", id="nrs"),
        pytest.param("bpi_sf", "BPI-SF item worst must be an integer 0–10; got True", id="bpi"),
        pytest.param("fiqr", "FIQR item 1 must be an integer 0–10; got True", id="fiqr"),
        pytest.param("cadss", "CADSS item 1 must be an integer 0–4; got True", id="cadss"),
        pytest.param("madrs", "MADRS item 1 must be an integer 0–6; got True", id="madrs"),
    ],
)
def test_score_refuses_a_bool(code: str, message: str) -> None:
    answers: dict[str, object] = {**lowest_answers(code), FIRST_ITEM[code]: True}
    assert refused(code, answers) == (f"item_{FIRST_ITEM[code]}", message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(1.0, "PHQ-9 item 1 must be an integer 0–3; got 1.0", id="float"),
        pytest.param("1", "PHQ-9 item 1 must be an integer 0–3; got '1'", id="str"),
        pytest.param(False, "PHQ-9 item 1 must be an integer 0–3; got False", id="false"),
    ],
)
def test_score_refuses_non_integers(value: object, message: str) -> None:
    assert refused("phq9", {**lowest_answers("phq9"), "1": value}) == ("item_1", message)


@pytest.mark.parametrize(
    ("code", "missing", "message"),
    [
        pytest.param("phq9", ["9"], "PHQ-9 item 9 is missing", id="phq9"),
        pytest.param("gad7", ["3"], "GAD-7 item 3 is missing", id="gad7"),
        pytest.param("pcl5", ["20"], "PCL-5 item 20 is missing", id="pcl5"),
        pytest.param("qids_sr16", ["7"], "QIDS-SR16 item 7 is missing", id="qids"),
        pytest.param("cssrs_screener", ["6"], "C-SSRS item 6 is missing", id="cssrs"),
        pytest.param("pain_nrs", ["1"], "Pain NRS item 1 is missing", id="nrs"),
        pytest.param(
            "bpi_sf",
            ["least"],
            "BPI-SF item least is missing; the severity score needs all 4 severity items "
            "(worst, least, average, now)",
            id="bpi",
        ),
        pytest.param(
            "fiqr",
            ["10", "11"],
            "FIQR items 10 and 11 are missing; the overall domain needs at least 1 of its 2 "
            "items answered, got 0",
            id="fiqr",
        ),
        pytest.param("cadss", ["23"], "CADSS item 23 is missing", id="cadss"),
        pytest.param("madrs", ["10"], "MADRS item 10 is missing", id="madrs"),
    ],
)
@pytest.mark.parametrize("how", ["absent", "none"])
def test_score_refuses_a_missing_item(
    code: str, missing: list[str], message: str, how: str
) -> None:
    answers: dict[str, object] = lowest_answers(code)
    for key in missing:
        if how == "absent":
            del answers[key]
        else:
            answers[key] = None
    assert refused(code, answers) == (f"item_{missing[0]}", message)


@pytest.mark.parametrize(
    ("code", "missing", "message"),
    [
        pytest.param("phq9", ["3", "5", "9"], "PHQ-9 items 3, 5 and 9 are missing", id="phq9"),
        pytest.param("gad7", ["1", "7"], "GAD-7 items 1 and 7 are missing", id="gad7"),
        pytest.param(
            "cssrs_screener", ["1", "2", "6"], "C-SSRS items 1, 2 and 6 are missing", id="cssrs"
        ),
        pytest.param(
            "bpi_sf",
            ["worst", "now", "general_activity", "mood", "walking", "normal_work"],
            "BPI-SF items worst and now are missing; the severity score needs all 4 severity "
            "items (worst, least, average, now); items general_activity, mood, walking and "
            "normal_work are missing; the interference score needs at least 4 of its 7 items "
            "answered, got 3",
            id="bpi-both-scores",
        ),
    ],
)
def test_score_names_every_missing_item_at_once(
    code: str, missing: list[str], message: str
) -> None:
    """Issue 13, item 5: one refusal names every missing item, not only the first."""
    answers: dict[str, object] = lowest_answers(code) | dict.fromkeys(missing)
    assert refused(code, answers) == (f"item_{missing[0]}", message)


@pytest.mark.parametrize(
    ("code", "key", "message"),
    [
        pytest.param("phq9", "10", "'10' is not an item of PHQ-9; items are 1–9", id="phq9"),
        pytest.param("phq9", "0", "'0' is not an item of PHQ-9; items are 1–9", id="phq9-0"),
        pytest.param("gad7", "8", "'8' is not an item of GAD-7; items are 1–7", id="gad7"),
        pytest.param("pcl5", "21", "'21' is not an item of PCL-5; items are 1–20", id="pcl5"),
        pytest.param(
            "qids_sr16", "17", "'17' is not an item of QIDS-SR16; items are 1–16", id="qids"
        ),
        pytest.param(
            "cssrs_screener",
            "7",
            "'7' is not an item of C-SSRS; items are 1–6, 6_recent",
            id="cssrs",
        ),
        pytest.param("pain_nrs", "2", "'2' is not an item of Pain NRS; items are 1", id="nrs"),
        pytest.param(
            "bpi_sf",
            "relief",
            "'relief' is not an item of BPI-SF; items are worst, least, average, now, "
            "general_activity, mood, walking, normal_work, relations, sleep, enjoyment",
            id="bpi",
        ),
        pytest.param("fiqr", "22", "'22' is not an item of FIQR; items are 1–21", id="fiqr"),
        pytest.param("cadss", "24", "'24' is not an item of CADSS; items are 1–23", id="cadss"),
        pytest.param("madrs", "11", "'11' is not an item of MADRS; items are 1–10", id="madrs"),
    ],
)
def test_score_refuses_an_unknown_item(code: str, key: str, message: str) -> None:
    assert refused(code, {**lowest_answers(code), key: 0}) == (f"item_{key}", message)


def test_score_refuses_an_integer_item_key() -> None:
    assert refused("phq9", {1: 0}) == ("answers", "PHQ-9 item keys are strings; got 1")  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        pytest.param(
            "qids_suicide_threshold",
            0,
            "qids_suicide_threshold must be an integer 1–3; got 0",
            id="qids-0",
        ),
        pytest.param(
            "qids_suicide_threshold",
            4,
            "qids_suicide_threshold must be an integer 1–3; got 4",
            id="qids-4",
        ),
        pytest.param(
            "qids_suicide_threshold",
            True,
            "qids_suicide_threshold must be an integer 1–3; got True",
            id="qids-bool",
        ),
        pytest.param(
            "fiqr_min_answered_per_domain",
            0,
            "fiqr_min_answered_per_domain must be an integer 1–10; got 0",
            id="fiqr-0",
        ),
        pytest.param(
            "fiqr_min_answered_per_domain",
            11,
            "fiqr_min_answered_per_domain must be an integer 1–10; got 11",
            id="fiqr-11",
        ),
        pytest.param(
            "fiqr_min_answered_per_domain",
            1.5,
            "fiqr_min_answered_per_domain must be an integer 1–10; got 1.5",
            id="fiqr-float",
        ),
    ],
)
def test_score_refuses_a_bad_setting(setting: str, value: object, message: str) -> None:
    with pytest.raises(OutOfRange) as raised:
        score("phq9", lowest_answers("phq9"), **{setting: value})  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.message) == (setting, message)


@pytest.mark.parametrize(
    ("points", "fraction", "message"),
    [
        (None, None, "an MCID needs points, a fraction or both; got neither"),
        (0, None, "MCID points must be above 0; got 0"),
        (None, Decimal("1.5"), "MCID fraction must be above 0, at most 1; got 1.5"),
    ],
)
def test_mcid_refuses_a_difference_that_means_nothing(
    points: int | None, fraction: Decimal | None, message: str
) -> None:
    with pytest.raises(OutOfRange) as raised:
        Mcid(points=points, fraction=fraction, source="")
    assert (raised.value.field, raised.value.message) == ("mcid", message)


def test_mcids_are_the_ones_clinical_facts_gives() -> None:
    """§7: PHQ-9 5 [Lowe2004], GAD-7 4 [Toussaint2020], PCL-5 10 [PCL5-qxmd], NRS 2 points
    or 30 % [Farrar2001], BPI-SF 30 % (IMMPACT moderate [ePPOC-BPI]); none for the others."""
    found = {
        code: (i.mcid.points, i.mcid.fraction, i.mcid.source.rsplit("[", 1)[1])
        for code, i in INSTRUMENTS.items()
        if i.mcid is not None
    }
    assert found == {
        "phq9": (5, None, "Lowe2004]"),
        "gad7": (4, None, "Toussaint2020]"),
        "pcl5": (10, None, "PCL5-qxmd]"),
        "pain_nrs": (2, Decimal("0.3"), "Farrar2001]"),
        "bpi_sf": (None, Decimal("0.3"), "ePPOC-BPI]"),
    }


def test_every_instrument_states_its_recall_window_and_source() -> None:
    day = dt.timedelta(days=1)
    assert {code: (i.recall_window, i.recall_source) for code, i in INSTRUMENTS.items()} == {
        "phq9": (14 * day, "[Kroenke2001], clinical-facts §7"),
        "gad7": (14 * day, "[Spitzer2006], clinical-facts §7"),
        "pcl5": (
            30 * day,
            "[PCL5-scoring], clinical-facts §7; a month is counted as 30 days (derived)",
        ),
        "qids_sr16": (7 * day, "[GuidelineCentral-QIDS] [QIDS-Rdoc], clinical-facts §7"),
        "cssrs_screener": (
            None,
            "no fixed window: the screener asks since the last contact [CSSRS-screen], so it "
            "is made to be asked at every contact; item 6 asks about the past 3 months "
            "[CSSRS-form]",
        ),
        "pain_nrs": (dt.timedelta(0), "a local choice (unconfirmed)"),
        "bpi_sf": (dt.timedelta(hours=24), "[ePPOC-BPI], clinical-facts §7"),
        "fiqr": (7 * day, "not in clinical-facts (unconfirmed)"),
        "cadss": (
            dt.timedelta(0),
            "present-state dissociation [Bremner1998], clinical-facts §5c",
        ),
        "madrs": (7 * day, "not in clinical-facts (unconfirmed)"),
        "ymrs": (2 * day, "[YMRS-scoring] (secondary)"),
    }


def test_an_instrument_without_a_stated_window_says_it_is_unknown() -> None:
    instrument = dataclasses.replace(INSTRUMENTS["phq9"], code="new")
    unstated = Instrument(**{
        f.name: getattr(instrument, f.name)
        for f in dataclasses.fields(Instrument)
        if f.name not in {"recall_window", "recall_source"}
    })  # fmt: skip

    assert (unstated.recall_window, unstated.recall_source) == (
        None,
        "unknown: not in clinical-facts",
    )
