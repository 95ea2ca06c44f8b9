import datetime as dt
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

import pytest

from sustain_core.errors import ClinicalValueError
from sustain_core.measurement import (
    Anchor,
    Completion,
    DueItem,
    DueStatus,
    MeasurementRule,
    TreatmentEvents,
    due_items,
)

pytestmark = pytest.mark.core

UTC = dt.UTC
NY = ZoneInfo("America/New_York")
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(weeks=1)
ZERO = dt.timedelta(0)

UPCOMING = DueStatus.UPCOMING
DUE = DueStatus.DUE
OVERDUE = DueStatus.OVERDUE
MISSED = DueStatus.MISSED
DONE = DueStatus.DONE


def utc(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


# Six induction infusions Monday–Wednesday–Friday at 09:00 UTC, 2–13 March 2026.
SERIES = tuple(utc(3, day) for day in (2, 4, 6, 9, 11, 13))
LAST_INDUCTION = SERIES[-1]

BASELINE = MeasurementRule(
    key="baseline",
    anchor=Anchor.BEFORE_FIRST_INFUSION,
    instruments=("phq9", "gad7"),
    window_before=7 * DAY,
)
BASELINE_PHQ9 = MeasurementRule(
    key="baseline",
    anchor=Anchor.BEFORE_FIRST_INFUSION,
    instruments=("phq9",),
    window_before=7 * DAY,
)
PRE_INFUSION = MeasurementRule(
    key="pre_infusion",
    anchor=Anchor.BEFORE_EACH_INFUSION,
    instruments=("phq9",),
    window_before=24 * HOUR,
)
POST_24H = MeasurementRule(
    key="post_induction_24h",
    anchor=Anchor.AFTER_LAST_INDUCTION,
    instruments=("phq9", "gad7", "qids_sr16"),
    offset=24 * HOUR,
    window_before=24 * HOUR,
    window_after=24 * HOUR,
)
POST_2W = MeasurementRule(
    key="post_induction_2w",
    anchor=Anchor.AFTER_LAST_INDUCTION,
    instruments=("phq9",),
    offset=2 * WEEK,
    window_before=3 * DAY,
    window_after=3 * DAY,
)
WEEKLY = MeasurementRule(
    key="maintenance_weekly",
    anchor=Anchor.MAINTENANCE_WEEKLY,
    instruments=("phq9",),
    interval=WEEK,
    window_before=2 * DAY,
    window_after=2 * DAY,
)


def events(
    infusions: Sequence[dt.datetime] = SERIES,
    *,
    maintenance_started_at: dt.datetime | None = None,
    course_ended_at: dt.datetime | None = None,
) -> TreatmentEvents:
    return TreatmentEvents(
        infusions=tuple(infusions),
        induction_count=6,
        maintenance_started_at=maintenance_started_at,
        course_ended_at=course_ended_at,
    )


def item(
    rule: str,
    instrument: str,
    occasion: int,
    window: tuple[dt.datetime, dt.datetime, dt.datetime],
    status: DueStatus,
    completed_at: dt.datetime | None = None,
) -> DueItem:
    opens_at, due_at, closes_at = window
    return DueItem(rule, instrument, occasion, opens_at, due_at, closes_at, status, completed_at)


def before(infusion: dt.datetime, window: dt.timedelta) -> tuple[dt.datetime, ...]:
    return (infusion - window, infusion, infusion)


def around(due: dt.datetime, window: dt.timedelta) -> tuple[dt.datetime, ...]:
    return (due - window, due, due + window)


BASELINE_WINDOW = (utc(2, 23), utc(3, 2), utc(3, 2))
POST_2W_WINDOW = (utc(3, 24), utc(3, 27), utc(3, 30))


def statuses(items: Sequence[DueItem]) -> list[tuple[str, str, int, DueStatus]]:
    return [(i.rule, i.instrument, i.occasion, i.status) for i in items]


# --- before-infusion rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "status"),
    [
        pytest.param(utc(2, 23, 8, 59), UPCOMING, id="before-the-window-opens"),
        pytest.param(utc(2, 23), DUE, id="as-the-window-opens"),
        pytest.param(utc(3, 2, 8, 59), DUE, id="a-minute-before-infusion-1"),
        pytest.param(utc(3, 2), MISSED, id="as-infusion-1-starts"),
        pytest.param(utc(3, 3), MISSED, id="after-infusion-1"),
    ],
)
def test_due_items_baseline_without_completions(now: dt.datetime, status: DueStatus) -> None:
    result = due_items([BASELINE], events(), [], now=now)

    assert result == (
        item("baseline", "gad7", 1, BASELINE_WINDOW, status),
        item("baseline", "phq9", 1, BASELINE_WINDOW, status),
    )


