import datetime as dt

import pytest

from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.maintenance import (
    EVERY_4_WEEKS,
    EVERY_6_WEEKS,
    EXAMPLE_OPTIONS,
    ON_RELAPSE_MIN_7_DAYS,
    WEEKLY_X4,
    WEEKLY_X4_THEN_FORTNIGHTLY_X2,
    Booster,
    MaintenanceKind,
    MaintenanceOption,
    plan_boosters,
    recommend,
)

pytestmark = pytest.mark.core

WEEK = dt.timedelta(days=7)
FIXED = MaintenanceKind.FIXED_INTERVAL
TAPER = MaintenanceKind.TAPER
TRIGGERED = MaintenanceKind.SYMPTOM_TRIGGERED
# The last induction infusion: Friday 13 March 2026 (a Murrough series from Monday 2 March).
LAST_INFUSION = dt.date(2026, 3, 13)


def day(month: int, day: int) -> dt.date:
    return dt.date(2026, month, day)


def test_taper_option_holds_its_steps() -> None:
    option = MaintenanceOption(
        kind=MaintenanceKind.TAPER, label="Weekly ×4, then fortnightly ×2",
        steps=((4, WEEK), (2, 2 * WEEK)),
    )  # fmt: skip
    assert option.steps == ((4, WEEK), (2, 2 * WEEK))


# -- MaintenanceOption -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        pytest.param(EVERY_4_WEEKS, 4 * WEEK, id="fixed-interval"),
        pytest.param(WEEKLY_X4_THEN_FORTNIGHTLY_X2, WEEK, id="taper-first-step"),
        pytest.param(ON_RELAPSE_MIN_7_DAYS, None, id="symptom-triggered-unscheduled"),
    ],
)
def test_first_interval(option: MaintenanceOption, expected: dt.timedelta | None) -> None:
    assert option.first_interval == expected


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        pytest.param(WEEKLY_X4, 4, id="weekly-x4-ends-after-4"),
        pytest.param(WEEKLY_X4_THEN_FORTNIGHTLY_X2, 6, id="taper-ends-after-6"),
        pytest.param(EVERY_4_WEEKS, None, id="fixed-interval-never-ends"),
        pytest.param(ON_RELAPSE_MIN_7_DAYS, None, id="symptom-triggered-never-ends"),
    ],
)
def test_total_boosters_of_a_finite_plan(option: MaintenanceOption, expected: int | None) -> None:
    assert option.total_boosters == expected


