"""Series search benchmark: `python bench/series_search.py`. Prints Markdown tables.

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
every call): the reference. The same request goes to the site's ``diary.DiaryIndex`` (built
once from the same visits and shifts, its week grids warmed for the year; each search timed
three times) and through ``series_cpsat.solve_series_cpsat`` with the blocks over the whole
120-day window, with a time limit per instance. Identical: the index's whole answer equals the
reference's, and its earliest series (the series asked for, or else the later-start
alternative) equals CP-SAT's.

Then, each as a ratio: the index over 6, 12, 24 and 48 chairs (nurses in proportion, 5
CP-SAT runs each), over a 30-, 60- and 120-day horizon, and at a site where nothing fits
(every chair booked all day, all year) against the normal case.
"""

import dataclasses
import datetime as dt
import random
import statistics
import sys
import time
import zoneinfo
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from sustain_core import diary, series, series_cpsat, staffing
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


def chairs_of(count: int) -> tuple[series.ChairId, ...]:
    return tuple(series.ChairId(number) for number in range(1, count + 1))


def year_of_bookings(
    rng: random.Random, chairs: tuple[series.ChairId, ...] = CHAIRS
) -> dict[series.ChairId, list[series.Interval]]:
    busy: dict[series.ChairId, list[series.Interval]] = {chair: [] for chair in chairs}
    for offset in range(365):
        day = FIRST_DAY + dt.timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for chair in chairs:
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


def fully_booked(chairs: tuple[series.ChairId, ...]) -> dict[series.ChairId, list[series.Interval]]:
    """Every chair booked in 75-minute visits from opening to closing, every weekday."""
    busy: dict[series.ChairId, list[series.Interval]] = {chair: [] for chair in chairs}
    for offset in range(365 + 180):
        day = FIRST_DAY + dt.timedelta(days=offset)
        if day.weekday() < 5:
            for chair in chairs:
                busy[chair] += [
                    series.Interval(utc(day, minute), utc(day, minute + 75))
                    for minute in range(8 * 60, 18 * 60 - 74, 75)
                ]
                busy[chair].append(series.Interval(utc(day, 17 * 60 + 30), utc(day, 18 * 60)))
    return busy


def shifts(pairs: int = 2) -> tuple[list[series.Interval], list[series.Interval]]:
    """``pairs`` nurses on each of the early and late shifts (two for 12 chairs)."""
    nurses, prescribers = [], []
    for offset in range(365 + 180):
        day = FIRST_DAY + dt.timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for start, end in ((7 * 60 + 45, 16 * 60 + 15),) * pairs + (
            (9 * 60 + 45, 18 * 60),
        ) * pairs:
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


def median_p95(samples: list[float]) -> str:
    return f"{statistics.median(samples):.2f} ms | {percentile95(samples):.2f} ms"