def test_due_items_pre_infusion_one_occasion_per_infusion() -> None:
    result = due_items([PRE_INFUSION], events(), [], now=utc(3, 6, 8))

    assert result == (
        item("pre_infusion", "phq9", 1, before(SERIES[0], DAY), MISSED),
        item("pre_infusion", "phq9", 2, before(SERIES[1], DAY), MISSED),
        item("pre_infusion", "phq9", 3, before(SERIES[2], DAY), DUE),
        item("pre_infusion", "phq9", 4, before(SERIES[3], DAY), UPCOMING),
        item("pre_infusion", "phq9", 5, before(SERIES[4], DAY), UPCOMING),
        item("pre_infusion", "phq9", 6, before(SERIES[5], DAY), UPCOMING),
    )


@pytest.mark.parametrize(
    ("now", "infusions"),
    [
        pytest.param(utc(2, 1), [], id="nothing-opens-within-two-weeks"),
        pytest.param(utc(2, 19, 9), [1, 2, 3], id="window-opening-at-horizon-is-listed"),
        pytest.param(utc(2, 19, 8, 59), [1, 2], id="window-opening-after-horizon-is-left-out"),
    ],
)
def test_due_items_leave_out_occasions_opening_after_the_horizon(
    now: dt.datetime, infusions: list[int]
) -> None:
    # The window before infusion 3 (6 March 09:00) opens on 5 March 09:00 = 19 Feb + 14 days.
    result = due_items([PRE_INFUSION], events(), [], now=now)

    assert [i.occasion for i in result] == infusions


@pytest.mark.parametrize(
    ("completion", "status", "completed_at"),
    [
        pytest.param(Completion("phq9", utc(2, 23)), DONE, utc(2, 23), id="as-window-opens"),
        pytest.param(Completion("phq9", utc(2, 27, 14)), DONE, utc(2, 27, 14), id="inside"),
        pytest.param(
            Completion("phq9", utc(3, 2, 8, 59)), DONE, utc(3, 2, 8, 59), id="just-before-start"
        ),
        pytest.param(
            Completion("phq9", dt.datetime(2026, 3, 2, 3, 59, tzinfo=NY)),
            DONE,
            utc(3, 2, 8, 59),
            id="other-zone-same-instant",
        ),
        pytest.param(Completion("phq9", utc(2, 23, 8, 59)), MISSED, None, id="too-early"),
        pytest.param(Completion("phq9", utc(3, 2)), MISSED, None, id="as-infusion-starts"),
        pytest.param(Completion("gad7", utc(2, 27)), MISSED, None, id="other-instrument"),
    ],
)
def test_due_items_baseline_completion_inside_or_outside_window(
    completion: Completion, status: DueStatus, completed_at: dt.datetime | None
) -> None:
    result = due_items([BASELINE_PHQ9], events(), [completion], now=utc(3, 3))

    assert result == (item("baseline", "phq9", 1, BASELINE_WINDOW, status, completed_at),)


def test_due_items_ignores_completions_after_now() -> None:
    completions = [Completion("phq9", utc(2, 27)), Completion("gad7", utc(2, 28))]

    result = due_items([BASELINE], events(), completions, now=utc(2, 27, 12))

    assert result == (
        item("baseline", "gad7", 1, BASELINE_WINDOW, DUE),
        item("baseline", "phq9", 1, BASELINE_WINDOW, DONE, utc(2, 27)),
    )


