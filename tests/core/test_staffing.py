"""Nurse load per visit phase, prescriber presence, and how they limit a series search."""

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sustain_core.errors import ClinicalValueError, NoSeriesFound, OutOfRange
from sustain_core.protocols import (
    DEPRESSION_INDUCTION_V1,
    ChairCapability,
    VisitTemplate,
    get_protocol,
    protocol_from_dict,
    protocol_to_dict,
)
from sustain_core.series import (
    ChairId,
    Chairs,
    Interval,
    OpeningHours,
    PatientDiary,
    SeriesRules,
    SiteCalendar,
    plan_series,
    search_series,
)
from sustain_core.staffing import (
    Block,
    Phase,
    Segment,
    StaffRules,
    Visit,
    VisitPhaseName,
    blocks,
    conflicts,
    profile,
    visit_phases,
)

pytestmark = pytest.mark.core

NY = ZoneInfo("America/New_York")
MINUTE = dt.timedelta(minutes=1)
DAY = dt.date(2026, 12, 7)  # a Monday
PHASES = DEPRESSION_INDUCTION_V1.visit_phases  # 15 check-in, 40 infusion, 60 recovery, 5 out
RULES = StaffRules(
    patients_per_nurse={
        VisitPhaseName.CHECK_IN: 2,
        VisitPhaseName.INFUSION: 4,
        VisitPhaseName.RECOVERY: 6,
    },
    prescriber_phases=frozenset({VisitPhaseName.INFUSION}),
)
CHAIR = ChairId(1)


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), NY)


def shift(start: dt.datetime, hours: float) -> Interval:
    return Interval(start=start, end=start + dt.timedelta(hours=hours))


def day(**inputs: object) -> dict[str, Any]:
    """A day at the site: one nurse and one prescriber 8:00–17:00, nothing booked."""
    defaults: dict[str, object] = {
        "nurse_shifts": [shift(at(8), 9)],
        "prescriber_shifts": [shift(at(8), 9)],
        "booked": [],
        "start": at(0),
        "end": at(0, day=DAY + dt.timedelta(days=1)),
    }
    return defaults | inputs


def staffed(rules: StaffRules = RULES, **inputs: object) -> list[Segment]:
    return profile(rules, **day(**inputs))


def segment_at(segments: list[Segment], instant: dt.datetime) -> Segment:
    return next(s for s in segments if s.start <= instant < s.end)