@dataclass
class Site:
    """A bench site: its diary (for the reference and CP-SAT) and its index."""

    chairs: tuple[series.ChairId, ...]
    busy: dict[series.ChairId, list[series.Interval]]
    booked: list[staffing.Visit]
    nurses: list[series.Interval]
    prescribers: list[series.Interval]
    index: diary.DiaryIndex
    build_ms: float
    warm_ms: float

    @classmethod
    def make(
        cls,
        chairs: tuple[series.ChairId, ...],
        busy: dict[series.ChairId, list[series.Interval]],
        pairs: int = 2,
    ) -> "Site":
        nurses, prescribers = shifts(pairs)
        visits = {}
        for chair, intervals in busy.items():
            for interval in intervals:
                minutes = (interval.end - interval.start) // dt.timedelta(minutes=1)
                visits[len(visits)] = diary.DiaryVisit(
                    chair=chair,
                    start=interval.start,
                    end=interval.end,
                    phases=staffing.visit_phases(10, minutes - 10, 0, 0),
                )
        started = time.perf_counter()
        index = diary.DiaryIndex(
            calendar=CALENDAR,
            staff_rules=STAFF,
            nurse_shifts=nurses,
            prescriber_shifts=prescribers,
            visits=visits,
        )
        built = time.perf_counter()
        index.warm(
            duration=VISIT,
            phases=PHASES,
            start=utc(FIRST_DAY, 0),
            end=utc(FIRST_DAY, 0) + dt.timedelta(days=365 + 180),
        )
        warmed = time.perf_counter()
        booked = sorted(
            (staffing.Visit(start=v.start, phases=v.phases) for v in visits.values()),
            key=lambda visit: visit.start,
        )
        return cls(
            chairs,
            busy,
            booked,
            nurses,
            prescribers,
            index,
            (built - started) * 1000,
            (warmed - built) * 1000,
        )

    def staff(self, start: dt.datetime, end: dt.datetime) -> tuple[staffing.Block, ...]:
        """The blocks from the visits and shifts the database returns for the window."""
        return staffing.blocks(
            STAFF,
            phases=PHASES,
            nurse_shifts=between(self.nurses, start, end),
            prescriber_shifts=between(self.prescribers, start, end),
            booked=list(
                self.booked[
                    bisect_left(
                        self.booked, start - dt.timedelta(hours=2), key=starts_at
                    ) : bisect_left(self.booked, end, key=starts_at)
                ]
            ),
            start=start,
            end=end,
        )

    def reference(
        self, request: Request, horizon: dt.timedelta = dt.timedelta(days=60)
    ) -> series.SeriesResult:
        return series.search_series(
            RULES,
            earliest=request.earliest,
            duration=VISIT,
            calendar=CALENDAR,
            chairs=series.Chairs(order=self.chairs, busy=self.busy),
            patient=patient_of(request),
            preferred_chair=request.preferred_chair,
            requested_span=request.requested_span,
            horizon=horizon,
            staff=self.staff,
        )

    def search(
        self, request: Request, horizon: dt.timedelta = dt.timedelta(days=60)
    ) -> series.SeriesResult:
        return self.index.search(
            RULES,
            earliest=request.earliest,
            duration=VISIT,
            phases=PHASES,
            chairs=self.chairs,
            patient=patient_of(request),
            preferred_chair=request.preferred_chair,
            requested_span=request.requested_span,
            horizon=horizon,
        )

    def cpsat(self, request: Request) -> tuple[series.Slot, ...] | None:
        return series_cpsat.solve_series_cpsat(
            dataclasses.replace(RULES, max_span=request.requested_span or RULES.max_span),
            earliest=request.earliest,
            duration=VISIT,
            calendar=CALENDAR,
            chairs=series.Chairs(
                order=self.chairs
                if request.preferred_chair is None
                else (request.preferred_chair,),
                busy=self.busy,
            ),
            patient=patient_of(request),
            staff_blocks=self.staff(request.earliest, request.earliest + WINDOW),
            time_limit_s=CPSAT_LIMIT_S,
        )


def starts_at(visit: staffing.Visit) -> dt.datetime:
    return visit.start


def between(
    shifts: list[series.Interval], start: dt.datetime, end: dt.datetime
) -> list[series.Interval]:
    return [shift for shift in shifts if shift.start < end and start < shift.end]


def patient_of(request: Request) -> series.PatientDiary:
    return series.PatientDiary(busy=request.own, availability=request.availability)


def earliest_of(result: series.SeriesResult) -> tuple[series.Slot, ...] | None:
    """The series asked for, or else the later-start alternative: what CP-SAT finds."""
    if result.series is not None:
        return result.series
    return next(
        (
            option.slots
            for option in result.alternatives
            if option.kind == series.AlternativeKind.LATER_START
        ),
        None,
    )


def timed(
    call: Callable[..., series.SeriesResult], *args: object, times: int = 1
) -> tuple[series.SeriesResult, list[float], list[float]]:
    """``call(*args)``'s result, and its wall-clock and CPU times in milliseconds, ``times``
    runs (on a shared machine other processes take the cores now and then; the difference
    is time spent waiting for one)."""
    wall, cpu = [], []
    for _ in range(times):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = call(*args)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return result, wall, cpu


