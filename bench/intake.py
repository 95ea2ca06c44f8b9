"""Batch intake benchmark: `python bench/intake.py`. Prints a Markdown table.

40 new patients (6 infusions ≥ 48 h apart within 21 days, the depression protocol's 2-hour
visit: 15 min check-in, 40 min infusion, 60 min recovery, 5 min discharge) ask to start over
the next 4 weeks at a site of 6 chairs open Monday to Friday 08:00–18:00 (America/New_York)
that is already half booked with the same visits. Staffed: two nurses 07:30–16:00 and one
10:00–18:30 each weekday, a nurse per 2 patients in check-in, 4 infusing and 6 in recovery,
and a prescriber on site 08:00–18:00 for every infusion; the booked visits count towards the
nurses' load. Booking them one by one in arrival order (`intake.plan_one_by_one`) is compared
with the batch plan (`intake.plan_batch_cpsat`: ruin and recreate from the one-by-one plan,
then set packing over the series found, with the proven alone bound) and, with `--full`, the
earlier full CP-SAT model (`intake.plan_batch_full`, 30 s, 2 workers), on patients placed and
left unplaced, total days waited, the proven bound and gap, and time.
"""

import datetime as dt
import hashlib
import random
import sys
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from sustain_core import intake, protocols, series, staffing

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
MONDAY = dt.date(2027, 1, 4)
CHAIRS = tuple(series.ChairId(n) for n in range(1, 7))
HOURS = tuple(series.OpeningHours(day, dt.time(8), dt.time(18)) for day in range(5))
RULES = series.SeriesRules(count=6, min_gap=dt.timedelta(hours=48), max_span=dt.timedelta(days=21))
PHASES = protocols.DEPRESSION_INDUCTION_V1.visit_phases  # 2 hours in all
PHASE = staffing.VisitPhaseName
STAFF_RULES = staffing.StaffRules(
    patients_per_nurse={PHASE.CHECK_IN: 2, PHASE.INFUSION: 4, PHASE.RECOVERY: 6},
    prescriber_phases=frozenset({PHASE.INFUSION}),
)
STEP = dt.timedelta(hours=1)  # a 1-hour grid keeps the model tractable for 40 patients


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


def timed(
    name: str, planner: Callable[[], intake.IntakePlan]
) -> tuple[str, intake.IntakePlan, float, float]:
    """Run a planner: its name, plan, wall-clock and CPU seconds (this process's: the machine
    may be shared)."""
    started, cpu = time.perf_counter(), time.process_time()
    plan = planner()
    return name, plan, time.perf_counter() - started, time.process_time() - cpu


def digest(plan: intake.IntakePlan) -> str:
    """A short fingerprint of every slot of the plan: equal in two runs when they are."""
    slots = sorted((patient, tuple(slots)) for patient, slots in plan.series.items())
    return hashlib.sha256(repr(slots).encode()).hexdigest()[:10]


def main() -> None:
    rng = random.Random(2027)  # noqa: S311 - reproducible benchmark data
    days = [
        MONDAY + dt.timedelta(days=n)
        for n in range(49)
        if (MONDAY + dt.timedelta(days=n)).weekday() < 5
    ]
    visit = PHASES[-1].offset + PHASES[-1].length
    chair_busy = {
        chair: [
            series.Interval(start=at(day, hour), end=at(day, hour) + visit)
            for day in days
            for hour in (8, 10, 12, 14, 16)
            if rng.random() < 0.5
        ]
        for chair in CHAIRS
    }
    nurses = [series.Interval(start=at(d, 7, 30), end=at(d, 16)) for d in days for _ in range(2)]
    nurses += [series.Interval(start=at(d, 10), end=at(d, 18, 30)) for d in days]
    prescribers = [series.Interval(start=at(d, 8), end=at(d, 18)) for d in days]
    booked = [
        staffing.Visit(start=interval.start, phases=PHASES)
        for intervals in chair_busy.values()
        for interval in intervals
    ]
    requests = [
        intake.IntakeRequest(
            patient=f"P{n:02d}",
            earliest=at(MONDAY + dt.timedelta(days=rng.randint(0, 27)), 0),
            rules=RULES,
            phases=PHASES,
        )
        for n in range(40)
    ]
    requests.sort(key=lambda r: r.earliest)
    site = intake.IntakeSite(
        calendar=series.SiteCalendar(tz=NEW_YORK, hours=HOURS),
        chairs=series.Chairs(order=CHAIRS, busy=chair_busy),
        step=STEP,
        horizon=dt.timedelta(days=28),
        staff_rules=STAFF_RULES,
        nurse_shifts=nurses,
        prescriber_shifts=prescribers,
        booked=booked,
    )
    rows = [timed("one by one, arrival order", lambda: intake.plan_one_by_one(requests, site))]
    greedy = rows[0][1]
    rows.append(timed("batch", lambda: intake.plan_batch_cpsat(requests, site, hint=greedy)))
    if "--full" in sys.argv:
        rows.append(
            timed(
                "full CP-SAT model, 30 s",
                lambda: intake.plan_batch_full(requests, site, time_limit_s=30, hint=greedy),
            )
        )
    print(
        "Batch intake: 40 patients over 4 weeks into 6 chairs about half booked, with nurse "
        "ratios and a prescriber on site. Bound: (unplaced, days waited), a proven lower bound "
        "on every plan; gap: the plan minus the bound.\n"
    )
    print(
        "| plan | placed | unplaced | days waited | bound | gap | status | time | CPU | digest |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |"
    )
    for name, plan, seconds, cpu in rows:
        bound, gap = plan.bound, plan.gap
        print(
            f"| {name} | {len(plan.series)} | {len(plan.unplaced)} | {plan.days_waited} "
            f"| {bound[0]}, {bound[1]} | {gap[0]}, {gap[1]} | {plan.solver_status} "
            f"| {seconds:.2f} s | {cpu:.2f} s | {digest(plan)} |"
        )


if __name__ == "__main__":
    main()