@pytest.mark.parametrize(
    ("completed", "expected"),
    [
        pytest.param(
            [utc(3, 2, 7)],
            [("baseline", "phq9", 1, DONE), ("pre_infusion", "phq9", 1, MISSED)],
            id="one-completion-counts-once-for-the-baseline",
        ),
        pytest.param(
            [utc(3, 2, 7), utc(3, 2, 6)],
            [("baseline", "phq9", 1, DONE), ("pre_infusion", "phq9", 1, DONE)],
            id="two-completions-satisfy-both",
        ),
        pytest.param(
            [utc(2, 26)],
            [("baseline", "phq9", 1, DONE), ("pre_infusion", "phq9", 1, MISSED)],
            id="early-completion-only-fits-the-baseline",
        ),
    ],
)
def test_due_items_one_completion_satisfies_one_occasion(
    completed: list[dt.datetime], expected: list[tuple[str, str, int, DueStatus]]
) -> None:
    completions = [Completion("phq9", at) for at in completed]

    result = due_items(
        [BASELINE_PHQ9, PRE_INFUSION], events(SERIES[:1]), completions, now=utc(3, 3)
    )

    assert statuses(result) == expected


def test_due_items_baseline_and_pre_infusion_get_their_own_completion() -> None:
    completions = [Completion("phq9", utc(3, 2, 7)), Completion("phq9", utc(3, 2, 6))]

    result = due_items(
        [BASELINE_PHQ9, PRE_INFUSION], events(SERIES[:1]), completions, now=utc(3, 3)
    )

    assert [i.completed_at for i in result] == [utc(3, 2, 6), utc(3, 2, 7)]


# --- after the last induction infusion ---------------------------------------------------


@pytest.mark.parametrize(
    ("infusions", "expected"),
    [
        pytest.param(SERIES[:5], (), id="5-of-6-booked"),
        pytest.param(
            SERIES,
            tuple(
                item("post_induction_24h", code, 1, around(utc(3, 14), DAY), UPCOMING)
                for code in ("gad7", "phq9", "qids_sr16")
            ),
            id="6-of-6-booked",
        ),
        pytest.param(
            (*SERIES, utc(4, 20)),
            tuple(
                item("post_induction_24h", code, 1, around(utc(3, 14), DAY), UPCOMING)
                for code in ("gad7", "phq9", "qids_sr16")
            ),
            id="a-booster-does-not-move-the-anchor",
        ),
    ],
)
def test_due_items_post_induction_battery_only_once_the_last_induction_exists(
    infusions: tuple[dt.datetime, ...], expected: tuple[DueItem, ...]
) -> None:
    result = due_items([POST_24H], events(infusions), [], now=utc(3, 5))

    assert result == expected


@pytest.mark.parametrize(
    ("now", "status"),
    [
        pytest.param(utc(3, 24, 8, 59), UPCOMING, id="before-window"),
        pytest.param(utc(3, 24), DUE, id="window-opens"),
        pytest.param(utc(3, 27), DUE, id="at-due"),
        pytest.param(utc(3, 27, 9, 1), OVERDUE, id="just-after-due"),
        pytest.param(utc(3, 30), OVERDUE, id="window-closes"),
        pytest.param(utc(3, 30, 9, 1), MISSED, id="after-window"),
    ],
)
def test_due_items_two_week_follow_up_becomes_overdue_then_missed(
    now: dt.datetime, status: DueStatus
) -> None:
    result = due_items([POST_2W], events(), [], now=now)

    assert result == (item("post_induction_2w", "phq9", 1, POST_2W_WINDOW, status),)


@pytest.mark.parametrize(
    ("at", "status", "completed_at"),
    [
        pytest.param(utc(3, 29), DONE, utc(3, 29), id="completed-while-overdue"),
        pytest.param(utc(3, 30), DONE, utc(3, 30), id="completed-as-window-closes"),
        pytest.param(utc(3, 30, 9, 1), MISSED, None, id="completed-too-late"),
    ],
)
def test_due_items_two_week_follow_up_window_is_closed(
    at: dt.datetime, status: DueStatus, completed_at: dt.datetime | None
) -> None:
    result = due_items([POST_2W], events(), [Completion("phq9", at)], now=utc(4, 1))

    assert result == (item("post_induction_2w", "phq9", 1, POST_2W_WINDOW, status, completed_at),)


