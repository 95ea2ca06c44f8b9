"""A measurement plan that asks for an instrument more often than it recalls: warnings, never
refusals (issue 11, item 7)."""

import datetime as dt
from dataclasses import replace

import pytest

from sustain_core.measurement import Anchor, MeasurementRule
from sustain_core.protocols import DEPRESSION_INDUCTION_V1, PROTOCOLS, plan_warnings

pytestmark = pytest.mark.core

HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
OVERLAP = (
    "the answers overlap, so a change shows late and each answer is not a fresh measure of its "
    "period"
)
PHQ9 = "PHQ-9 asks about the last 2 weeks ([Kroenke2001], clinical-facts §7)"


def planned(*rules: MeasurementRule):
    """The depression standard with this plan (a PHQ-9 before every infusion keeps it valid)."""
    return replace(DEPRESSION_INDUCTION_V1, measurement_plan=rules)


BEFORE_EACH_PHQ9 = MeasurementRule(
    key="pre_infusion", anchor=Anchor.BEFORE_EACH_INFUSION, instruments=("phq9",),
    window_before=24 * HOUR,
)  # fmt: skip


def test_a_two_week_scale_before_every_infusion_48h_apart_warns() -> None:
    warnings = plan_warnings(planned(BEFORE_EACH_PHQ9))

    assert warnings == [
        f"{PHQ9}, but the plan asks for it 48 h apart (before infusion 1 (rule pre_infusion) "
        f"and before infusion 2 (rule pre_infusion)): {OVERLAP}"
    ]


def test_a_seven_day_scale_asked_two_weeks_apart_does_not_warn() -> None:
    rules = (
        BEFORE_EACH_PHQ9,
        *(
            MeasurementRule(
                key=f"after_{weeks}w",
                anchor=Anchor.AFTER_LAST_INDUCTION,
                instruments=("qids_sr16",),
                offset=weeks * 7 * DAY,
                window_before=72 * HOUR,
                window_after=72 * HOUR,
            )
            for weeks in (2, 4)
        ),
    )

    assert [w.split(" asks")[0] for w in plan_warnings(planned(*rules))] == ["PHQ-9"]


def test_the_nearest_occasions_of_different_rules_are_compared() -> None:
    # QIDS-SR16 recalls 7 days: 24 h after the last infusion, then 5 days later, warns.
    rules = (
        BEFORE_EACH_PHQ9,
        MeasurementRule(
            key="post_24h", anchor=Anchor.AFTER_LAST_INDUCTION, instruments=("qids_sr16",),
            offset=24 * HOUR, window_before=24 * HOUR, window_after=24 * HOUR,
        ),
        MeasurementRule(
            key="post_6d", anchor=Anchor.AFTER_LAST_INDUCTION, instruments=("qids_sr16",),
            offset=6 * DAY, window_before=24 * HOUR, window_after=24 * HOUR,
        ),
    )  # fmt: skip

    assert plan_warnings(planned(*rules))[1] == (
        "QIDS-SR16 asks about the last 7 days ([GuidelineCentral-QIDS] [QIDS-Rdoc], "
        "clinical-facts §7), but the plan asks for it 5 days apart (24 h after the last "
        "induction infusion (rule post_24h) and 6 days after the last induction infusion "
        f"(rule post_6d)): {OVERLAP}"
    )


def test_a_weekly_maintenance_measure_of_a_two_week_scale_warns() -> None:
    weekly = MeasurementRule(
        key="maintenance_weekly", anchor=Anchor.MAINTENANCE_WEEKLY, instruments=("phq9", "gad7"),
        interval=7 * DAY, window_before=48 * HOUR, window_after=48 * HOUR,
    )  # fmt: skip
    fortnightly = replace(weekly, key="maintenance_fortnightly", interval=14 * DAY)
    rules = (replace(BEFORE_EACH_PHQ9, key="suicide_item", instruments=("cssrs_screener",)),
             BEFORE_EACH_PHQ9, weekly, fortnightly)  # fmt: skip

    assert plan_warnings(planned(*rules))[1:] == [
        f"{PHQ9}, but the plan asks for it 7 days apart (rule maintenance_weekly, every "
        f"maintenance interval): {OVERLAP}",
        "GAD-7 asks about the last 2 weeks ([Spitzer2006], clinical-facts §7), but the plan "
        "asks for it 7 days apart (rule maintenance_weekly, every maintenance interval): "
        f"{OVERLAP}",
    ]


def test_instruments_without_a_window_or_of_the_moment_never_warn() -> None:
    # The C-SSRS screener asks since the last contact; the CADSS and pain NRS "right now".
    rules = (
        replace(BEFORE_EACH_PHQ9, key="every", instruments=("cssrs_screener", "pain_nrs")),
        MeasurementRule(
            key="cadss", anchor=Anchor.BEFORE_EACH_INFUSION, instruments=("cadss",),
            window_before=HOUR, self_report=False,
        ),
        replace(BEFORE_EACH_PHQ9, key="first", anchor=Anchor.BEFORE_FIRST_INFUSION,
                instruments=("phq9",)),
    )  # fmt: skip

    assert plan_warnings(planned(*rules)) == []


def test_the_same_occasion_asked_twice_is_not_a_recall_overlap() -> None:
    rules = (
        replace(BEFORE_EACH_PHQ9, key="baseline", anchor=Anchor.BEFORE_FIRST_INFUSION),
        replace(BEFORE_EACH_PHQ9, key="first_only", anchor=Anchor.BEFORE_FIRST_INFUSION),
        replace(BEFORE_EACH_PHQ9, key="suicide_item", instruments=("cssrs_screener",)),
    )

    assert plan_warnings(planned(*rules)) == []


def test_a_long_gap_in_hours_is_named_in_hours() -> None:
    every_76h = replace(
        DEPRESSION_INDUCTION_V1,
        series=replace(DEPRESSION_INDUCTION_V1.series, min_gap=76 * HOUR, max_span=30 * DAY),
        measurement_plan=(BEFORE_EACH_PHQ9,),
    )

    assert "76 h apart" in plan_warnings(every_76h)[0]


@pytest.mark.parametrize(("key", "version"), sorted(PROTOCOLS))
def test_every_library_protocol_is_checked_and_still_valid(key: str, version: int) -> None:
    protocol = PROTOCOLS[(key, version)]

    warnings = plan_warnings(protocol)

    assert all(OVERLAP in warning for warning in warnings)


def test_the_depression_standard_warns_about_its_overlapping_measures() -> None:
    assert [w.split(", but")[0] for w in plan_warnings(DEPRESSION_INDUCTION_V1)] == [
        PHQ9,
        "GAD-7 asks about the last 2 weeks ([Spitzer2006], clinical-facts §7)",
        PHQ9,
    ]
