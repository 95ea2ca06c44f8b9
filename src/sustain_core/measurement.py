"""Measurement plans: which questionnaires are due when, anchored to treatment events.

A protocol's measurement plan is a tuple of ``MeasurementRule``s. Each rule expands, for one
course, into *occasions* (one per infusion, one after the last induction infusion, one per
maintenance week, ...), and each occasion × instrument becomes a ``DueItem`` with a window in
which a completed questionnaire counts. ``due_items`` then says, for a given ``now``, whether
each item is upcoming, due, overdue, missed or done, for the day board and the patient page.

Time: every instant is an aware datetime and all arithmetic is done in real elapsed time on
UTC instants, so "7 days" is always 7 × 24 h, also across a daylight-saving change; a weekly
measure due at 09:00 local before the change is due at 08:00 local after it (America/New_York,
1 Nov 2026). Every instant this module returns is in UTC.

Which instruments are measured, and when, comes from the protocol data (see
``sustain_core.protocols``), never from this module: the rules here only expand and match.
"""

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from sustain_core.errors import ClinicalValueError

_ZERO = dt.timedelta(0)
_UTC = dt.UTC

DEFAULT_HORIZON = dt.timedelta(days=14)
"""How far ahead of ``now`` ``due_items`` lists occasions (a display choice, not clinical)."""

CLINICIAN_RATED = frozenset({"madrs", "cadss"})
"""Instrument codes a clinician rates, so a rule holding them cannot be self-report.

MADRS is clinician-rated [Montgomery1979] and CADSS is the Clinician-Administered
Dissociative States Scale [Bremner1998] (clinical-facts §7 and §5c).
"""


class Anchor(StrEnum):
    """The treatment event a measurement rule is timed from.

    BEFORE_FIRST_INFUSION: one occasion, window [first infusion − window_before, first
    infusion).
    BEFORE_EACH_INFUSION: one occasion per infusion (booked or given, boosters included),
    window [infusion − window_before, infusion start).
    AFTER_LAST_INDUCTION: one occasion, due at the last induction infusion's start + offset,
    window [due − window_before, due + window_after]; it exists only once the course holds
    that infusion.
    MAINTENANCE_WEEKLY: occasion k (1-based) due at maintenance start + offset + k ×
    interval, window [due − window_before, due + window_after]: the first is due one interval
    after maintenance starts (a weekly measure asks about the week since the event; due at
    the start itself, it would be overdue the moment the review is signed).

    An after-event window (AFTER_LAST_INDUCTION, MAINTENANCE_WEEKLY) never opens before the
    event that creates it: ``opens_at`` is at the earliest the event's instant, since an
    answer given before the event cannot measure what followed it.
    """

    BEFORE_FIRST_INFUSION = "before_first_infusion"
    BEFORE_EACH_INFUSION = "before_each_infusion"
    AFTER_LAST_INDUCTION = "after_last_induction"
    MAINTENANCE_WEEKLY = "maintenance_weekly"


_BEFORE_ANCHORS = frozenset({Anchor.BEFORE_FIRST_INFUSION, Anchor.BEFORE_EACH_INFUSION})