def test_the_depression_visit_is_check_in_infusion_recovery_discharge() -> None:
    assert [(p.name, p.offset // MINUTE, p.length // MINUTE) for p in PHASES] == [
        ("check_in", 0, 15),
        ("infusion", 15, 40),
        ("recovery", 55, 60),
        ("discharge", 115, 5),
    ]
    assert DEPRESSION_INDUCTION_V1.visit_length == dt.timedelta(hours=2)


def test_the_crps_visit_needs_an_extended_chair_for_5_h_20_min() -> None:
    crps = get_protocol("crps-schwartzman-2009", 1)

    assert crps.visit.chair_needs == frozenset({ChairCapability.EXTENDED})
    assert crps.visit_length == dt.timedelta(hours=5, minutes=20)


def test_a_phase_of_no_minutes_is_left_out() -> None:
    protocol = dataclasses.replace(
        DEPRESSION_INDUCTION_V1, visit=VisitTemplate(check_in_minutes=0, discharge_minutes=0)
    )

    assert [p.name for p in protocol.visit_phases] == ["infusion", "recovery"]
    assert protocol.visit_phases[0].offset == dt.timedelta(0)
    assert protocol.visit_length == dt.timedelta(minutes=100)


def test_visit_phases_builds_each_phase_from_the_end_of_the_one_before() -> None:
    assert visit_phases(10, 0, 30, 5) == (
        Phase(VisitPhaseName.CHECK_IN, dt.timedelta(0), 10 * MINUTE),
        Phase(VisitPhaseName.RECOVERY, 10 * MINUTE, 30 * MINUTE),
        Phase(VisitPhaseName.DISCHARGE, 40 * MINUTE, 5 * MINUTE),
    )
    assert visit_phases(0, 0, 0, 0) == ()


def test_visit_phases_of_the_same_minutes_are_one_tuple() -> None:
    # The staffing sweep works out a template's load changes once per phases tuple.
    phases = visit_phases(15, 40, 60, 5)

    assert visit_phases(15, 40, 60, 5) is phases
    assert DEPRESSION_INDUCTION_V1.visit_phases is phases
    assert dataclasses.replace(DEPRESSION_INDUCTION_V1, notes="copy").visit_phases is phases


@pytest.mark.parametrize(
    ("visit", "message"),
    [
        ({"recovery_minutes": -1}, "visit.recovery_minutes must be from 0 to 600 minutes; got -1"),
        ({"check_in_minutes": 601},
         "visit.check_in_minutes must be from 0 to 600 minutes; got 601"),
        ({"chair_needs": ["hyperbaric"]}, "visit.chair_needs must be a list of extended, "
         "cardiac_monitor; got ['hyperbaric']"),
        ({"chairs": 1}, "unknown field visit.chairs"),
    ],
)  # fmt: skip
def test_a_visit_template_is_checked_when_read(visit: dict[str, object], message: str) -> None:
    data = protocol_to_dict(DEPRESSION_INDUCTION_V1)
    data["visit"] = visit

    with pytest.raises(ClinicalValueError) as raised:
        protocol_from_dict(data)

    assert (raised.value.field, raised.value.message) == ("visit", message)


def test_a_protocol_without_a_visit_table_gets_the_default_template() -> None:
    data = protocol_to_dict(DEPRESSION_INDUCTION_V1)
    del data["visit"]

    assert protocol_from_dict(data).visit == VisitTemplate()


def test_chair_needs_survive_the_round_trip() -> None:
    crps = get_protocol("crps-schwartzman-2009", 1)

    assert protocol_to_dict(crps)["visit"]["chair_needs"] == ["extended"]  # type: ignore[index]
    assert protocol_from_dict(protocol_to_dict(crps)) == crps


@pytest.mark.parametrize("ratio", [0, 13, True, "4", 1.5])
def test_a_ratio_must_be_1_to_12_patients(ratio: object) -> None:
    with pytest.raises(OutOfRange) as raised:
        StaffRules(patients_per_nurse={"infusion": ratio})  # type: ignore[dict-item]

    assert raised.value.field == "patients_per_nurse"
    assert raised.value.message == (
        f"patients per nurse in infusion must be a whole number from 1 to 12; got {ratio!r}"
    )


def test_empty_rules_check_nothing() -> None:
    assert not StaffRules().checked
    assert StaffRules(prescriber_phases=frozenset({"infusion"})).checked
    assert blocks(StaffRules(), phases=PHASES, **day()) == ()


def test_profile_counts_each_phase_as_its_share_of_a_nurse() -> None:
    # Two infusing at 1:4 and three recovering at 1:6 need 2/4 + 3/6 = 1 nurse.
    booked = [Visit(start=at(9), phases=PHASES) for _ in range(2)]
    booked += [Visit(start=at(8, 5), phases=PHASES) for _ in range(3)]  # recovering 9:00–10:00
    segments = staffed(booked=booked)

    busiest = segment_at(segments, at(9, 20))
    assert (busiest.nurses, busiest.nurse_load, busiest.prescribers) == (1, Fraction(1), 1)
    assert busiest.needs_prescriber
    assert not busiest.short
    assert segment_at(segments, at(9, 5)).nurse_load == Fraction(2, 2) + Fraction(3, 6)
    assert segment_at(segments, at(9, 5)).short


def test_profile_segments_cover_the_window_without_gaps() -> None:
    segments = staffed(booked=[Visit(start=at(10), phases=PHASES)])

    assert segments[0].start == at(0)
    assert segments[-1].end == at(0, day=DAY + dt.timedelta(days=1))
    assert all(a.end == b.start for a, b in itertools.pairwise(segments))
    assert [(s.start.astimezone(NY).time(), s.nurse_load) for s in segments] == [
        (dt.time(0), 0),
        (dt.time(8), 0),
        (dt.time(10), Fraction(1, 2)),
        (dt.time(10, 15), Fraction(1, 4)),
        (dt.time(10, 55), Fraction(1, 6)),
        (dt.time(11, 55), 0),  # discharge is not counted by these rules
        (dt.time(17), 0),
    ]


def test_profile_clips_to_its_window_and_skips_what_lies_outside() -> None:
    segments = staffed(
        nurse_shifts=[shift(at(6), 4)],  # 6:00–10:00, the window starts at 8:00
        prescriber_shifts=[shift(at(20), 2)],  # after the window
        booked=[
            Visit(start=at(7, 30), phases=PHASES),  # infusing 7:45–8:25, into the window
            Visit(start=at(12), phases=PHASES),  # after the window
            Visit(start=at(5), phases=PHASES),  # over before it
        ],
        start=at(8),
        end=at(11),
    )

    assert [(s.start.astimezone(NY).time(), s.nurses, s.nurse_load, s.needs_prescriber)
            for s in segments] == [
        (dt.time(8), 1, Fraction(1, 4), True),
        (dt.time(8, 25), 1, Fraction(1, 6), False),
        (dt.time(9, 25), 1, 0, False),
        (dt.time(10), 0, 0, False),
    ]  # fmt: skip
    assert segments[0].short  # an infusion and no prescriber on site


def test_profile_needs_a_window_that_ends_after_it_starts() -> None:
    with pytest.raises(ClinicalValueError) as raised:
        staffed(start=at(9), end=at(9))

    assert raised.value.field == "end"


def test_blocks_say_where_each_phase_of_a_new_visit_cannot_go() -> None:
    # One nurse 8:00–17:00 and a prescriber 8:00–12:00; four patients infusing 9:15–9:55.
    booked = [Visit(start=at(9), phases=PHASES) for _ in range(4)]
    found = blocks(RULES, phases=PHASES, **day(booked=booked, prescriber_shifts=[shift(at(8), 4)]))

    assert [(b.phase.name, b.why) for b in found] == [
        ("check_in", "no nurse free for another patient in check in (1:2)"),
        ("infusion", "no nurse free for another patient in infusion (1:4)"),
        ("infusion", "no prescriber on site during the infusion"),
        ("recovery", "no nurse free for another patient in recovery (1:6)"),
    ]
    assert conflicts(at(11), found, tz=NY) == []
    # At 10:00 the four are recovering (4/6 of the nurse): a check-in needs 1/2.
    assert conflicts(at(10), found, tz=NY) == [
        "no nurse free for another patient in check in (1:2) (10:00–10:15)"
    ]
    assert conflicts(at(9), found, tz=NY) == [
        "no nurse free for another patient in check in (1:2) (09:00–09:15)",
        "no nurse free for another patient in infusion (1:4) (09:15–09:55)",
    ]
    assert conflicts(at(11, 30), found, tz=NY) == [
        "no prescriber on site during the infusion (11:45–12:25)"
    ]
    # Before 8:00 and after 17:00 there is no nurse; before midnight nothing is known.
    assert conflicts(at(7), found, tz=NY)[0].startswith("no nurse free")
    assert conflicts(at(16), found, tz=NY) != []
    day_before = at(23, day=DAY - dt.timedelta(days=1))
    assert len(conflicts(day_before, found, tz=NY)) == 4


def test_a_series_search_leaves_out_visits_the_staff_cannot_take() -> None:
    # A site open 8:00–12:00 with one nurse all day and a prescriber only from 10:00.
    hours = [OpeningHours(day, dt.time(8), dt.time(12)) for day in range(5)]
    fortnight = day(
        nurse_shifts=[shift(at(8, day=DAY + dt.timedelta(days=d)), 4) for d in range(14)],
        prescriber_shifts=[shift(at(10, day=DAY + dt.timedelta(days=d)), 2) for d in range(14)],
        end=at(0, day=DAY + dt.timedelta(days=14)),
    )
    rules = SeriesRules(count=3, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=7))
    inputs: dict[str, Any] = {
        "duration": DEPRESSION_INDUCTION_V1.visit_length, "earliest": at(0),
        "calendar": SiteCalendar(tz=NY, hours=tuple(hours)),
        "chairs": Chairs(order=(CHAIR,)), "patient": PatientDiary(),
        "horizon": dt.timedelta(days=3),
    }  # fmt: skip
    unstaffed = plan_series(rules, **inputs)
    staffed_series = plan_series(
        rules, **inputs, staff_blocks=blocks(RULES, phases=PHASES, **fortnight)
    )

    assert [s.start.astimezone(NY).time() for s in unstaffed] == [dt.time(8)] * 3
    # The infusion starts 15 min in, so 9:45 is the first start with a prescriber for it.
    assert [s.start.astimezone(NY).time() for s in staffed_series] == [dt.time(9, 45)] * 3

    nobody = blocks(RULES, phases=PHASES, **day(nurse_shifts=[], prescriber_shifts=[]))
    with pytest.raises(NoSeriesFound) as raised:
        plan_series(rules, **inputs, staff_blocks=nobody)
    assert "in a free chair within opening hours, with the nurses and prescriber it needs on " \
        "shift, starts" in raised.value.message  # fmt: skip


