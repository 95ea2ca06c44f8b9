"""A small hand-computed cohort (issue 17): eight courses with known scores and dates.

The core tests build ``CourseRecord`` values from it directly; the reports tests write the
same courses to the database and read them back through ``course_records``. Every instant is
a whole number of days from ``T0`` at the course's own hour (UTC), so every elapsed time below
is a whole number of days. The expected figures are worked out by hand in the comments.
"""

import datetime as dt
from dataclasses import dataclass

from sustain_core import cohort, outcomes, protocols

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)  # a Monday
NOW = T0 + dt.timedelta(days=120)
INDUCTION = (0, 2, 4, 7, 9, 11)  # the 6-infusion series; the last one is day 11
DEPRESSION = ("depression-induction", 1)  # PHQ-9, response ≥ 50 %, remission ≤ 4, 7 days
MURROUGH = ("murrough-2013", 1)  # MADRS, remission ≤ 9


@dataclass(frozen=True)
class Case:
    name: str
    hour: int  # the course's visits and scores are at this hour (UTC): no chair overlaps
    scores: tuple[tuple[int, int], ...]  # (day, total); day -1 is the baseline
    given: tuple[int, ...] = INDUCTION  # days of the infusions given (visits COMPLETED)
    protocol: tuple[str, int] = DEPRESSION
    start_day: int = 0
    no_shows: tuple[int, ...] = ()
    cancelled: tuple[int, ...] = ()
    booked: tuple[int, ...] = ()  # still booked (after NOW: not yet due)
    adverse: tuple[str, ...] = ()  # severities of adverse events at the first infusion

    def instant(self, day: int) -> dt.datetime:
        return T0 + dt.timedelta(days=self.start_day + day, hours=self.hour)


CASES = (
    # Responds on day 3 (10 ≤ 20/2) after 2 infusions; end of induction day 12: 8, response;
    # day 26 (15 d after the last infusion): 9, response; loses it day 40 (14), confirmed day
    # 47 (≥ 7 days): relapse 29 days after the last infusion. A booster on day 45, a
    # cancelled visit on day 43; two adverse events.
    Case(
        "A", 8, ((-1, 20), (3, 10), (12, 8), (26, 9), (40, 14), (47, 15)),
        given=(*INDUCTION, 45), cancelled=(43,), adverse=("mild", "moderate"),
    ),
    # Responds day 5 (9 ≤ 18/2) after 3 infusions; remits day 12 (3); day 25 (14 d): 4,
    # remission; last score day 39 (5, still a response): censored at 28 days.
    Case("B", 9, ((-1, 18), (5, 9), (12, 3), (25, 4), (39, 5)), booked=(400,)),
    # Responds day 12 (10) after 6 infusions; loss day 18 (14 > 12), confirmed day 25 (16, 7
    # days later): relapse at 7 days. Day 25 (14 d): 16, a partial response. One severe
    # adverse event.
    Case("C", 10, ((-1, 24), (12, 10), (18, 14), (25, 16)), adverse=("severe",)),
    # Day 12: 9, a partial response only (9 > 15/2); day 30 (19 d): 7, response: its first
    # response comes after 6 infusions.
    Case("D", 11, ((-1, 15), (12, 9), (30, 7))),
    # Responds day 3 (11 ≤ 22/2) after 2 infusions; missed day 7, given day 9, then stopped:
    # 4 infusions, the induction not completed.
    Case("E", 12, ((-1, 22), (3, 11)), given=(0, 2, 4, 9), no_shows=(7,)),
    # MADRS 8 at baseline: already at the remission line (≤ 9), not classifiable.
    Case("F", 13, ((-1, 8), (12, 4)), protocol=MURROUGH),
    # Starts 60 days later; its only score after induction is 39 days after the last infusion:
    # no score in either window.
    Case("G", 14, ((-1, 16), (50, 10)), start_day=60),
    # Remits day 12 (4); day 20: 8, response; loss day 33 (12 > 10) not yet confirmed by day
    # 36 (13, 3 days): censored at 25 days, or at the booster of day 30 (19 days) when
    # censoring at the first booster. Day 33 (22 d): 12, a partial response.
    Case("H", 15, ((-1, 20), (12, 4), (20, 8), (33, 12), (36, 13)), given=(*INDUCTION, 30)),
)  # fmt: skip

VISIT = dt.timedelta(minutes=60)  # each visit's booked chair time


def record(case: Case, course_id: int) -> cohort.CourseRecord:
    """The course record the reports layer should read for this case (check-in of 0 minutes:
    the infusion starts with the visit)."""
    protocol = protocols.PROTOCOLS[case.protocol]
    rules = protocol.outcome_rules(protocol.instrument)
    assert rules is not None
    infusions = tuple(case.instant(day) for day in case.given)
    observations = tuple(
        outcomes.Observation(at=case.instant(day), score=score) for day, score in case.scores
    )
    count = protocol.induction_infusions
    trajectory = outcomes.assess_trajectory(
        rules,
        observations,
        first_infusion_at=infusions[0],
        last_induction_infusion_at=infusions[count - 1] if len(infusions) >= count else None,
        relapse_confirmation_days=protocol.relapse_confirmation_days,
    )
    severities = {s: case.adverse.count(s) for s in ("mild", "moderate", "severe")}
    due = [d for d in (*case.given, *case.no_shows, *case.booked) if case.instant(d) < NOW]
    return cohort.CourseRecord(
        course_id=course_id,
        patient_id=course_id,
        site_id=1,
        protocol_key=case.protocol[0],
        protocol_version=case.protocol[1],
        status="maintenance",
        instrument=protocol.instrument,
        rules=rules,
        relapse_confirmation_days=protocol.relapse_confirmation_days,
        enrolled_at=case.instant(-2),
        infusions=infusions,
        induction_count=count,
        observations=observations,
        trajectory=trajectory,
        no_shows=len(case.no_shows),
        booked_visits=len(due),
        adverse_events=cohort.AdverseEventCounts(**severities),
        chair_minutes=len(case.given) * 60,
        last_assessment_at=observations[-1].at,
    )


def records() -> list[cohort.CourseRecord]:
    return [record(case, n) for n, case in enumerate(CASES, start=1)]