@dataclass(frozen=True)
class MeasurementRule:
    """One line of a measurement plan: these instruments, at these occasions.

    ``key`` is a stable id (``"baseline"``, ``"pre_infusion"``, ``"post_induction_2w"``) that
    the Django layer stores against completed items, so it must not change once used.
    ``instruments`` are questionnaire codes (``"phq9"``, ``"gad7"``, ``"qids_sr16"``, ...).
    Durations are real elapsed time. Before-infusion rules are timed from the infusion start:
    they take a positive ``window_before`` and no ``offset`` or ``window_after``, because the
    window closes when the infusion starts. ``interval`` is required for MAINTENANCE_WEEKLY
    (which repeats every ``interval``, not necessarily 7 days) and forbidden otherwise.
    ``self_report`` is False for clinician-rated measures; a rule with MADRS or CADSS must say so.

    Raises ClinicalValueError naming the field when any of this does not hold.
    """

    key: str
    anchor: Anchor
    instruments: tuple[str, ...]
    offset: dt.timedelta = _ZERO
    window_before: dt.timedelta = _ZERO
    window_after: dt.timedelta = _ZERO
    interval: dt.timedelta | None = None
    self_report: bool = True
    # BEFORE_EACH_INFUSION only: the first infusion it applies to (2 when a baseline rule
    # already asks for the same measure before infusion 1).
    from_infusion: int = 1

    def __post_init__(self) -> None:
        if not self.key:
            raise ClinicalValueError("key", "a measurement rule needs a key")
        if self.from_infusion < 1 or (
            self.from_infusion != 1 and self.anchor != Anchor.BEFORE_EACH_INFUSION
        ):
            raise ClinicalValueError(
                "from_infusion",
                f"rule {self.key}: from_infusion must be 1 or more, and is for "
                f"before-each-infusion rules only; got {self.from_infusion}",
            )
        self._check_instruments()
        self._check_durations()
        clinician_rated = sorted(CLINICIAN_RATED.intersection(self.instruments))
        if self.self_report and clinician_rated:
            raise ClinicalValueError(
                "self_report",
                f"rule {self.key}: {', '.join(clinician_rated)} is clinician-rated, "
                "so the rule cannot be self-report",
            )

    def _check_instruments(self) -> None:
        if not self.instruments or not all(self.instruments):
            raise ClinicalValueError(
                "instruments", f"rule {self.key} needs one or more non-empty instrument codes"
            )
        if len(set(self.instruments)) != len(self.instruments):
            raise ClinicalValueError(
                "instruments", f"rule {self.key} lists an instrument twice: {self.instruments}"
            )

    def _check_durations(self) -> None:
        for field, value in (
            ("offset", self.offset),
            ("window_before", self.window_before),
            ("window_after", self.window_after),
        ):
            if value < _ZERO:
                raise ClinicalValueError(
                    field, f"rule {self.key}: {field} must not be negative; got {value}"
                )
        if self.anchor in _BEFORE_ANCHORS:
            if self.offset != _ZERO:
                raise ClinicalValueError(
                    "offset",
                    f"rule {self.key}: a before-infusion rule is timed from the infusion start "
                    f"and takes no offset; got {self.offset}",
                )
            if self.window_after != _ZERO:
                raise ClinicalValueError(
                    "window_after",
                    f"rule {self.key}: a before-infusion window closes when the infusion "
                    f"starts and takes no window_after; got {self.window_after}",
                )
            if self.window_before == _ZERO:
                raise ClinicalValueError(
                    "window_before",
                    f"rule {self.key}: a before-infusion rule needs a positive window_before",
                )
        if self.anchor == Anchor.MAINTENANCE_WEEKLY:
            if self.interval is None or self.interval <= _ZERO:
                raise ClinicalValueError(
                    "interval",
                    f"rule {self.key}: a maintenance_weekly rule needs a positive interval; "
                    f"got {self.interval}",
                )
        elif self.interval is not None:
            raise ClinicalValueError(
                "interval",
                f"rule {self.key}: only maintenance_weekly rules repeat; "
                f"{self.anchor} takes no interval",
            )


@dataclass(frozen=True)
class TreatmentEvents:
    """The treatment events of one course that measurement rules are timed from.

    ``infusions`` are the starts of the course's infusion visits, booked or given, aware and
    in strictly increasing order; the first ``induction_count`` of them are the induction and
    the rest boosters. ``maintenance_started_at`` is None until maintenance begins.

    Raises ClinicalValueError naming the field when an instant is naive, the infusions are out
    of order, or ``induction_count`` is below 1.
    """

    infusions: tuple[dt.datetime, ...]
    induction_count: int
    maintenance_started_at: dt.datetime | None
    course_ended_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        for number, start in enumerate(self.infusions, start=1):
            _require_aware("infusions", start, f"infusion {number} start")
        # Compare in UTC: aware datetimes sharing a tzinfo compare by wall clock, which is
        # ambiguous in the repeated hour when daylight-saving time ends.
        for number, (earlier, later) in enumerate(
            zip(self.infusions, self.infusions[1:], strict=False), start=2
        ):
            if not earlier.astimezone(_UTC) < later.astimezone(_UTC):
                raise ClinicalValueError(
                    "infusions",
                    f"infusion starts must be in increasing order; infusion {number} "
                    f"({later.isoformat()}) is not after infusion {number - 1} "
                    f"({earlier.isoformat()})",
                )
        if self.induction_count < 1:
            raise ClinicalValueError(
                "induction_count", f"induction_count must be at least 1; got {self.induction_count}"
            )
        if self.maintenance_started_at is not None:
            _require_aware("maintenance_started_at", self.maintenance_started_at)
        if self.course_ended_at is not None:
            _require_aware("course_ended_at", self.course_ended_at)


