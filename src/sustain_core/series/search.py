"""Series search for a booking screen: the series asked for, or ranked alternatives.

``search_series`` wraps ``plan_series`` with the patient's availability and preferences, and
relaxes one thing at a time when the request does not fit soon. It returns structured
alternatives; ``series.wording`` says what each gives up. ``sustain_core.series_cpsat``
checks the searches against an exact solver.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.series.planner import _check_rules, _check_series_inputs, _Grid
from sustain_core.series.values import (
    Alternative,
    AlternativeKind,
    ChairId,
    Chairs,
    PatientDiary,
    SeriesResult,
    SeriesRules,
    SiteCalendar,
    Slot,
    _require_aware,
)

if TYPE_CHECKING:  # staffing builds on this package's Interval
    from sustain_core.staffing import Block

# search_series answers the request as asked only when its first visit is this soon.
LOOK_AHEAD = dt.timedelta(days=7)
# "How little it gives up", for alternatives that start at the same instant: the clinic's
# chair preference, then a span the protocol still allows, then the patient's hours, and a
# later start last.
_KIND_ORDER = (
    AlternativeKind.OTHER_CHAIR,
    AlternativeKind.RELAXED_SPAN,
    AlternativeKind.OTHER_TIME,
    AlternativeKind.LATER_START,
)


def search_series(
    rules: SeriesRules,
    *,
    earliest: dt.datetime,
    duration: dt.timedelta,
    calendar: SiteCalendar,
    chairs: Chairs,
    patient: PatientDiary,
    requested_span: dt.timedelta | None = None,
    preferred_chair: ChairId | None = None,
    step: dt.timedelta = dt.timedelta(minutes=15),
    horizon: dt.timedelta = dt.timedelta(days=60),
    max_alternatives: int = 5,
    staff: "Callable[[dt.datetime, dt.datetime], Sequence[Block]] | None" = None,
) -> SeriesResult:
    """Find the series a booking screen offers: the one asked for, or ranked alternatives.

    The request is the protocol's ``rules`` plus the patient's availability
    (``patient.availability``), a ``requested_span`` no longer than the protocol's
    ``max_span`` (None: the protocol's), and a ``preferred_chair`` (None: any chair; given,
    the series as asked uses only that chair, and "another chair" is an alternative). Every
    search is ``plan_series`` with these inputs, so it is the earliest series
    (componentwise), ties between chairs going to the first free one in ``chairs.order``, with
    ``step`` and ``horizon`` as there; the busy intervals and each day's grid are indexed once
    per call and shared by the searches.

    ``staff`` gives the staff blocks (``plan_series``' ``staff_blocks``) between two instants,
    all time outside them blocked (as ``staffing.blocks`` does). It is called for
    ``earliest`` to the look-ahead plus ``max_span`` first: a series as asked found there is
    exactly the one the whole horizon gives (the earliest series over the whole horizon is
    componentwise no later, so it lies in that window too). Only when none is found there is
    it called again for the whole horizon, for the alternatives.

    Look-ahead: the request fits when its earliest series starts no later than ``LOOK_AHEAD``
    (7 days, or ``horizon`` when shorter) after ``earliest``; then ``series`` is that series and
    there are no alternatives. Otherwise ``series`` is None and the alternatives relax one
    thing each, searching the whole ``horizon``:
    - LATER_START: everything honoured, starting after the look-ahead;
    - OTHER_TIME: without the patient's time windows (days, blackout dates, chair and span
      kept), when windows were given;
    - OTHER_CHAIR: any chair, the preferred one first, when a preferred chair was given and
      the site has others;
    - RELAXED_SPAN: the protocol's ``max_span`` instead of the requested span, when that was
      shorter.
    A relaxed series that differs from the later-start one really uses what it relaxes (were
    it to keep it, it would fit everything and be the later-start series); one that also
    starts after the look-ahead is ``late`` and says so too ("…, and starts 9 days later than
    asked (Mon 14 Dec)", ``series.wording.gives_up``).

    Ranking: by the first visit's start; then by how little is given up: one thing before
    two (a relaxation that also starts late), then the clinic's chair preference, a span the
    protocol still allows, the patient's hours, and a later start. Identical slot sequences are
    listed once, under the better rank. At most ``max_alternatives`` are returned (at most four
    kinds exist); ranks count from 1. The same inputs always give the same result.

    Raises the errors of ``plan_series`` for invalid rules or inputs (naming the field of
    ``rules``), OutOfRange for a ``requested_span`` shorter than one visit or longer than the
    protocol's ``max_span`` and for a negative ``max_alternatives``, and ClinicalValueError for
    a ``preferred_chair`` not among the chairs. Never raises NoSeriesFound: nothing that fits
    gives ``SeriesResult(None, ())``.
    """
    _check_rules(rules)
    _check_series_inputs(rules, duration=duration, step=step, horizon=horizon)
    span = _check_request(
        rules=rules,
        earliest=earliest,
        duration=duration,
        chairs=chairs.order,
        requested_span=requested_span,
        preferred_chair=preferred_chair,
        max_alternatives=max_alternatives,
    )
    earliest_utc = earliest.astimezone(dt.UTC)
    grid = _Grid(
        earliest=earliest_utc,
        until=earliest_utc + horizon + rules.max_span,
        duration=duration,
        step=step,
        calendar=calendar,
        chairs=chairs,
        patient=patient,
        staff_blocks=(),
    )
    staffed_until: list[dt.datetime] = []

    def find(
        *,
        staff_until: dt.datetime,
        chairs: Sequence[ChairId],
        windows: tuple[tuple[dt.time, dt.time], ...],
        max_span: dt.timedelta,
    ) -> tuple[Slot, ...] | None:
        if staff is not None and staffed_until != [staff_until]:
            grid.use_staff(staff(earliest_utc, staff_until))
            staffed_until[:] = [staff_until]
        return grid.earliest_series(
            dataclasses.replace(rules, max_span=max_span),
            latest_first=earliest_utc + horizon,
            chairs=chairs,
            windows=windows,
        )

    return _answer(
        find,
        rules=rules,
        earliest=earliest_utc,
        horizon=horizon,
        span=span,
        chairs=chairs.order,
        preferred_chair=preferred_chair,
        windows=() if patient.availability is None else patient.availability.windows,
        max_alternatives=max_alternatives,
        staffed=staff is not None,
    )


class _Find(Protocol):
    """One search of ``_answer``: the earliest series in these ``chairs`` and ``windows``
    within ``max_span``, with the staff known up to ``staff_until`` (all time after it
    blocked), or None."""

    def __call__(
        self,
        *,
        staff_until: dt.datetime,
        chairs: Sequence[ChairId],
        windows: tuple[tuple[dt.time, dt.time], ...],
        max_span: dt.timedelta,
    ) -> tuple[Slot, ...] | None: ...


def _answer(
    find: _Find,
    *,
    rules: SeriesRules,
    earliest: dt.datetime,
    horizon: dt.timedelta,
    span: dt.timedelta,
    chairs: tuple[ChairId, ...],
    preferred_chair: ChairId | None,
    windows: tuple[tuple[dt.time, dt.time], ...],
    max_alternatives: int,
    staffed: bool,
) -> SeriesResult:
    """The look-ahead, the relaxations and their ranking (``search_series``' docstring), over
    ``find``: shared by ``search_series`` and ``sustain_core.diary``'s index, so both answer
    alike. ``earliest`` is in UTC; ``staffed``: the staff are checked, so the look-ahead is
    searched first with the staff known only that far (see ``search_series``)."""
    latest_first = earliest + horizon
    soon = earliest + min(LOOK_AHEAD, horizon)
    asked_chairs = chairs if preferred_chair is None else (preferred_chair,)
    if staffed:
        asked = find(
            staff_until=soon + rules.max_span, chairs=asked_chairs, windows=windows, max_span=span
        )
        if asked is not None and asked[0].start <= soon:
            return SeriesResult(series=asked, alternatives=())
    whole = latest_first + rules.max_span
    asked = find(staff_until=whole, chairs=asked_chairs, windows=windows, max_span=span)
    if asked is not None and asked[0].start <= soon:
        return SeriesResult(series=asked, alternatives=())
    found: list[tuple[AlternativeKind, tuple[Slot, ...] | None]] = [
        (AlternativeKind.LATER_START, asked)
    ]
    if windows:
        found.append(
            (
                AlternativeKind.OTHER_TIME,
                find(staff_until=whole, chairs=asked_chairs, windows=(), max_span=span),
            )
        )
    others = tuple(chair for chair in chairs if chair != preferred_chair)
    if preferred_chair is not None and others:
        found.append(
            (
                AlternativeKind.OTHER_CHAIR,
                find(
                    staff_until=whole,
                    chairs=(preferred_chair, *others),
                    windows=windows,
                    max_span=span,
                ),
            )
        )
    if span < rules.max_span:
        found.append(
            (
                AlternativeKind.RELAXED_SPAN,
                find(
                    staff_until=whole,
                    chairs=asked_chairs,
                    windows=windows,
                    max_span=rules.max_span,
                ),
            )
        )
    return SeriesResult(
        series=None,
        alternatives=_rank(
            [(kind, slots) for kind, slots in found if slots is not None],
            soon=soon,
            max_alternatives=max_alternatives,
        ),
    )


def _check_request(
    *,
    rules: SeriesRules,
    earliest: dt.datetime,
    duration: dt.timedelta,
    chairs: Sequence[ChairId],
    requested_span: dt.timedelta | None,
    preferred_chair: ChairId | None,
    max_alternatives: int,
) -> dt.timedelta:
    """Check ``search_series``' own inputs and return the span the request asks for."""
    _require_aware("earliest", earliest)
    if not chairs:
        raise ClinicalValueError("chairs", "at least one chair is needed; got none")
    span = rules.max_span if requested_span is None else requested_span
    if not duration <= span <= rules.max_span:
        raise OutOfRange(
            "requested_span",
            f"requested_span must be from the visit duration {duration} to the protocol's "
            f"max_span {rules.max_span}; got {requested_span}",
        )
    if preferred_chair is not None and preferred_chair not in chairs:
        raise ClinicalValueError(
            "preferred_chair", f"preferred_chair must be one of the chairs; got {preferred_chair!r}"
        )
    if (
        isinstance(max_alternatives, bool)
        or not isinstance(max_alternatives, int)
        or max_alternatives < 0
    ):
        raise OutOfRange(
            "max_alternatives",
            f"max_alternatives must be a whole number, 0 or more; got {max_alternatives!r}",
        )
    return span


def _rank(
    found: list[tuple[AlternativeKind, tuple[Slot, ...]]],
    *,
    soon: dt.datetime,
    max_alternatives: int,
) -> tuple[Alternative, ...]:
    """Rank, deduplicate and cap ``search_series``' alternatives (see there)."""

    def key(option: tuple[AlternativeKind, tuple[Slot, ...]]) -> tuple[dt.datetime, int, int]:
        kind, slots = option
        given_up = 1 + (kind != AlternativeKind.LATER_START and slots[0].start > soon)
        return slots[0].start, given_up, _KIND_ORDER.index(kind)

    alternatives: list[Alternative] = []
    for kind, slots in sorted(found, key=key):
        if len(alternatives) == max_alternatives:
            break
        if any(alternative.slots == slots for alternative in alternatives):
            continue
        alternatives.append(
            Alternative(
                slots=slots, kind=kind, rank=len(alternatives) + 1, late=slots[0].start > soon
            )
        )
    return tuple(alternatives)