def test_due_items_completion_goes_to_the_window_that_closes_first() -> None:
    # The post-induction window is 13–15 March 09:00; maintenance week 1 (due 14 March 12:00)
    # opens earlier and closes later, 12–16 March 12:00. The 14 March PHQ-9 fits both and goes
    # to the post-induction item, which closes first, so the 16 March PHQ-9 can still satisfy
    # week 1. Giving it to the window that opened first would leave post-induction missed.
    plan = [WEEKLY, POST_24H]
    completions = [Completion("phq9", utc(3, 16, 10)), Completion("phq9", utc(3, 14, 10))]
    course = events(maintenance_started_at=utc(3, 7, 12))

    result = due_items(plan, course, completions, now=utc(3, 17, 12), horizon=ZERO)

    assert result == (
        item("post_induction_24h", "gad7", 1, around(utc(3, 14), DAY), MISSED),
        item("post_induction_24h", "phq9", 1, around(utc(3, 14), DAY), DONE, utc(3, 14, 10)),
        item("post_induction_24h", "qids_sr16", 1, around(utc(3, 14), DAY), MISSED),
        item(
            "maintenance_weekly",
            "phq9",
            1,
            around(utc(3, 14, 12), 2 * DAY),
            DONE,
            utc(3, 16, 10),
        ),
    )


# --- maintenance weekly ------------------------------------------------------------------

MAINTENANCE_START = utc(3, 9)  # the first weekly measure is due one week later, 16 March


@pytest.mark.parametrize(
    ("horizon", "weeks"),
    [
        pytest.param(ZERO, [1], id="no-horizon"),
        pytest.param(14 * DAY, [1, 2, 3], id="two-weeks"),
        pytest.param(15 * DAY, [1, 2, 3, 4], id="window-opens-exactly-at-horizon"),
    ],
)
def test_due_items_maintenance_weekly_up_to_the_horizon(
    horizon: dt.timedelta, weeks: list[int]
) -> None:
    # now + horizon: 20 Mar, 3 Apr and 4 Apr 09:00; week 4 is due 6 Apr and opens 4 Apr 09:00.
    course = events(maintenance_started_at=MAINTENANCE_START)

    result = due_items([WEEKLY], course, [], now=utc(3, 20), horizon=horizon)

    expected_status = {1: MISSED, 2: UPCOMING, 3: UPCOMING, 4: UPCOMING}
    assert result == tuple(
        item(
            "maintenance_weekly",
            "phq9",
            week,
            around(MAINTENANCE_START + week * WEEK, 2 * DAY),
            expected_status[week],
        )
        for week in weeks
    )


@pytest.mark.parametrize(
    ("course_ended_at", "weeks"),
    [
        pytest.param(None, [1, 2, 3, 4, 5], id="ongoing"),
        pytest.param(utc(3, 30), [1, 2, 3], id="ended-as-week-3-is-due"),
        pytest.param(utc(3, 30, 8, 59), [1, 2], id="ended-just-before-week-3-is-due"),
        pytest.param(utc(3, 10), [], id="ended-before-the-first-week"),
    ],
)
def test_due_items_maintenance_weekly_stops_at_course_end(
    course_ended_at: dt.datetime | None, weeks: list[int]
) -> None:
    course = events(maintenance_started_at=MAINTENANCE_START, course_ended_at=course_ended_at)

    result = due_items([WEEKLY], course, [], now=utc(3, 31))

    assert [(i.occasion, i.due_at) for i in result] == [
        (week, MAINTENANCE_START + week * WEEK) for week in weeks
    ]


def test_due_items_maintenance_weekly_offset_shifts_every_occasion() -> None:
    rule = MeasurementRule(
        "maintenance_weekly", Anchor.MAINTENANCE_WEEKLY, ("phq9",), offset=DAY, interval=WEEK
    )
    course = events(maintenance_started_at=MAINTENANCE_START)

    result = due_items([rule], course, [], now=utc(3, 17), horizon=7 * DAY)

    assert [(i.occasion, i.opens_at, i.due_at, i.closes_at) for i in result] == [
        (1, utc(3, 17), utc(3, 17), utc(3, 17)),
        (2, utc(3, 24), utc(3, 24), utc(3, 24)),
    ]