@dataclass(frozen=True)
class Completion:
    """A questionnaire the patient (or clinician) completed: which instrument, and when.

    Raises ClinicalValueError naming the field when the instrument is empty or ``at`` is naive.
    """

    instrument: str
    at: dt.datetime

    def __post_init__(self) -> None:
        if not self.instrument:
            raise ClinicalValueError("instrument", "a completion needs an instrument code")
        _require_aware("at", self.at)


class DueStatus(StrEnum):
    """Where one measurement stands at a given instant."""

    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"
    MISSED = "missed"
    DONE = "done"


@dataclass(frozen=True)
class DueItem:
    """One instrument at one occasion of one rule, with its window and status.

    ``occasion`` is 1-based: the infusion number for BEFORE_EACH_INFUSION, the week number for
    MAINTENANCE_WEEKLY, and 1 otherwise. Instants are UTC. For before-infusion rules
    ``due_at == closes_at`` is the infusion start and the window is half-open
    [opens_at, closes_at); otherwise it is closed [opens_at, closes_at].
    ``completed_at`` is set exactly when ``status`` is DONE.
    """

    rule: str
    instrument: str
    occasion: int
    opens_at: dt.datetime
    due_at: dt.datetime
    closes_at: dt.datetime
    status: DueStatus
    completed_at: dt.datetime | None


@dataclass(frozen=True)
class _Slot:
    """An occasion × instrument window before its status is known."""

    rule: str
    instrument: str
    occasion: int
    opens_at: dt.datetime
    due_at: dt.datetime
    closes_at: dt.datetime
    closed_end: bool  # False: [opens_at, closes_at); True: [opens_at, closes_at]

    def contains(self, instant: dt.datetime) -> bool:
        return self.opens_at <= instant and _not_after(instant, self.closes_at, self.closed_end)


def due_items(
    plan: Sequence[MeasurementRule],
    events: TreatmentEvents,
    completions: Sequence[Completion],
    *,
    now: dt.datetime,
    horizon: dt.timedelta = DEFAULT_HORIZON,
) -> tuple[DueItem, ...]:
    """Return every measurement of the plan for this course, with its status at ``now``.

    Expansion: each rule gives its occasions as described on ``Anchor``: none before the
    course has an infusion (BEFORE_*), none before the course holds its last induction
    infusion, i.e. ``len(infusions) >= induction_count`` (AFTER_LAST_INDUCTION), none before
    maintenance starts, and no weekly occasion due after ``course_ended_at`` (an occasion due
    exactly then is kept). Occasions that open after ``now + horizon`` are left out; past
    occasions are all kept, so the patient page shows the history.

    Matching: a completion satisfies an item of the same instrument whose window contains it.
    Each completion satisfies at most one item. Completions are taken in time order and each
    goes to the unsatisfied item that closes first (ties: opened first, then rule key, then
    occasion). Keeping later-closing items for later completions satisfies as many items as
    any assignment could, and the result does not depend on the order of ``plan`` or
    ``completions``. So where windows overlap, as a baseline PHQ-9 and the PHQ-9 before
    infusion 1 do, a single PHQ-9 counts once: for the one that opened first (the baseline),
    and the other stays open for a second completion. Completions after ``now`` are ignored,
    so an earlier ``now`` shows the board as it was then.

    Status of an unsatisfied item: UPCOMING before ``opens_at``; DUE from ``opens_at`` to
    ``due_at``; OVERDUE after ``due_at`` until ``closes_at``; MISSED after. An item is DUE or
    OVERDUE exactly when a completion at ``now`` would satisfy it: a before-infusion item has
    no overdue period and is MISSED from the instant the infusion starts.

    Returns items sorted by (due_at, rule, instrument), instants in UTC.

    Source: the issue's plan semantics ("due, overdue and missed are computed and shown on the
    day board and the patient page"); what is measured when is protocol data.

    Raises ClinicalValueError naming ``now`` when it is naive, ``horizon`` when it is
    negative, or ``plan`` when two rules share a key.
    """
    _require_aware("now", now)
    if horizon < _ZERO:
        raise ClinicalValueError("horizon", f"horizon must not be negative; got {horizon}")
    keys = [rule.key for rule in plan]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ClinicalValueError("plan", f"rule keys must be unique; repeated: {repeated}")

    now = now.astimezone(_UTC)
    slots = [slot for rule in plan for slot in _slots(rule, events, last_opening=now + horizon)]
    completed = _match(slots, completions, now=now)
    items = [
        DueItem(
            rule=slot.rule,
            instrument=slot.instrument,
            occasion=slot.occasion,
            opens_at=slot.opens_at,
            due_at=slot.due_at,
            closes_at=slot.closes_at,
            status=DueStatus.DONE if index in completed else _status(slot, now),
            completed_at=completed.get(index),
        )
        for index, slot in enumerate(slots)
    ]
    return tuple(sorted(items, key=lambda item: (item.due_at, item.rule, item.instrument)))


