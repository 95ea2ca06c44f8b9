"""The diary index answers exactly as the reference: ``series.search_series`` with
``staffing.blocks`` as its staff, over the same visits, shifts and holds (the code the index
replaced, kept below as ``reference_search`` and ``reference_conflicts``).

Random sites (hypothesis): New York hours around the March and November clock changes (some
rows open over 02:00, so skipped and repeated wall times come up), a closed date, chairs in a
random order, overlapping bookings, nurse and prescriber shifts, ratios and prescriber phases,
every rule of ``SeriesRules``, availability, a preferred chair, a requested span, holds, the
patient's own visits and infusions. And an index made by random ``with_changes`` equals a
fresh one, array for array and answer for answer.
"""

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sustain_core import series, staffing
from sustain_core.diary import DiaryIndex, DiaryVisit
from sustain_core.errors import OutOfRange
from sustain_core.series import (
    Availability,
    ChairId,
    Chairs,
    Interval,
    OpeningHours,
    PatientDiary,
    SeriesResult,
    SeriesRules,
    SiteCalendar,
    Slot,
)

pytestmark = pytest.mark.core

NY = ZoneInfo("America/New_York")
PHASE = staffing.VisitPhaseName
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
# Mondays before the clock changes of 2027 (14 March, 7 November) and one in summer.
MONDAYS = (dt.date(2027, 3, 8), dt.date(2027, 11, 1), dt.date(2027, 6, 7))
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


def reference_search(
    index: DiaryIndex,
    rules: SeriesRules,
    *,
    phases: tuple[staffing.Phase, ...],
    chairs: Sequence[ChairId],
    held: Sequence[DiaryVisit] = (),
    **kwargs: object,
) -> SeriesResult:
    """The index's answer as it was computed before the index: the reference."""
    everything = [*index.visits.values(), *held]
    busy: dict[ChairId, list[Interval]] = {}
    for visit in everything:
        busy.setdefault(visit.chair, []).append(Interval(start=visit.start, end=visit.end))
    booked = [staffing.Visit(start=visit.start, phases=visit.phases) for visit in everything]

    def staff(start: dt.datetime, end: dt.datetime) -> tuple[staffing.Block, ...]:
        return staffing.blocks(
            index.staff_rules,
            phases=phases,
            nurse_shifts=index.nurse_shifts,
            prescriber_shifts=index.prescriber_shifts,
            booked=booked,
            start=start,
            end=end,
        )

    return series.search_series(
        rules,
        calendar=index.calendar,
        chairs=Chairs(order=tuple(chairs), busy=busy),
        staff=staff,
        **kwargs,  # type: ignore[arg-type]
    )


def reference_conflicts(
    index: DiaryIndex,
    slots: Sequence[Slot],
    *,
    phases: tuple[staffing.Phase, ...],
    held: Sequence[DiaryVisit] = (),
) -> list[str]:
    tz = index.calendar.tz
    everything = [*index.visits.values(), *held]
    found: list[str] = []
    for slot in slots:
        if any(
            visit.chair == slot.chair and visit.start < slot.end and slot.start < visit.end
            for visit in everything
        ):
            found.append(f"{slot.start.astimezone(tz):%a %d %b %H:%M}: the chair was taken")
    if index.staff_rules.checked and slots:
        starts = sorted(slot.start for slot in slots)
        blocks = staffing.blocks(
            index.staff_rules,
            phases=phases,
            nurse_shifts=index.nurse_shifts,
            prescriber_shifts=index.prescriber_shifts,
            booked=[staffing.Visit(start=v.start, phases=v.phases) for v in everything],
            start=starts[0] - DAY,
            end=starts[-1] + DAY,
        )
        found += [
            f"{start.astimezone(tz):%a %d %b}: {message}"
            for start in starts
            for message in staffing.conflicts(start, blocks, tz=tz)
        ]
    return found


def local(day: dt.date, minutes: int) -> dt.datetime:
    """``minutes`` after local midnight of ``day`` in New York, in UTC (real elapsed time)."""
    midnight = dt.datetime.combine(day, dt.time()).replace(tzinfo=NY).astimezone(dt.UTC)
    return midnight + minutes * MINUTE


@st.composite
def template(draw: st.DrawFn, minutes: int) -> tuple[staffing.Phase, ...]:
    """Phases filling ``minutes``: check-in, infusion, recovery, discharge (some left out)."""
    cuts = sorted(draw(st.lists(st.integers(0, minutes), min_size=3, max_size=3)))
    parts = [cuts[0], cuts[1] - cuts[0], cuts[2] - cuts[1], minutes - cuts[2]]
    return staffing.visit_phases(*parts)


