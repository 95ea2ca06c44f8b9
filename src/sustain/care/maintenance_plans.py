"""A chosen maintenance option stored as JSON on the signed review, and read back."""

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import cast

from sustain_core import maintenance


def maintenance_option_to_dict(option: maintenance.MaintenanceOption) -> dict[str, object]:
    return {
        "kind": option.kind.value,
        "label": option.label,
        "interval_days": option.interval.days if option.interval else None,
        "steps": [[count, interval.days] for count, interval in option.steps],
        "min_gap_days": option.min_gap.days if option.min_gap else None,
        "citation": option.citation,
    }


def maintenance_option_from_dict(data: Mapping[str, object]) -> maintenance.MaintenanceOption:
    def days(value: object) -> dt.timedelta | None:
        return dt.timedelta(days=int(str(value))) if value is not None else None

    steps = data.get("steps") or []
    return maintenance.MaintenanceOption(
        kind=maintenance.MaintenanceKind(str(data["kind"])),
        label=str(data["label"]),
        interval=days(data.get("interval_days")),
        steps=tuple(
            (int(c), dt.timedelta(days=int(d))) for c, d in cast(Sequence[Sequence[int]], steps)
        ),
        min_gap=days(data.get("min_gap_days")),
        citation=str(data.get("citation", "")),
    )