def main() -> None:  # noqa: PLR0915 - one report, in the order it prints
    rng = random.Random(2027)  # noqa: S311 - synthetic bookings, not secrets
    site = Site.make(CHAIRS, year_of_bookings(rng))
    visits = sum(len(intervals) for intervals in site.busy.values())
    made = requests(rng)
    ours: list[float] = []
    reference: list[float] = []
    exact: list[float] = []
    identical = with_alternatives = alternatives = 0
    ours_cpu: list[float] = []
    for request in made:
        result, samples, cpu = timed(site.search, request, times=3)
        ours += samples
        ours_cpu += cpu
        expected, samples, _ = timed(site.reference, request)
        reference += samples
        if result.series is None:
            with_alternatives += 1
            alternatives += len(result.alternatives)
        started = time.perf_counter()
        solved = site.cpsat(request)
        exact.append((time.perf_counter() - started) * 1000)
        identical += result == expected and solved == earliest_of(result)

    ours_median, exact_median = statistics.median(ours), statistics.median(exact)
    reference_median = statistics.median(reference)
    print(
        f"Series search: 12 chairs, {visits:,} existing visits over a year, nurse and "
        f"prescriber shifts; {SEARCHES} searches for 6 two-hour visits ≥ 48 h apart within 21 "
        f"days ({with_alternatives} did not fit and got {alternatives} alternatives)."
    )
    print()
    print("| Series search | Median | p95 |")
    print("| --- | ---: | ---: |")
    print(
        f"| `DiaryIndex.search` (in process; {len(ours)} timings, each search 3 times) "
        f"| {median_p95(ours)} |"
    )
    print(f"| the same, CPU time of the process | {median_p95(ours_cpu)} |")
    print(f"| `search_series` with staff blocks (the reference) | {median_p95(reference)} |")
    print(
        f"| CP-SAT, same instances (`solve_series_cpsat`) | {exact_median:,.0f} ms "
        f"| {percentile95(exact):,.0f} ms |"
    )
    print(f"| CP-SAT median ÷ index median | {exact_median / ours_median:,.0f}× | |")
    print(f"| Reference median ÷ index median | {reference_median / ours_median:,.0f}× | |")
    print(f"| Identical results (index = reference = CP-SAT) | {identical}/{SEARCHES} | |")
    print(
        f"| Index build ({visits:,} visits) / warming its week grids for 18 months "
        f"| {site.build_ms:,.0f} ms | {site.warm_ms:,.0f} ms |"
    )

    print()
    print(
        "| Chairs (nurses in proportion) | Index median | p95 | p95 CPU | ÷ 12 chairs "
        "| Reference median | CP-SAT median (5) | Identical |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    at_twelve = ours_median
    for count in (6, 12, 24, 48):
        chairs = chairs_of(count)
        rng = random.Random(2027 + count)  # noqa: S311 - synthetic bookings
        curve = Site.make(chairs, year_of_bookings(rng, chairs), pairs=max(1, count // 6))
        samples, slow, solver, cpus = [], [], [], []
        same = 0
        for number, request in enumerate(made):
            result, took, cpu = timed(curve.search, request, times=3)
            samples += took
            cpus += cpu
            expected, took, _ = timed(curve.reference, request)
            slow += took
            same += result == expected
            if number % 10 == 0:
                started = time.perf_counter()
                same_exact = curve.cpsat(request) == earliest_of(result)
                solver.append((time.perf_counter() - started) * 1000)
                same -= not same_exact
        median = statistics.median(samples)
        if count == 12:
            at_twelve = median
        print(
            f"| {count} | {median:.2f} ms | {percentile95(samples):.2f} ms "
            f"| {percentile95(cpus):.2f} ms | {median / at_twelve:.2f}× "
            f"| {statistics.median(slow):.1f} ms "
            f"| {statistics.median(solver):,.0f} ms | {same}/{SEARCHES} |"
        )

    print()
    print("| Horizon | Index median | p95 | p95 CPU | ÷ 60 days | Reference median | Identical |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for days in (30, 60, 120):
        horizon = dt.timedelta(days=days)
        samples, slow, cpus = [], [], []
        same = 0
        for request in made:
            result, took, cpu = timed(site.search, request, horizon, times=3)
            samples += took
            cpus += cpu
            expected, took, _ = timed(site.reference, request, horizon)
            slow += took
            same += result == expected
        print(
            f"| {days} days | {statistics.median(samples):.2f} ms "
            f"| {percentile95(samples):.2f} ms | {percentile95(cpus):.2f} ms "
            f"| {statistics.median(samples) / ours_median:.2f}× "
            f"| {statistics.median(slow):.1f} ms | {same}/{SEARCHES} |"
        )

    full = Site.make(CHAIRS, fully_booked(CHAIRS))
    samples, slow, cpus = [], [], []
    same = 0
    for request in made:
        result, took, cpu = timed(full.search, request, times=3)
        samples += took
        cpus += cpu
        expected, took, _ = timed(full.reference, request)
        slow += took
        same += result == expected == series.SeriesResult(None, ())
    print()
    print("| Nothing fits (every chair booked all year) | Median | p95 |")
    print("| --- | ---: | ---: |")
    print(f"| Index | {median_p95(samples)} |")
    print(f"| Index, CPU time | {median_p95(cpus)} |")
    print(f"| Reference | {median_p95(slow)} |")
    print(
        f"| Index: nothing fits ÷ normal case | {statistics.median(samples) / ours_median:.2f}× | |"
    )
    print(f"| Identical (and empty) | {same}/{SEARCHES} | |")


if __name__ == "__main__":
    main()