@pytest.mark.parametrize(
    ("kwargs", "error", "field", "message"),
    [
        pytest.param(
            {"kind": FIXED},
            ClinicalValueError, "interval", "a fixed-interval plan needs interval; got none",
            id="fixed-without-interval",
        ),
        pytest.param(
            {"kind": FIXED, "interval": dt.timedelta(0)},
            OutOfRange, "interval",
            "interval must be a whole number of days, at least 1; got 0:00:00",
            id="fixed-interval-0",
        ),
        pytest.param(
            {"kind": FIXED, "interval": dt.timedelta(hours=36)},
            OutOfRange, "interval",
            "interval must be a whole number of days, at least 1; got 1 day, 12:00:00",
            id="fixed-interval-part-day",
        ),
        pytest.param(
            {"kind": FIXED, "interval": WEEK, "steps": ((4, WEEK),)},
            ClinicalValueError, "steps", "a fixed-interval plan has no taper steps; got 1",
            id="fixed-with-steps",
        ),
        pytest.param(
            {"kind": FIXED, "interval": WEEK, "min_gap": WEEK},
            ClinicalValueError, "min_gap",
            "only a symptom-triggered plan has a minimum gap; got 7 days, 0:00:00",
            id="fixed-with-min-gap",
        ),
        pytest.param(
            {"kind": TAPER},
            ClinicalValueError, "steps",
            "a taper needs at least one step of (count, interval); got none",
            id="taper-without-steps",
        ),
        pytest.param(
            {"kind": TAPER, "steps": ((0, WEEK),)},
            OutOfRange, "steps", "step 1 count must be a whole number, at least 1; got 0",
            id="taper-count-0",
        ),
        pytest.param(
            {"kind": TAPER, "steps": ((True, WEEK),)},
            OutOfRange, "steps", "step 1 count must be a whole number, at least 1; got True",
            id="taper-count-bool",
        ),
        pytest.param(
            {"kind": TAPER, "steps": ((4, WEEK), (2, dt.timedelta(0)))},
            OutOfRange, "steps",
            "step 2 interval must be a whole number of days, at least 1; got 0:00:00",
            id="taper-step-interval-0",
        ),
        pytest.param(
            {"kind": TAPER, "steps": ((4, WEEK),), "interval": WEEK},
            ClinicalValueError, "interval",
            "a taper plan has no single interval; got 7 days, 0:00:00",
            id="taper-with-interval",
        ),
        pytest.param(
            {"kind": TAPER, "steps": ((4, WEEK),), "min_gap": WEEK},
            ClinicalValueError, "min_gap",
            "only a symptom-triggered plan has a minimum gap; got 7 days, 0:00:00",
            id="taper-with-min-gap",
        ),
        pytest.param(
            {"kind": TRIGGERED},
            ClinicalValueError, "min_gap", "a symptom-triggered plan needs min_gap; got none",
            id="triggered-without-min-gap",
        ),
        pytest.param(
            {"kind": TRIGGERED, "min_gap": dt.timedelta(0)},
            OutOfRange, "min_gap", "min_gap must be longer than 0; got 0:00:00",
            id="triggered-min-gap-0",
        ),
        pytest.param(
            {"kind": TRIGGERED, "min_gap": WEEK, "interval": WEEK},
            ClinicalValueError, "interval",
            "a symptom-triggered plan has no single interval; got 7 days, 0:00:00",
            id="triggered-with-interval",
        ),
        pytest.param(
            {"kind": TRIGGERED, "min_gap": WEEK, "steps": ((4, WEEK),)},
            ClinicalValueError, "steps", "a symptom-triggered plan has no taper steps; got 1",
            id="triggered-with-steps",
        ),
        pytest.param(
            {"kind": "weekly", "interval": WEEK},
            ClinicalValueError, "kind",
            "kind must be one of fixed_interval, taper, symptom_triggered; got 'weekly'",
            id="unknown-kind",
        ),
    ],
)  # fmt: skip
def test_maintenance_option_invalid_rejected(
    kwargs: dict[str, object], error: type[ClinicalValueError], field: str, message: str
) -> None:
    with pytest.raises(error) as raised:
        MaintenanceOption(label="Plan", **kwargs)  # type: ignore[arg-type]

    assert (type(raised.value), raised.value.field, raised.value.message) == (error, field, message)


def test_example_options_cite_their_sources() -> None:
    assert [(option.label, option.kind, option.first_interval) for option in EXAMPLE_OPTIONS] == [
        ("Weekly ×4", TAPER, WEEK),
        ("Weekly ×4, then fortnightly ×2", TAPER, WEEK),
        ("Every 4 weeks", FIXED, 4 * WEEK),
        ("Every 6 weeks", FIXED, 6 * WEEK),
        ("On confirmed relapse, at least 7 days apart", TRIGGERED, None),
    ]
    assert [
        ("[Phillips2019]" in option.citation, "secondary" in option.citation)
        for option in EXAMPLE_OPTIONS
    ] == [(True, False), (True, False), (False, True), (False, True), (True, False)]


# -- plan_boosters -----------------------------------------------------------------------------

EVERY_2_DAYS = MaintenanceOption(kind=FIXED, label="Every 2 days", interval=dt.timedelta(days=2))


def booster(number: int, due: dt.date, earliest: dt.date, latest: dt.date, reason: str) -> Booster:
    return Booster(number=number, due_on=due, earliest_on=earliest, latest_on=latest, reason=reason)


TAPER_REASON = "Weekly ×4, then fortnightly ×2: step {}, booster {} of {}, every {} days"
TAPER_BOOSTERS = (
    booster(1, day(3, 20), day(3, 17), day(3, 23), TAPER_REASON.format(1, 1, 4, 7)),
    booster(2, day(3, 27), day(3, 24), day(3, 30), TAPER_REASON.format(1, 2, 4, 7)),
    booster(3, day(4, 3), day(3, 31), day(4, 6), TAPER_REASON.format(1, 3, 4, 7)),
    booster(4, day(4, 10), day(4, 7), day(4, 13), TAPER_REASON.format(1, 4, 4, 7)),
    booster(5, day(4, 24), day(4, 21), day(4, 27), TAPER_REASON.format(2, 1, 2, 14)),
    booster(6, day(5, 8), day(5, 5), day(5, 11), TAPER_REASON.format(2, 2, 2, 14)),
)
FIXED_REASON = "Every 4 weeks: {} days after the last induction infusion on 2026-03-13"
TRIGGERED_REASON = (
    "On confirmed relapse, at least 7 days apart: relapse confirmed on {}; at least 7 days after {}"
)


