"""Series planning: fit a run of visits into a site's opening hours, chairs and a patient's diary.

By job: ``values`` (the site's calendar, the chairs, the patient's diary, the protocol's
series rules, the infusion gap floor and what a search finds), ``planner`` (``plan_series``,
``plan_series_dates``, ``check_series``, ``check_within_opening_hours``, ``under_gap_floor``
and the slot grid), ``search`` (``search_series`` and its ranked alternatives for a booking
screen) and ``wording`` (every sentence for people). The public names are re-exported here,
so ``series.plan_series(...)`` works; ``series.wording`` is imported with the package.
"""

from sustain_core.series import wording
from sustain_core.series.planner import (
    candidate_visits,
    check_series,
    check_within_opening_hours,
    plan_series,
    plan_series_dates,
    under_gap_floor,
)
from sustain_core.series.search import LOOK_AHEAD, search_series
from sustain_core.series.values import (
    INFUSION_GAP_FLOOR,
    Alternative,
    AlternativeKind,
    Availability,
    Candidate,
    ChairId,
    Chairs,
    Interval,
    OpeningHours,
    PatientDiary,
    RuleBreak,
    SeriesResult,
    SeriesRule,
    SeriesRules,
    SiteCalendar,
    Slot,
)

__all__ = [
    "INFUSION_GAP_FLOOR",
    "LOOK_AHEAD",
    "Alternative",
    "AlternativeKind",
    "Availability",
    "Candidate",
    "ChairId",
    "Chairs",
    "Interval",
    "OpeningHours",
    "PatientDiary",
    "RuleBreak",
    "SeriesResult",
    "SeriesRule",
    "SeriesRules",
    "SiteCalendar",
    "Slot",
    "candidate_visits",
    "check_series",
    "check_within_opening_hours",
    "plan_series",
    "plan_series_dates",
    "search_series",
    "under_gap_floor",
    "wording",
]