def test_due_items_weekly_spacing_is_real_time_across_dst() -> None:
    # Daylight-saving time ends in New York on Sunday 1 Nov 2026. Weekly means 7 × 24 h of
    # real time, so a measure due Monday 09:00 EDT is due the next Monday at 08:00 EST.
    start = dt.datetime(2026, 10, 19, 9, tzinfo=NY)
    course = events(maintenance_started_at=start)

    result = due_items([WEEKLY], course, [], now=start + WEEK, horizon=5 * DAY)

    assert [i.due_at for i in result] == [
        dt.datetime(2026, 10, 26, 9, tzinfo=NY),
        dt.datetime(2026, 11, 2, 8, tzinfo=NY),
    ]
    assert result[1].due_at - result[0].due_at == WEEK
    assert [i.due_at.tzinfo for i in result] == [UTC, UTC]


def test_due_items_weekly_measure_is_not_due_as_maintenance_starts() -> None:
    # The review is signed at 09:00 on 9 March: one second later the first weekly PHQ-9 is
    # upcoming, due a week later (16 March), its window opening two days before that.
    course = events(maintenance_started_at=MAINTENANCE_START)

    result = due_items([WEEKLY], course, [], now=MAINTENANCE_START + dt.timedelta(seconds=1))

    assert statuses(result)[0] == ("maintenance_weekly", "phq9", 1, UPCOMING)
    assert result[0].opens_at == utc(3, 14)


@pytest.mark.parametrize(
    ("rule", "event", "window"),
    [
        pytest.param(
            MeasurementRule(
                "weekly", Anchor.MAINTENANCE_WEEKLY, ("phq9",), interval=DAY, window_before=3 * DAY
            ),
            MAINTENANCE_START,
            (MAINTENANCE_START, MAINTENANCE_START + DAY, MAINTENANCE_START + DAY),
            id="weekly-window-longer-than-the-interval",
        ),
        pytest.param(
            MeasurementRule(
                "post", Anchor.AFTER_LAST_INDUCTION, ("phq9",), window_before=DAY, window_after=DAY
            ),
            LAST_INDUCTION,
            (LAST_INDUCTION, LAST_INDUCTION, LAST_INDUCTION + DAY),
            id="after-induction-due-at-the-infusion",
        ),
    ],
)
def test_due_items_window_never_opens_before_its_event(
    rule: MeasurementRule, event: dt.datetime, window: tuple[dt.datetime, ...]
) -> None:
    course = events(maintenance_started_at=MAINTENANCE_START)

    result = due_items([rule], course, [], now=event, horizon=ZERO)

    assert result[0] == item(rule.key, "phq9", 1, window, DUE)


# --- plans, ordering, empty anchors ------------------------------------------------------


@pytest.mark.parametrize(
    ("course", "rule"),
    [
        pytest.param(events(()), BASELINE, id="baseline-without-infusions"),
        pytest.param(events(()), PRE_INFUSION, id="pre-infusion-without-infusions"),
        pytest.param(events(), WEEKLY, id="weekly-without-maintenance"),
    ],
)
def test_due_items_rule_without_its_event_has_no_items(
    course: TreatmentEvents, rule: MeasurementRule
) -> None:
    assert due_items([rule], course, [], now=utc(3, 1)) == ()


def test_due_items_sorted_by_due_then_rule_then_instrument() -> None:
    plan = [POST_2W, PRE_INFUSION, BASELINE]
    course = events(SERIES[:2])
    completions = [Completion("gad7", utc(2, 25))]

    result = due_items(plan, course, completions, now=utc(3, 2, 12))

    assert statuses(result) == [
        ("baseline", "gad7", 1, DONE),
        ("baseline", "phq9", 1, MISSED),
        ("pre_infusion", "phq9", 1, MISSED),
        ("pre_infusion", "phq9", 2, UPCOMING),
    ]


def test_due_items_do_not_depend_on_plan_or_completion_order() -> None:
    plan = [BASELINE, PRE_INFUSION, POST_24H, POST_2W, WEEKLY]
    course = events(maintenance_started_at=utc(3, 15))
    completions = [Completion("phq9", utc(3, day, 7)) for day in (1, 2, 4, 6, 9, 14, 16)]

    forward = due_items(plan, course, completions, now=utc(3, 20))
    backward = due_items(plan[::-1], course, completions[::-1], now=utc(3, 20))

    assert forward == backward


# --- validation --------------------------------------------------------------------------