@st.composite
def sites(draw: st.DrawFn) -> tuple[DiaryIndex, dt.date, list[ChairId]]:
    monday = draw(st.sampled_from(MONDAYS))
    rows: list[OpeningHours] = []
    for weekday in range(7):
        kind = draw(st.integers(0, 3))
        if kind == 1:
            rows.append(OpeningHours(weekday, dt.time(8), dt.time(18)))
        elif kind == 2:
            rows += [
                OpeningHours(weekday, dt.time(7, 30), dt.time(12)),
                OpeningHours(weekday, dt.time(13), dt.time(17, 45)),
            ]
        elif kind == 3:
            rows.append(OpeningHours(weekday, dt.time(0, 30), dt.time(6)))  # over 02:00
    closed = frozenset({monday + draw(st.integers(0, 20)) * DAY})
    calendar = SiteCalendar(tz=NY, hours=tuple(rows), closed_dates=closed)
    ratios = draw(st.dictionaries(st.sampled_from(list(PHASE)), st.sampled_from((1, 2, 3, 4, 6))))
    prescribing = draw(st.frozensets(st.sampled_from(list(PHASE))))
    rules = staffing.StaffRules(patients_per_nurse=ratios, prescriber_phases=prescribing)
    chairs = [ChairId(number) for number in range(1, draw(st.integers(1, 4)) + 1)]
    first, days = monday - 7 * DAY, 42
    visits: dict[int, DiaryVisit] = {}
    for key in range(draw(st.integers(0, 70))):
        day = first + draw(st.integers(0, days)) * DAY
        start = local(day, draw(st.integers(0, 96)) * 15 + draw(st.sampled_from((0, 0, 7))))
        minutes = draw(st.sampled_from((30, 45, 60, 90, 120, 240)))
        visits[key * 3 + 1] = DiaryVisit(
            chair=draw(st.sampled_from(chairs)),
            start=start,
            end=start + minutes * MINUTE,
            phases=draw(template(minutes)),
        )
    nurse_shifts, prescriber_shifts = [], []
    for offset in range(days):
        day = first + offset * DAY
        for _ in range(draw(st.integers(0, 2))):
            begins = draw(st.integers(0, 20)) * 60
            nurse_shifts.append(Interval(local(day, begins), local(day, begins + 600)))
        if draw(st.booleans()):
            begins = draw(st.integers(0, 12)) * 60
            prescriber_shifts.append(Interval(local(day, begins), local(day, begins + 540)))
    index = DiaryIndex(
        calendar=calendar,
        staff_rules=rules,
        nurse_shifts=nurse_shifts,
        prescriber_shifts=prescriber_shifts,
        visits=visits,
        version=1,
    )
    return index, monday, chairs