@pytest.mark.parametrize(
    ("option", "kwargs", "expected"),
    [
        pytest.param(
            EVERY_4_WEEKS, {"until": day(6, 30)},
            (
                booster(1, day(4, 10), day(4, 7), day(4, 13), FIXED_REASON.format(28)),
                booster(2, day(5, 8), day(5, 5), day(5, 11), FIXED_REASON.format(56)),
                booster(3, day(6, 5), day(6, 2), day(6, 8), FIXED_REASON.format(84)),
            ),
            id="fixed-every-4-weeks-until-june",
        ),
        pytest.param(
            EVERY_4_WEEKS, {"until": day(4, 10), "window_days": 0},
            (booster(1, day(4, 10), day(4, 10), day(4, 10), FIXED_REASON.format(28)),),
            id="fixed-due-on-until-included-no-window",
        ),
        pytest.param(EVERY_4_WEEKS, {"until": day(4, 9)}, (), id="fixed-nothing-due-yet"),
        pytest.param(
            # A window never reaches back to the previous due day (or the last infusion).
            EVERY_2_DAYS, {"until": day(3, 17)},
            (
                booster(1, day(3, 15), day(3, 14), day(3, 18),
                        "Every 2 days: 2 days after the last induction infusion on 2026-03-13"),
                booster(2, day(3, 17), day(3, 16), day(3, 20),
                        "Every 2 days: 4 days after the last induction infusion on 2026-03-13"),
            ),
            id="fixed-windows-clamped-to-previous-booster",
        ),
        pytest.param(
            WEEKLY_X4_THEN_FORTNIGHTLY_X2, {"until": day(12, 31)}, TAPER_BOOSTERS,
            id="taper-ends-after-its-steps",
        ),
        pytest.param(
            WEEKLY_X4_THEN_FORTNIGHTLY_X2, {"until": day(4, 24)}, TAPER_BOOSTERS[:5],
            id="taper-cut-at-until",
        ),
        pytest.param(ON_RELAPSE_MIN_7_DAYS, {"until": day(12, 31)}, (), id="triggered-no-relapse"),
        pytest.param(
            ON_RELAPSE_MIN_7_DAYS, {"until": day(12, 31), "relapse_confirmed_on": day(4, 1)},
            (
                booster(1, day(4, 1), day(4, 1), day(4, 4), TRIGGERED_REASON.format(
                    "2026-04-01", "the last induction infusion on 2026-03-13")),
            ),
            id="triggered-due-on-relapse",
        ),
        pytest.param(
            ON_RELAPSE_MIN_7_DAYS, {"until": day(12, 31), "relapse_confirmed_on": day(3, 16)},
            (
                booster(1, day(3, 20), day(3, 20), day(3, 23), TRIGGERED_REASON.format(
                    "2026-03-16", "the last induction infusion on 2026-03-13")),
            ),
            id="triggered-waits-for-min-gap-after-infusion",
        ),
        pytest.param(
            ON_RELAPSE_MIN_7_DAYS,
            {"until": day(12, 31), "relapse_confirmed_on": day(4, 2),
             "last_booster_on": day(3, 30)},
            (
                booster(1, day(4, 6), day(4, 6), day(4, 9), TRIGGERED_REASON.format(
                    "2026-04-02", "the last booster on 2026-03-30")),
            ),
            id="triggered-waits-for-min-gap-after-booster",
        ),
        pytest.param(
            # 36 h counts as 2 calendar days: Friday 13 → Sunday 15.
            MaintenanceOption(kind=TRIGGERED, label="On relapse",
                              min_gap=dt.timedelta(hours=36)),
            {"until": day(12, 31), "relapse_confirmed_on": day(3, 14), "window_days": 1},
            (
                booster(1, day(3, 15), day(3, 15), day(3, 16),
                        "On relapse: relapse confirmed on 2026-03-14; at least 36 h (rounded up "
                        "to 2 days) after the last induction infusion on 2026-03-13"),
            ),
            id="triggered-min-gap-rounds-up-to-whole-days",
        ),
        pytest.param(
            ON_RELAPSE_MIN_7_DAYS,
            {"until": day(12, 31), "relapse_confirmed_on": day(3, 30),
             "last_booster_on": day(3, 30)},
            (),
            id="triggered-relapse-already-boosted",
        ),
        pytest.param(
            ON_RELAPSE_MIN_7_DAYS, {"until": day(3, 31), "relapse_confirmed_on": day(4, 1)}, (),
            id="triggered-due-after-until",
        ),
    ],
)  # fmt: skip
def test_plan_boosters_table(
    option: MaintenanceOption, kwargs: dict[str, object], expected: tuple[Booster, ...]
) -> None:
    assert plan_boosters(option, last_infusion_on=LAST_INFUSION, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "field", "message"),
    [
        pytest.param(
            {"window_days": -1},
            OutOfRange, "window_days", "window_days must be a whole number, 0 or more; got -1",
            id="window-negative",
        ),
        pytest.param(
            {"window_days": True},
            OutOfRange, "window_days", "window_days must be a whole number, 0 or more; got True",
            id="window-bool",
        ),
        pytest.param(
            {"relapse_confirmed_on": day(3, 12)},
            ClinicalValueError, "relapse_confirmed_on",
            "relapse_confirmed_on must be on or after the last induction infusion 2026-03-13; "
            "got 2026-03-12",
            id="relapse-before-last-infusion",
        ),
        pytest.param(
            {"last_booster_on": day(3, 1)},
            ClinicalValueError, "last_booster_on",
            "last_booster_on must be on or after the last induction infusion 2026-03-13; "
            "got 2026-03-01",
            id="booster-before-last-infusion",
        ),
    ],
)  # fmt: skip
def test_plan_boosters_invalid_rejected(
    kwargs: dict[str, object], error: type[ClinicalValueError], field: str, message: str
) -> None:
    with pytest.raises(error) as raised:
        plan_boosters(ON_RELAPSE_MIN_7_DAYS, last_infusion_on=LAST_INFUSION, until=day(12, 31),
                      **kwargs)  # type: ignore[arg-type]  # fmt: skip

    assert (type(raised.value), raised.value.field, raised.value.message) == (error, field, message)