def rule(**changes: object) -> Callable[[], object]:
    fields: dict[str, object] = {
        "key": "pre_infusion",
        "anchor": Anchor.BEFORE_EACH_INFUSION,
        "instruments": ("phq9",),
        "window_before": DAY,
    }
    fields.update(changes)
    return lambda: MeasurementRule(**fields)  # type: ignore[arg-type]


def weekly(**changes: object) -> Callable[[], object]:
    fields: dict[str, object] = {
        "key": "weekly",
        "anchor": Anchor.MAINTENANCE_WEEKLY,
        "window_before": ZERO,
        "interval": WEEK,
    }
    fields.update(changes)
    return rule(**fields)


def treatment(**changes: object) -> Callable[[], object]:
    fields: dict[str, object] = {
        "infusions": SERIES,
        "induction_count": 6,
        "maintenance_started_at": None,
    }
    fields.update(changes)
    return lambda: TreatmentEvents(**fields)  # type: ignore[arg-type]


NAIVE = dt.datetime(2026, 3, 2, 9)  # noqa: DTZ001 - a naive instant is the error under test


@pytest.mark.parametrize(
    ("build", "field", "message"),
    [
        pytest.param(rule(key=""), "key", "a measurement rule needs a key", id="empty-key"),
        pytest.param(
            rule(instruments=()),
            "instruments",
            "rule pre_infusion needs one or more non-empty instrument codes",
            id="no-instruments",
        ),
        pytest.param(
            rule(instruments=("phq9", "")),
            "instruments",
            "rule pre_infusion needs one or more non-empty instrument codes",
            id="empty-instrument",
        ),
        pytest.param(
            rule(instruments=("phq9", "gad7", "phq9")),
            "instruments",
            "rule pre_infusion lists an instrument twice: ('phq9', 'gad7', 'phq9')",
            id="repeated-instrument",
        ),
        pytest.param(
            rule(window_before=-HOUR),
            "window_before",
            "rule pre_infusion: window_before must not be negative; got -1 day, 23:00:00",
            id="negative-window-before",
        ),
        pytest.param(
            weekly(window_after=-HOUR),
            "window_after",
            "rule weekly: window_after must not be negative; got -1 day, 23:00:00",
            id="negative-window-after",
        ),
        pytest.param(
            weekly(offset=-DAY),
            "offset",
            "rule weekly: offset must not be negative; got -1 day, 0:00:00",
            id="negative-offset",
        ),
        pytest.param(
            rule(offset=HOUR),
            "offset",
            "rule pre_infusion: a before-infusion rule is timed from the infusion start "
            "and takes no offset; got 1:00:00",
            id="offset-before-infusion",
        ),
        pytest.param(
            rule(anchor=Anchor.BEFORE_FIRST_INFUSION, window_after=HOUR),
            "window_after",
            "rule pre_infusion: a before-infusion window closes when the infusion starts "
            "and takes no window_after; got 1:00:00",
            id="window-after-before-infusion",
        ),
        pytest.param(
            rule(window_before=ZERO),
            "window_before",
            "rule pre_infusion: a before-infusion rule needs a positive window_before",
            id="empty-before-infusion-window",
        ),
        pytest.param(
            weekly(interval=None),
            "interval",
            "rule weekly: a maintenance_weekly rule needs a positive interval; got None",
            id="weekly-without-interval",
        ),
        pytest.param(
            weekly(interval=ZERO),
            "interval",
            "rule weekly: a maintenance_weekly rule needs a positive interval; got 0:00:00",
            id="weekly-zero-interval",
        ),
        pytest.param(
            rule(interval=WEEK),
            "interval",
            "rule pre_infusion: only maintenance_weekly rules repeat; "
            "before_each_infusion takes no interval",
            id="interval-on-another-anchor",
        ),
        pytest.param(
            rule(instruments=("phq9", "madrs", "cadss")),
            "self_report",
            "rule pre_infusion: cadss, madrs is clinician-rated, so the rule cannot be self-report",
            id="clinician-rated-as-self-report",
        ),
        pytest.param(
            treatment(infusions=(SERIES[0], NAIVE)),
            "infusions",
            "infusion 2 start must be timezone-aware; got 2026-03-02T09:00:00",
            id="naive-infusion",
        ),
        pytest.param(
            treatment(infusions=(SERIES[1], SERIES[0])),
            "infusions",
            "infusion starts must be in increasing order; infusion 2 "
            "(2026-03-02T09:00:00+00:00) is not after infusion 1 (2026-03-04T09:00:00+00:00)",
            id="infusions-out-of-order",
        ),
        pytest.param(
            treatment(infusions=(SERIES[0], dt.datetime(2026, 3, 2, 4, tzinfo=NY))),
            "infusions",
            "infusion starts must be in increasing order; infusion 2 "
            "(2026-03-02T04:00:00-05:00) is not after infusion 1 (2026-03-02T09:00:00+00:00)",
            id="same-instant-twice",
        ),
        pytest.param(
            treatment(induction_count=0),
            "induction_count",
            "induction_count must be at least 1; got 0",
            id="no-induction",
        ),
        pytest.param(
            treatment(maintenance_started_at=NAIVE),
            "maintenance_started_at",
            "maintenance_started_at must be timezone-aware; got 2026-03-02T09:00:00",
            id="naive-maintenance-start",
        ),
        pytest.param(
            treatment(course_ended_at=NAIVE),
            "course_ended_at",
            "course_ended_at must be timezone-aware; got 2026-03-02T09:00:00",
            id="naive-course-end",
        ),
        pytest.param(
            lambda: Completion("", utc(3, 1)),
            "instrument",
            "a completion needs an instrument code",
            id="completion-without-instrument",
        ),
        pytest.param(
            lambda: Completion("phq9", NAIVE),
            "at",
            "at must be timezone-aware; got 2026-03-02T09:00:00",
            id="naive-completion",
        ),
        pytest.param(
            lambda: due_items([BASELINE], events(), [], now=NAIVE),
            "now",
            "now must be timezone-aware; got 2026-03-02T09:00:00",
            id="naive-now",
        ),
        pytest.param(
            lambda: due_items([BASELINE], events(), [], now=utc(3, 1), horizon=-DAY),
            "horizon",
            "horizon must not be negative; got -1 day, 0:00:00",
            id="negative-horizon",
        ),
        pytest.param(
            lambda: due_items([BASELINE, PRE_INFUSION, BASELINE], events(), [], now=utc(3, 1)),
            "plan",
            "rule keys must be unique; repeated: ['baseline']",
            id="repeated-rule-key",
        ),
    ],
)
def test_invalid_input_rejected(build: Callable[[], object], field: str, message: str) -> None:
    with pytest.raises(ClinicalValueError) as raised:
        build()

    assert (raised.value.field, raised.value.message) == (field, message)


