"""Maintenance plans after induction: boosters at a fixed interval, a taper, or on symptoms.

(Types only so far; the planning rules arrive with issue 4.)
"""

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class MaintenanceKind(StrEnum):
    FIXED_INTERVAL = "fixed_interval"
    TAPER = "taper"
    SYMPTOM_TRIGGERED = "symptom_triggered"


@dataclass(frozen=True)
class MaintenanceOption:
    """One maintenance plan a protocol offers.

    FIXED_INTERVAL: a booster every ``interval``. TAPER: ``steps`` of (count, interval), e.g.
    ((4, 7 days), (2, 14 days)) for weekly ×4 then fortnightly ×2. SYMPTOM_TRIGGERED: a booster
    when relapse is confirmed, never sooner than ``min_gap`` after the previous infusion.
    """

    kind: MaintenanceKind
    label: str
    interval: dt.timedelta | None = None
    steps: tuple[tuple[int, dt.timedelta], ...] = ()
    min_gap: dt.timedelta | None = None
    citation: str = ""