# -- recommend ---------------------------------------------------------------------------------

AID = "Decision aid, not a published algorithm (unconfirmed); the prescriber decides."
EXPECTED_16 = (
    "expected relapse about 16 days after the series (median 18 days [Murrough2013]; mean 16 "
    "days among relapsers [Shiroma2014])"
)
ANDRADE = (
    'boosters "a little before the effect of the previous session is expected to wear off" '
    "[Andrade2017]"
)


def review(
    *,
    responded: bool = True,
    remitted: bool = False,
    relapsed: bool = False,
    days_to_relapse: int | None = None,
) -> dict[str, object]:
    return {
        "responded": responded,
        "remitted": remitted,
        "relapsed": relapsed,
        "days_to_relapse": days_to_relapse,
    }


SHIROMA = "some patients respond only after 3 or more infusions [Shiroma2014]."


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param(
            review(responded=False) | {"partial": True, "extend_up_to": 12},
            "Partial response after induction: not a response, so no maintenance yet; consider "
            "extending the series. The protocol allows extending the series up to 12 "
            f"infusions in all; {SHIROMA} {AID}",
            id="partial-with-extension",
        ),
        pytest.param(
            review(responded=False) | {"partial": True},
            f"Partial response after induction: not a response, so no maintenance yet; "
            f"prescriber review. {AID}",
            id="partial-without-extension",
        ),
        pytest.param(
            review(responded=False) | {"extend_up_to": 12},
            "No response after induction: no maintenance; prescriber review. Few reports "
            "describe response after more than 3 infusions when there was none before "
            "[Sanacora2017-medscape]. The protocol allows extending the series up to 12 "
            f"infusions in all; {SHIROMA} {AID}",
            id="late-responder-may-extend",
        ),
    ],
)  # fmt: skip
def test_recommend_partial_and_late_responders(facts: dict[str, object], expected: str) -> None:
    assert recommend(options=EXAMPLE_OPTIONS, **facts) == (None, expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "options", "expected"),
    [
        pytest.param(
            review(responded=False), EXAMPLE_OPTIONS,
            (None, "No response after induction: no maintenance; prescriber review. Few reports "
                   "describe response after more than 3 infusions when there was none before "
                   f"[Sanacora2017-medscape]. {AID}"),
            id="non-responder-no-maintenance",
        ),
        pytest.param(
            review(), EXAMPLE_OPTIONS,
            (WEEKLY_X4, f"Response: Weekly ×4, first booster 7 days after the series, before "
                        f"the {EXPECTED_16}; {ANDRADE}. {AID}"),
            id="responder-weekly-before-expected-relapse",
        ),
        pytest.param(
            review(responded=False, remitted=True), EXAMPLE_OPTIONS,
            (WEEKLY_X4, f"Remission: Weekly ×4, first booster 7 days after the series, before "
                        f"the {EXPECTED_16}; {ANDRADE}. {AID}"),
            id="remission-counts-as-response",
        ),
        pytest.param(
            review(), (WEEKLY_X4_THEN_FORTNIGHTLY_X2, WEEKLY_X4),
            (WEEKLY_X4_THEN_FORTNIGHTLY_X2,
             f"Response: Weekly ×4, then fortnightly ×2, first booster 7 days after the "
             f"series, before the {EXPECTED_16}; {ANDRADE}. {AID}"),
            id="tie-goes-to-the-earlier-option",
        ),
        pytest.param(
            review(relapsed=True, days_to_relapse=30), EXAMPLE_OPTIONS,
            (EVERY_4_WEEKS, "Response then relapse: Every 4 weeks, first booster 28 days after "
                            "the series, before the relapse seen 30 days after the series in "
                            f"this patient; {ANDRADE}. {AID}"),
            id="observed-relapse-30-days-every-4-weeks",
        ),
        pytest.param(
            review(remitted=True, relapsed=True, days_to_relapse=45), EXAMPLE_OPTIONS,
            (EVERY_6_WEEKS, "Remission then relapse: Every 6 weeks, first booster 42 days after "
                            "the series, before the relapse seen 45 days after the series in "
                            f"this patient; {ANDRADE}. {AID}"),
            id="observed-relapse-45-days-every-6-weeks",
        ),
        pytest.param(
            review(relapsed=True, days_to_relapse=42), EXAMPLE_OPTIONS,
            (EVERY_4_WEEKS, "Response then relapse: Every 4 weeks, first booster 28 days after "
                            "the series, before the relapse seen 42 days after the series in "
                            f"this patient; {ANDRADE}. {AID}"),
            id="interval-equal-to-relapse-is-too-late",
        ),
        pytest.param(
            review(relapsed=True), EXAMPLE_OPTIONS,
            (WEEKLY_X4, "Response then relapse: Weekly ×4, first booster 7 days after the "
                        f"series, before the {EXPECTED_16}; {ANDRADE}. {AID}"),
            id="relapse-day-unknown-uses-expected",
        ),
        pytest.param(
            review(relapsed=True, days_to_relapse=7), EXAMPLE_OPTIONS,
            (ON_RELAPSE_MIN_7_DAYS,
             "Response then relapse: no scheduled option starts before the relapse seen 7 days "
             "after the series in this patient; On confirmed relapse, at least 7 days apart "
             "instead (no trial-validated symptom trigger exists; clinical-facts §4b, "
             f"unconfirmed). {AID}"),
            id="early-relapse-falls-back-to-symptom-triggered",
        ),
        pytest.param(
            review(relapsed=True, days_to_relapse=7), (WEEKLY_X4, EVERY_4_WEEKS),
            (None, "Response then relapse: no offered option starts before the relapse seen 7 "
                   f"days after the series in this patient; prescriber review. {AID}"),
            id="early-relapse-no-option-prescriber-review",
        ),
        pytest.param(
            review(), (),
            (None, f"Response: no offered option starts before the {EXPECTED_16}; prescriber "
                   f"review. {AID}"),
            id="no-options-offered",
        ),
    ],
)  # fmt: skip
def test_recommend_table(
    facts: dict[str, object],
    options: tuple[MaintenanceOption, ...],
    expected: tuple[MaintenanceOption | None, str],
) -> None:
    assert recommend(options=options, **facts) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "error", "field", "message"),
    [
        pytest.param(
            review(responded=False, relapsed=True),
            ClinicalValueError, "relapsed",
            "a relapse follows a response; got relapsed without response",
            id="relapse-without-response",
        ),
        pytest.param(
            review() | {"partial": True},
            ClinicalValueError, "partial",
            "a partial response is below the response level; got both",
            id="partial-and-response",
        ),
        pytest.param(
            review(days_to_relapse=20),
            ClinicalValueError, "days_to_relapse", "days_to_relapse needs a relapse; got 20",
            id="days-without-relapse",
        ),
        pytest.param(
            review(relapsed=True, days_to_relapse=-1),
            OutOfRange, "days_to_relapse",
            "days_to_relapse must be a whole number, 0 or more; got -1",
            id="days-negative",
        ),
        pytest.param(
            review(relapsed=True, days_to_relapse=True),  # type: ignore[arg-type]
            OutOfRange, "days_to_relapse",
            "days_to_relapse must be a whole number, 0 or more; got True",
            id="days-bool",
        ),
    ],
)  # fmt: skip
def test_recommend_invalid_rejected(
    facts: dict[str, object], error: type[ClinicalValueError], field: str, message: str
) -> None:
    with pytest.raises(error) as raised:
        recommend(options=EXAMPLE_OPTIONS, **facts)  # type: ignore[arg-type]

    assert (type(raised.value), raised.value.field, raised.value.message) == (error, field, message)