def _slots(
    rule: MeasurementRule, events: TreatmentEvents, *, last_opening: dt.datetime
) -> Iterator[_Slot]:
    """Yield the rule's occasion × instrument windows that open by ``last_opening``."""
    for occasion, due_at, event_at in _occasions(
        rule, events, last_due=last_opening + rule.window_before
    ):
        opens_at = max(due_at - rule.window_before, event_at)
        if opens_at > last_opening:
            continue
        for instrument in rule.instruments:
            yield _Slot(
                rule=rule.key,
                instrument=instrument,
                occasion=occasion,
                opens_at=opens_at,
                due_at=due_at,
                closes_at=due_at + rule.window_after,
                closed_end=rule.anchor not in _BEFORE_ANCHORS,
            )


def _occasions(
    rule: MeasurementRule, events: TreatmentEvents, *, last_due: dt.datetime
) -> Iterator[tuple[int, dt.datetime, dt.datetime]]:
    """Yield (occasion number, due instant, the earliest its window may open), in UTC; weekly
    ones stop after ``last_due``. A before-infusion window closes at the infusion, so only
    after-event windows are held to their event."""
    infusions = [start.astimezone(_UTC) for start in events.infusions]
    never = dt.datetime.min.replace(tzinfo=_UTC)
    if rule.anchor == Anchor.BEFORE_FIRST_INFUSION:
        yield from ((n, start, never) for n, start in enumerate(infusions[:1], start=1))
    elif rule.anchor == Anchor.BEFORE_EACH_INFUSION:
        numbered = enumerate(infusions[rule.from_infusion - 1 :], start=rule.from_infusion)
        yield from ((n, start, never) for n, start in numbered)
    elif rule.anchor == Anchor.AFTER_LAST_INDUCTION:
        if len(infusions) >= events.induction_count:
            last = infusions[events.induction_count - 1]
            yield 1, last + rule.offset, last
    elif events.maintenance_started_at is not None:
        if events.course_ended_at is not None:
            last_due = min(last_due, events.course_ended_at.astimezone(_UTC))
        # Real elapsed time in UTC: adding days to a local wall-clock datetime would move the
        # occasion by an hour of real time across a daylight-saving change.
        started = events.maintenance_started_at.astimezone(_UTC)
        interval = cast(dt.timedelta, rule.interval)  # MeasurementRule requires it for weekly
        week = 1
        while (due_at := started + rule.offset + week * interval) <= last_due:
            yield week, due_at, started
            week += 1


def _match(
    slots: Sequence[_Slot], completions: Sequence[Completion], *, now: dt.datetime
) -> dict[int, dt.datetime]:
    """Return {slot index: completion instant} for the slots the completions satisfy."""
    closing_order = sorted(
        range(len(slots)),
        key=lambda i: (
            slots[i].closes_at,
            slots[i].closed_end,  # at equal ends [a, c) closes before [b, c]
            slots[i].opens_at,
            slots[i].rule,
            slots[i].occasion,
        ),
    )
    completed: dict[int, dt.datetime] = {}
    for at, instrument in sorted((c.at.astimezone(_UTC), c.instrument) for c in completions):
        if at > now:
            break
        for index in closing_order:
            slot = slots[index]
            if index not in completed and slot.instrument == instrument and slot.contains(at):
                completed[index] = at
                break
    return completed


def _status(slot: _Slot, now: dt.datetime) -> DueStatus:
    """Return the status of an unsatisfied slot at ``now``."""
    if now < slot.opens_at:
        return DueStatus.UPCOMING
    if _not_after(now, slot.due_at, slot.closed_end):
        return DueStatus.DUE
    if _not_after(now, slot.closes_at, slot.closed_end):
        return DueStatus.OVERDUE
    return DueStatus.MISSED


def _not_after(instant: dt.datetime, end: dt.datetime, closed_end: bool) -> bool:
    """Return True when ``instant`` is within a window ending at ``end``."""
    return instant <= end if closed_end else instant < end


def _require_aware(field: str, value: dt.datetime, label: str | None = None) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ClinicalValueError(
            field, f"{label or field} must be timezone-aware; got {value.isoformat()}"
        )