def test_a_prescriber_all_day_blocks_nothing_inside_the_window() -> None:
    rules = StaffRules(prescriber_phases=frozenset({VisitPhaseName.INFUSION}))
    inputs = day(
        nurse_shifts=[],
        prescriber_shifts=[shift(at(7), 12)],
        booked=[Visit(start=at(9), phases=PHASES)],
        start=at(8),
        end=at(17),
    )
    segments = profile(rules, **inputs)
    (found,) = blocks(rules, phases=PHASES, **inputs)

    assert [s.needs_prescriber for s in segments] == [False, True, False]
    assert list(found.busy) == [
        (at(8) - dt.timedelta(days=3650), at(8)),
        (at(17), at(17) + dt.timedelta(days=3650)),
    ]


def test_search_series_asks_for_the_look_ahead_first_and_the_horizon_only_when_needed() -> None:
    hours = [OpeningHours(weekday, dt.time(8), dt.time(12)) for weekday in range(5)]
    asked: list[tuple[dt.datetime, dt.datetime]] = []

    def staff_from(first_day: int) -> Callable[[dt.datetime, dt.datetime], tuple[Block, ...]]:
        """Nurse and prescriber weekdays 8:00–12:00 from DAY + first_day."""
        days = [DAY + dt.timedelta(days=d) for d in range(first_day, 90)]

        def staff(start: dt.datetime, end: dt.datetime) -> tuple[Block, ...]:
            asked.append((start, end))
            return blocks(
                RULES,
                phases=PHASES,
                **day(
                    nurse_shifts=[shift(at(8, day=d), 4) for d in days],
                    prescriber_shifts=[shift(at(8, day=d), 4) for d in days],
                    start=start,
                    end=end,
                ),
            )

        return staff

    inputs: dict[str, Any] = {
        "earliest": at(0), "calendar": SiteCalendar(tz=NY, hours=tuple(hours)),
        "chairs": Chairs(order=(CHAIR,)), "patient": PatientDiary(),
        "duration": DEPRESSION_INDUCTION_V1.visit_length,
    }  # fmt: skip

    soon = search_series(DEPRESSION_INDUCTION_V1.series, **inputs, staff=staff_from(0))
    assert soon.series is not None and soon.series[0].start == at(8)
    assert asked == [(at(0), at(0) + dt.timedelta(days=7 + 21))]

    asked.clear()
    late = search_series(
        DEPRESSION_INDUCTION_V1.series, **inputs, staff=staff_from(14)
    )  # nobody for two weeks
    assert late.series is None
    assert [a.kind for a in late.alternatives] == ["later_start"]
    assert late.alternatives[0].slots[0].start == at(8, day=DAY + dt.timedelta(days=14))
    assert asked == [
        (at(0), at(0) + dt.timedelta(days=7 + 21)),
        (at(0), at(0) + dt.timedelta(days=60 + 21)),
    ]
