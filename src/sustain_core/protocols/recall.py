"""Warnings, not refusals: a measurement plan that asks for an instrument more often than the
period its questions recall.

A PHQ-9 asks about the last 2 weeks [Kroenke2001]; asked before every infusion 48 h apart, each
answer covers mostly the same days as the one before, so a change shows late and no answer
stands for its own period (issue 11, item 7). Such a plan is still allowed — rapid-acting
treatments are often measured this way — so ``plan_warnings`` only says so, for the protocol
page and ``sustain protocol-check``.
"""

import datetime as dt
from dataclasses import dataclass
from itertools import pairwise
from typing import cast

from sustain_core.instruments import INSTRUMENTS
from sustain_core.measurement import Anchor
from sustain_core.protocols.model import Protocol

_ZERO = dt.timedelta(0)
_HOUR = dt.timedelta(hours=1)
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class _Occasion:
    at: dt.timedelta  # from the start of infusion 1, with infusions at the series' least gap
    what: str


def plan_warnings(protocol: Protocol) -> list[str]:
    """Return a warning for each instrument the plan asks for more often than it recalls.

    Timeline: infusion k starts at (k − 1) × the series' ``min_gap`` from infusion 1 (the
    closest the series allows). Before-first and before-each rules are due at their
    infusions' starts (before-each from its ``from_infusion`` to the last induction
    infusion), an after-last-induction rule at the last induction infusion + its offset.
    For each instrument, the two nearest occasions at different times, from any rules, are
    compared with its ``recall_window``; a maintenance-weekly rule is compared by its own
    ``interval``. An instrument with no fixed window (the C-SSRS screener, asked since the
    last contact) or a window of 0 ("right now") never warns. Warnings are in the order the
    plan first names each instrument, then one per maintenance rule and instrument.

    Source: each instrument's recall period and its citation (clinical-facts §7, §5c;
    ``Instrument.recall_source``, which says when it is unconfirmed).
    """
    occasions: dict[str, list[_Occasion]] = {}
    maintenance: list[str] = []
    for rule in protocol.measurement_plan:
        if rule.anchor == Anchor.MAINTENANCE_WEEKLY:
            every = cast(dt.timedelta, rule.interval)  # required for this anchor
            maintenance.extend(
                _warning(code, every, f"rule {rule.key}, every maintenance interval")
                for code in rule.instruments
                if _overlaps(code, every)
            )
            continue
        for code in rule.instruments:
            occasions.setdefault(code, []).extend(
                _occasions(protocol, rule.key, rule.anchor, rule.offset, rule.from_infusion)
            )
    found: list[str] = []
    for code, times in occasions.items():
        ordered = sorted(times, key=lambda occasion: occasion.at)
        gaps = [
            (later.at - earlier.at, earlier, later)
            for earlier, later in pairwise(ordered)
            if later.at > earlier.at
        ]
        if not gaps:
            continue
        gap, earlier, later = min(gaps, key=lambda item: item[0])
        if _overlaps(code, gap):
            found.append(_warning(code, gap, f"{earlier.what} and {later.what}"))
    return found + maintenance


def _occasions(
    protocol: Protocol, key: str, anchor: Anchor, offset: dt.timedelta, from_infusion: int
) -> list[_Occasion]:
    count, gap = protocol.series.count, protocol.series.min_gap
    if anchor == Anchor.BEFORE_FIRST_INFUSION:
        return [_Occasion(_ZERO, f"before infusion 1 (rule {key})")]
    if anchor == Anchor.BEFORE_EACH_INFUSION:
        return [
            _Occasion((number - 1) * gap, f"before infusion {number} (rule {key})")
            for number in range(from_infusion, count + 1)
        ]
    return [
        _Occasion(
            (count - 1) * gap + offset,
            f"{_span(offset)} after the last induction infusion (rule {key})",
        )
    ]


def _overlaps(code: str, every: dt.timedelta) -> bool:
    window = INSTRUMENTS[code].recall_window
    return window is not None and _ZERO < every < window


def _warning(code: str, every: dt.timedelta, where: str) -> str:
    instrument = INSTRUMENTS[code]
    return (
        f"{instrument.short_title} asks about the {instrument.recall} "
        f"({instrument.recall_source}), but the plan asks for it {_span(every)} apart "
        f"({where}): the answers overlap, so a change shows late and each answer is not a "
        "fresh measure of its period"
    )


def _span(duration: dt.timedelta) -> str:
    """48 h, 24 h, 7 days: hours below three days, else days (with hours when not whole)."""
    if duration < 3 * _DAY or duration % _DAY:
        return f"{duration / _HOUR:g} h"
    return f"{duration // _DAY} days"