def test_clinician_rated_rule_accepted_when_not_self_report() -> None:
    madrs = MeasurementRule(
        "madrs_pre", Anchor.BEFORE_EACH_INFUSION, ("madrs",), window_before=DAY, self_report=False
    )

    result = due_items([madrs], events(SERIES[:1]), [], now=utc(3, 1, 12))

    assert statuses(result) == [("madrs_pre", "madrs", 1, DUE)]


def test_before_each_infusion_from_a_later_infusion():
    rule = MeasurementRule(
        "pre", Anchor.BEFORE_EACH_INFUSION, ("phq9",), window_before=dt.timedelta(hours=24),
        from_infusion=2,
    )  # fmt: skip
    starts = tuple(dt.datetime(2026, 3, d, 14, tzinfo=dt.UTC) for d in (2, 4, 6))
    events = TreatmentEvents(infusions=starts, induction_count=3, maintenance_started_at=None)
    items = due_items([rule], events, [], now=starts[0] - dt.timedelta(days=2))
    assert [item.occasion for item in items] == [2, 3]


@pytest.mark.parametrize(
    ("anchor", "from_infusion"),
    [(Anchor.BEFORE_EACH_INFUSION, 0), (Anchor.BEFORE_FIRST_INFUSION, 2)],
)
def test_from_infusion_is_validated(anchor, from_infusion):
    with pytest.raises(ClinicalValueError) as excinfo:
        MeasurementRule(
            "r", anchor, ("phq9",), window_before=dt.timedelta(hours=1),
            from_infusion=from_infusion,
        )  # fmt: skip
    assert excinfo.value.field == "from_infusion"
