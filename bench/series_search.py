"""Series search benchmark: `python bench/series_search.py`. Prints a Markdown table.

A site of 12 chairs open Monday to Friday 08:00–18:00 (America/New_York) with a year of
existing bookings, generated deterministically: about 25,000 visits. Each chair-day is filled
with visits of 40 min to 1 h 15 min and short turnovers, with a free stretch of 2–3 hours about
one time in ten, as a busy infusion clinic's diary looks. (A year of 2-hour visits cannot reach
25,000 here: 12 chairs × 261 days × 10 h hold at most 15,660 of them.)

50 searches for a 6-visit protocol (starts at least 48 h apart, all within 21 days, 2-hour
visits) from different start days. Each patient has a few appointments of their own; some are
free only in the morning or on Monday, Wednesday and Friday, some are away for the first week
(so the series asked for does not fit and alternatives are searched), and some also ask for
chair 1 and a 14-day span.

Staff: four nurses a weekday (two 07:45–16:15, two 09:45–18:00) and a prescriber 08:00–18:00
(Fridays until 14:00); 1 nurse to 2 patients checking in, 4 infusing and 6 recovering, and a
prescriber on site for every infusion. The existing visits weigh on the nurses too (10 min
check-in, the rest infusing). Each timed search is what the booking screen does:
``series.search_series`` with ``staff`` giving ``staffing.blocks`` for the windows it asks for
(the look-ahead first, the whole horizon only when needed; the busy data are indexed inside
every call). Then the same request goes through ``series_cpsat.solve_series_cpsat`` with the
blocks over the whole 120-day window, with a time limit per instance. The two earliest
series (the series asked for, or else the later-start alternative) must be identical.
"""

import dataclasses
import datetime as dt
import random
import statistics
import sys
import time
import zoneinfo
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from sustain_core import series, series_cpsat, staffing
from sustain_core.protocols import DEPRESSION_INDUCTION_V1

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
FIRST_DAY = dt.date(2027, 1, 4)  # a Monday
CHAIRS = tuple(series.ChairId(number) for number in range(1, 13))  # chair primary keys
HOURS = tuple(series.OpeningHours(day, dt.time(8), dt.time(18)) for day in range(5))
CALENDAR = series.SiteCalendar(tz=NEW_YORK, hours=HOURS)
RULES = series.SeriesRules(count=6, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=21))
VISIT = DEPRESSION_INDUCTION_V1.visit_length  # 15 min check-in, 40 infusing, 60 recovering, 5 out
PHASES = DEPRESSION_INDUCTION_V1.visit_phases
PHASE = staffing.VisitPhaseName
STAFF = staffing.StaffRules(
    patients_per_nurse={PHASE.CHECK_IN: 2, PHASE.INFUSION: 4, PHASE.RECOVERY: 6},
    prescriber_phases=frozenset({PHASE.INFUSION}),
)
WINDOW = dt.timedelta(days=120)  # the diary scheduling.services.propose_series reads
SEARCHES = 50
CPSAT_LIMIT_S = 60.0
MORNINGS = ((dt.time(8), dt.time(12)),)


@dataclass(frozen=True)
class Request:
    earliest: dt.datetime
    own: tuple[series.Interval, ...]
    availability: series.Availability | None = None
    preferred_chair: series.ChairId | None = None
    requested_span: dt.timedelta | None = None


def utc(day: dt.date, minutes: int) -> dt.datetime:
    """The instant `minutes` after local midnight on `day`, in UTC as the database returns it."""
    wall = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes)
    return wall.replace(tzinfo=NEW_YORK).astimezone(dt.UTC)


def year_of_bookings(rng: random.Random) -> dict[series.ChairId, list[series.Interval]]:
    busy: dict[series.ChairId, list[series.Interval]] = {chair: [] for chair in CHAIRS}
    for offset in range(365):
        day = FIRST_DAY + dt.timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for chair in CHAIRS:
            minute, closes = 8 * 60, 18 * 60
            while True:
                free = (120, 150, 180) if rng.random() < 0.1 else (0, 0, 0, 15, 15, 30)
                minute += rng.choice(free)
                length = rng.choice((40, 40, 40, 45, 60, 75))
                if minute + length > closes:
                    break
                busy[chair].append(series.Interval(utc(day, minute), utc(day, minute + length)))
                minute += length
    return busy


def existing_visits(busy: dict[series.ChairId, list[series.Interval]]) -> list[staffing.Visit]:
    """The visits' phases: 10 min check-in, the rest infusing (``staffing.visit_phases`` gives
    one phases tuple per length)."""
    visits = []
    for intervals in busy.values():
        for interval in intervals:
            minutes = (interval.end - interval.start) // dt.timedelta(minutes=1)
            phases = staffing.visit_phases(10, minutes - 10, 0, 0)
            visits.append(staffing.Visit(start=interval.start, phases=phases))
    return visits


def shifts() -> tuple[list[series.Interval], list[series.Interval]]:
    nurses, prescribers = [], []
    for offset in range(365 + 180):
        day = FIRST_DAY + dt.timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for start, end in ((7 * 60 + 45, 16 * 60 + 15),) * 2 + ((9 * 60 + 45, 18 * 60),) * 2:
            nurses.append(series.Interval(utc(day, start), utc(day, end)))
        until = 14 * 60 if day.weekday() == 4 else 18 * 60
        prescribers.append(series.Interval(utc(day, 8 * 60), utc(day, until)))
    return nurses, prescribers