@st.composite
def requests(
    draw: st.DrawFn, monday: dt.date, chairs: list[ChairId]
) -> tuple[SeriesRules, dict[str, object]]:
    minutes = draw(st.sampled_from((30, 60, 90, 120)))
    duration = minutes * MINUTE
    min_gap = draw(st.sampled_from((0, 1, 24, 48))) * HOUR
    max_span = max(draw(st.integers(1, 14)) * DAY, duration)
    rules = SeriesRules(
        count=draw(st.integers(1, 4)),
        min_gap=min_gap,
        max_span=max_span,
        max_gap=draw(st.sampled_from((None, min_gap + 24 * HOUR, min_gap + 96 * HOUR))),
        weekdays=draw(st.none() | st.frozensets(st.integers(0, 6), min_size=1)),
        max_per_week=draw(st.none() | st.integers(1, 3)),
    )
    order = draw(st.permutations([*chairs, ChairId(9)]))  # chair 9 has no bookings
    availability = draw(
        st.none()
        | st.builds(
            Availability,
            weekdays=st.none() | st.frozensets(st.integers(0, 6), min_size=1),
            windows=st.sampled_from(
                (
                    (),
                    ((dt.time(8), dt.time(12)),),
                    ((dt.time(1), dt.time(4)), (dt.time(13), dt.time(18))),
                )
            ),
            blackout_dates=st.frozensets(
                st.integers(0, 20).map(lambda offset: monday + offset * DAY), max_size=4
            ),
        )
    )
    busy = [
        Interval(start, start + draw(st.integers(1, 6)) * 30 * MINUTE)
        for start in draw(
            st.lists(
                st.integers(0, 20 * 96).map(lambda quarter: local(monday, quarter * 15)),
                max_size=3,
            )
        )
    ]
    infusions = draw(
        st.lists(st.integers(-2 * 96, 20 * 96).map(lambda q: local(monday, q * 15)), max_size=2)
    )
    span = draw(
        st.none() | st.integers(0, 4).map(lambda days: max(duration, max_span - days * DAY))
    )
    earliest = local(monday, draw(st.integers(0, 3 * 96)) * 15 + draw(st.sampled_from((0, 5))))
    # Holds close to the earliest start, where the series asked for is looked for first.
    held = [
        DiaryVisit(
            chair=draw(st.sampled_from(order)),
            start=(start := earliest + draw(st.integers(0, 4 * 96)) * 15 * MINUTE),
            end=start + duration,
            phases=draw(template(minutes)),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    return rules, {
        "earliest": earliest,
        "duration": duration,
        "phases": draw(template(minutes)),
        "chairs": order,
        "patient": PatientDiary(busy=busy, availability=availability, infusions=infusions),
        "held": held,
        "requested_span": span,
        "preferred_chair": draw(st.none() | st.sampled_from(order)),
        "step": draw(st.sampled_from((15, 15, 30, 60, 25))) * MINUTE,
        "horizon": draw(st.integers(1, 21)) * DAY,
        "max_alternatives": draw(st.integers(0, 5)),
    }


@SETTINGS
@given(st.data())
def test_search_answers_as_the_reference(data: st.DataObject) -> None:
    index, monday, chairs = data.draw(sites())
    for _ in range(3):
        rules, request = data.draw(requests(monday, chairs))
        assert index.search(rules, **request) == reference_search(index, rules, **request)  # type: ignore[arg-type]


def arrays(index: DiaryIndex) -> dict[str, object]:
    """Everything an index derives from its visits, as plain lists."""
    return {
        "chairs": {
            chair: [
                busy.keys.tolist(),
                busy.starts.tolist(),
                busy.ends.tolist(),
                busy.reach.tolist(),
            ]
            for chair, busy in index._chairs.items()
        },
        "columns": index._columns,
        "spare": [
            index._spare.at.tolist(),
            index._spare.change.tolist(),
            index._spare.value.tolist(),
        ],
        "prescribers": index._prescribers.at.tolist(),
    }


@SETTINGS
@given(st.data())
def test_with_changes_equals_a_fresh_index(data: st.DataObject) -> None:
    index, monday, chairs = data.draw(sites())
    rules, request = data.draw(requests(monday, chairs))
    index.search(rules, **request)  # type: ignore[arg-type]  # fills its caches
    changed = index
    for version in range(2, data.draw(st.integers(1, 4)) + 2):
        keys = list(changed.visits)
        removed = data.draw(
            st.lists(st.sampled_from(keys or [0]) | st.integers(0, 500), max_size=4)
        )
        added = {
            data.draw(st.sampled_from(keys or [0]) | st.integers(1000, 1100)): DiaryVisit(
                chair=data.draw(st.sampled_from([*chairs, ChairId(7)])),
                start=(start := local(monday, data.draw(st.integers(0, 10 * 96)) * 15)),
                end=start + HOUR,
                phases=data.draw(template(60)),
            )
            for _ in range(data.draw(st.integers(0, 3)))
        }
        changed = changed.with_changes(version=version, removed=removed, added=added)
        assert changed.version == version
        # The same request again: whatever its caches kept must still hold.
        assert changed.search(rules, **request) == reference_search(changed, rules, **request)  # type: ignore[arg-type]
    fresh = DiaryIndex(
        calendar=index.calendar,
        staff_rules=index.staff_rules,
        nurse_shifts=index.nurse_shifts,
        prescriber_shifts=index.prescriber_shifts,
        visits=changed.visits,
    )
    assert arrays(changed) == arrays(fresh)
    # What the changed index kept from its caches is what a fresh index builds.
    for (duration, step, week), (_, _, free) in changed._free.items():
        assert free.tolist() == fresh._week(duration, step, (), week)[1].tolist()
    for (duration, step, needs, week), (_, _, staffed) in changed._staffed.items():
        assert staffed.tolist() == fresh._week(duration, step, needs, week)[2].tolist()
    for _ in range(2):
        rules, request = data.draw(requests(monday, chairs))
        assert changed.search(rules, **request) == fresh.search(rules, **request)  # type: ignore[arg-type]
        assert changed.search(rules, **request) == reference_search(changed, rules, **request)  # type: ignore[arg-type]
    assert index.search(rules, **request) == reference_search(index, rules, **request)  # type: ignore[arg-type]


@SETTINGS
@given(st.data())
def test_conflicts_as_the_reference(data: st.DataObject) -> None:
    index, monday, chairs = data.draw(sites())
    _, request = data.draw(requests(monday, chairs))
    slots = [
        Slot(chair=data.draw(st.sampled_from([*chairs, ChairId(9)])), start=start, end=start + HOUR)
        for start in data.draw(
            st.lists(st.integers(0, 14 * 96).map(lambda q: local(monday, q * 15)), max_size=4)
        )
    ]
    phases = data.draw(template(60))
    held = request["held"]
    assert index.conflicts(slots, phases=phases, held=held) == reference_conflicts(  # type: ignore[arg-type]
        index,
        slots,
        phases=phases,
        held=held,  # type: ignore[arg-type]
    )


SUNDAY_NIGHTS = SiteCalendar(
    tz=NY, hours=(OpeningHours(6, dt.time(0, 30), dt.time(6)),)
)  # over 02:00, when the clocks change
ONE_HOUR_VISIT = staffing.visit_phases(10, 30, 20, 0)
CHECKED = staffing.StaffRules(
    patients_per_nurse={PHASE.INFUSION: 2}, prescriber_phases=frozenset({PHASE.INFUSION})
)


def night_index(calendar: SiteCalendar = SUNDAY_NIGHTS) -> DiaryIndex:
    march = dt.date(2027, 3, 14)
    return DiaryIndex(
        calendar=calendar,
        staff_rules=CHECKED,
        nurse_shifts=[Interval(local(march, 0), local(march, 8 * 60))],
        prescriber_shifts=[Interval(local(march, 0), local(march, 8 * 60))],
        visits={1: DiaryVisit(ChairId(1), local(march, 60), local(march, 120), ONE_HOUR_VISIT)},
    )


def night_search(index: DiaryIndex) -> SeriesResult:
    return index.search(
        SeriesRules(count=1, min_gap=dt.timedelta(0), max_span=DAY),
        earliest=local(dt.date(2027, 3, 14), 0),
        duration=HOUR,
        phases=ONE_HOUR_VISIT,
        chairs=[ChairId(1)],
        patient=PatientDiary(),
        horizon=DAY,
    )


def test_the_hour_the_clocks_skip_is_not_offered() -> None:
    """14 March 2027: 02:00–03:00 does not exist in New York. Chair 1 is taken for the real
    hour from 01:00 EST (06:00 UTC), which ends at 03:00 EDT on the wall clock, so the first
    free hour starts at 03:00 EDT = 07:00 UTC; no wall time from 02:00 to 02:45 is offered."""
    index = night_index()
    found = night_search(index)
    assert found.series is not None
    assert found.series[0].start == dt.datetime(2027, 3, 14, 7, tzinfo=dt.UTC)
    assert found == reference_search(
        index,
        SeriesRules(count=1, min_gap=dt.timedelta(0), max_span=DAY),
        earliest=local(dt.date(2027, 3, 14), 0),
        duration=HOUR,
        phases=ONE_HOUR_VISIT,
        chairs=[ChairId(1)],
        patient=PatientDiary(),
        horizon=DAY,
    )


def test_warm_builds_what_a_search_would() -> None:
    index = night_index()
    index.warm(
        duration=HOUR,
        phases=ONE_HOUR_VISIT,
        start=local(dt.date(2027, 3, 8), 0),
        end=local(dt.date(2027, 3, 21), 0),
    )
    assert len(index._grids) == len(index._free) == len(index._staffed) == 2
    assert night_search(index) == night_search(night_index())
    assert len(index._grids) == 2  # the search found its week built


def test_an_index_is_never_changed() -> None:
    """``with_changes`` leaves the index it started from as it was, caches included, and no
    array of an index can be written."""
    index = night_index()
    before = night_search(index)
    moved = index.with_changes(
        version=2,
        removed=[1],
        added={
            2: DiaryVisit(
                ChairId(1),
                local(dt.date(2027, 3, 14), 0),
                local(dt.date(2027, 3, 14), 5 * 60),
                ONE_HOUR_VISIT,
            )
        },
    )
    assert night_search(moved) != before
    assert night_search(index) == before
    assert index.version == 0 and list(index.visits) == [1]
    with pytest.raises(ValueError, match="read-only"):
        index._chairs[ChairId(1)].starts[0] = 0
    with pytest.raises(ValueError, match="read-only"):
        index._spare.value[0] = 0


def test_bad_requests_raise_as_the_reference() -> None:
    index = night_index()
    rules = SeriesRules(count=1, min_gap=dt.timedelta(0), max_span=DAY)
    with pytest.raises(OutOfRange, match="requested_span"):
        index.search(
            rules,
            earliest=local(dt.date(2027, 3, 14), 0),
            duration=HOUR,
            phases=ONE_HOUR_VISIT,
            chairs=[ChairId(1)],
            patient=PatientDiary(),
            requested_span=2 * DAY,
        )
    with pytest.raises(OutOfRange, match="count"):
        index.search(
            SeriesRules(count=0, min_gap=dt.timedelta(0), max_span=DAY),
            earliest=local(dt.date(2027, 3, 14), 0),
            duration=HOUR,
            phases=ONE_HOUR_VISIT,
            chairs=[ChairId(1)],
            patient=PatientDiary(),
        )


def test_holds_load_the_staff() -> None:
    """One nurse, 1:1 while infusing (minutes 10–40 of each visit). Two holds infusing from
    07:10 UTC on chairs 2 and 3 leave no nurse until 07:40, so chair 1's first free hour
    after its visit starts at 07:30, not 07:00 as without the holds."""
    march = dt.date(2027, 3, 14)
    index = DiaryIndex(
        calendar=SUNDAY_NIGHTS,
        staff_rules=staffing.StaffRules(patients_per_nurse={PHASE.INFUSION: 1}),
        nurse_shifts=[Interval(local(march, 0), local(march, 8 * 60))],
        prescriber_shifts=[],
        visits={1: DiaryVisit(ChairId(1), local(march, 60), local(march, 120), ONE_HOUR_VISIT)},
    )
    held = [
        DiaryVisit(ChairId(chair), local(march, 120), local(march, 180), ONE_HOUR_VISIT)
        for chair in (2, 3)
    ]
    request = {
        "earliest": local(march, 0),
        "duration": HOUR,
        "phases": ONE_HOUR_VISIT,
        "chairs": [ChairId(1)],
        "patient": PatientDiary(),
        "horizon": DAY,
    }
    rules = SeriesRules(count=1, min_gap=dt.timedelta(0), max_span=DAY)
    for holds, hour in (((), 7), (held, 7.5)):
        found = index.search(rules, held=holds, **request)  # type: ignore[arg-type]
        assert found.series is not None
        assert found.series[0].start == dt.datetime(2027, 3, 14, tzinfo=dt.UTC) + hour * HOUR
        assert found == reference_search(index, rules, held=holds, **request)  # type: ignore[arg-type]


def test_a_change_rebuilds_the_weeks_it_touches() -> None:
    """A search fills the index's week caches; a visit added on another chair (staff only) or
    on a searched chair (the chair too) must move the answer as a fresh index does."""
    march = dt.date(2027, 3, 14)
    index = DiaryIndex(
        calendar=SUNDAY_NIGHTS,
        staff_rules=staffing.StaffRules(patients_per_nurse={PHASE.INFUSION: 1}),
        nurse_shifts=[Interval(local(march, 0), local(march, 8 * 60))],
        prescriber_shifts=[],
        visits={
            1: DiaryVisit(ChairId(1), local(march, 60), local(march, 120), ONE_HOUR_VISIT),
            3: DiaryVisit(ChairId(2), local(march, 300), local(march, 360), ONE_HOUR_VISIT),
        },
    )
    request = {
        "earliest": local(march, 0),
        "duration": HOUR,
        "phases": ONE_HOUR_VISIT,
        "chairs": [ChairId(1), ChairId(2)],
        "patient": PatientDiary(),
        "horizon": DAY,
    }
    rules = SeriesRules(count=1, min_gap=dt.timedelta(0), max_span=DAY)
    first = index.search(rules, **request)  # type: ignore[arg-type]
    assert first.series == (Slot(ChairId(2), local(march, 30), local(march, 90)),)
    check_in_only = staffing.visit_phases(60, 0, 0, 0)  # no load on the nurses
    for chair, phases in ((3, ONE_HOUR_VISIT), (2, check_in_only)):
        changed = index.with_changes(
            version=2,
            added={2: DiaryVisit(ChairId(chair), local(march, 30), local(march, 90), phases)},
        )
        found = changed.search(rules, **request)  # type: ignore[arg-type]
        assert found != first
        assert found == reference_search(changed, rules, **request)  # type: ignore[arg-type]


def test_a_chair_whose_last_visit_goes_leaves_the_index() -> None:
    index = night_index()
    night_search(index)
    emptied = index.with_changes(version=2, removed=[1])
    fresh = DiaryIndex(
        calendar=SUNDAY_NIGHTS,
        staff_rules=CHECKED,
        nurse_shifts=index.nurse_shifts,
        prescriber_shifts=index.prescriber_shifts,
        visits={},
    )
    assert emptied._chairs == {} and arrays(emptied) == arrays(fresh)
    assert night_search(emptied) == night_search(fresh) != night_search(index)