def requests(rng: random.Random) -> list[Request]:
    made = []
    for number in range(SEARCHES):
        # Different start days across the first ten months (the year covers the horizon).
        day = FIRST_DAY + dt.timedelta(days=number * 6 + rng.randint(0, 5))
        own = []
        for _ in range(rng.randint(0, 3)):
            visit_day = day + dt.timedelta(days=rng.randint(0, 20))
            start = rng.randint(8 * 4, 16 * 4) * 15
            own.append(series.Interval(utc(visit_day, start), utc(visit_day, start + 60)))
        away = frozenset(day + dt.timedelta(days=offset) for offset in range(8))
        kind = number % 10
        request = Request(earliest=utc(day, 8 * 60), own=tuple(own))
        if kind in {0, 5}:
            request = Request(request.earliest, request.own, series.Availability(windows=MORNINGS))
        elif kind == 1:
            mon_wed_fri = series.Availability(weekdays=frozenset({0, 2, 4}))
            request = Request(request.earliest, request.own, mon_wed_fri)
        elif kind == 3:
            request = Request(
                request.earliest, request.own, series.Availability(blackout_dates=away)
            )
        elif kind == 7:
            request = Request(
                request.earliest,
                request.own,
                series.Availability(windows=MORNINGS, blackout_dates=away),
                preferred_chair=CHAIRS[0],
                requested_span=dt.timedelta(days=14),
            )
        made.append(request)
    return made


def percentile95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, round(len(ordered) * 0.95) - 1)]


def main() -> None:
    rng = random.Random(2027)  # noqa: S311 - synthetic bookings, not secrets
    busy = year_of_bookings(rng)
    visits = sum(len(intervals) for intervals in busy.values())
    booked = sorted(existing_visits(busy), key=lambda visit: visit.start)
    booked_starts = [visit.start for visit in booked]
    booked_ends = [visit.start + dt.timedelta(hours=2) for visit in booked]  # at most 75 min
    nurses, prescribers = shifts()
    nurse_starts = [shift.start for shift in nurses]
    nurse_ends = [shift.end for shift in nurses]
    prescriber_starts = [shift.start for shift in prescribers]
    prescriber_ends = [shift.end for shift in prescribers]
    ours: list[float] = []
    exact: list[float] = []
    identical = with_alternatives = alternatives = 0
    for request in requests(rng):

        def staff(start: dt.datetime, end: dt.datetime) -> tuple[staffing.Block, ...]:
            # The visits and shifts the database returns for the window (sorted by start).
            return staffing.blocks(
                STAFF,
                phases=PHASES,
                nurse_shifts=nurses[
                    bisect_left(nurse_ends, start) : bisect_left(nurse_starts, end)
                ],
                prescriber_shifts=prescribers[
                    bisect_left(prescriber_ends, start) : bisect_left(prescriber_starts, end)
                ],
                booked=booked[bisect_left(booked_ends, start) : bisect_left(booked_starts, end)],
                start=start,
                end=end,
            )

        patient = series.PatientDiary(busy=request.own, availability=request.availability)
        started = time.perf_counter()
        result = series.search_series(
            RULES,
            earliest=request.earliest,
            duration=VISIT,
            calendar=CALENDAR,
            chairs=series.Chairs(order=CHAIRS, busy=busy),
            patient=patient,
            preferred_chair=request.preferred_chair,
            requested_span=request.requested_span,
            staff=staff,
        )
        ours.append((time.perf_counter() - started) * 1000)
        found = result.series
        if found is None:
            with_alternatives += 1
            alternatives += len(result.alternatives)
            found = next(
                (
                    option.slots
                    for option in result.alternatives
                    if option.kind == series.AlternativeKind.LATER_START
                ),
                None,
            )
        started = time.perf_counter()
        solved = series_cpsat.solve_series_cpsat(
            dataclasses.replace(RULES, max_span=request.requested_span or RULES.max_span),
            earliest=request.earliest,
            duration=VISIT,
            calendar=CALENDAR,
            chairs=series.Chairs(
                order=CHAIRS if request.preferred_chair is None else (request.preferred_chair,),
                busy=busy,
            ),
            patient=patient,
            staff_blocks=staff(request.earliest, request.earliest + WINDOW),
            time_limit_s=CPSAT_LIMIT_S,
        )
        exact.append((time.perf_counter() - started) * 1000)
        identical += solved == found

    ours_median, exact_median = statistics.median(ours), statistics.median(exact)
    print(
        f"Series search: 12 chairs, {visits:,} existing visits over a year, nurse and "
        f"prescriber shifts; {SEARCHES} searches for 6 two-hour visits ≥ 48 h apart within 21 "
        f"days ({with_alternatives} did not fit and got {alternatives} alternatives)."
    )
    print()
    print("| Series search | Median | p95 |")
    print("| --- | ---: | ---: |")
    print(
        f"| `search_series` with staff blocks (in process) | {ours_median:.1f} ms "
        f"| {percentile95(ours):.1f} ms |"
    )
    print(
        f"| CP-SAT, same instances (`solve_series_cpsat`) | {exact_median:,.0f} ms "
        f"| {percentile95(exact):,.0f} ms |"
    )
    print(f"| Speed ratio (CP-SAT median ÷ search median) | {exact_median / ours_median:,.0f}× | |")
    print(f"| Identical results | {identical}/{SEARCHES} | |")


if __name__ == "__main__":
    main()
