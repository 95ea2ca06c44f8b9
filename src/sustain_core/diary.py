"""A site's diary, indexed once and shared by every series search at the site (issue 15).

``DiaryIndex`` holds what is the same for every request at a site: its calendar (hours,
closures, zone), its chairs' booked visits, its staffing rules and shifts. A search adds
what is the request's own (the protocol's rules and visit template, the patient's diary, the
holds live now) and answers exactly as ``series.search_series`` does on the same data with
``staffing.blocks`` as its ``staff``: the reference it is tested against.

An index is a value: ``with_changes`` returns a new index with visits added, replaced or
removed (booking, moving, cancelling) and leaves the old one untouched, so a search running
in another thread keeps a consistent diary. ``version`` is the caller's: the site's diary
version the index reflects (``sustain.scheduling.diary`` keeps it in step with the database).

Pure: no Django, no clock, no I/O.
"""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sustain_core import series, staffing
from sustain_core.series import (
    ChairId,
    Chairs,
    Interval,
    PatientDiary,
    SeriesResult,
    SeriesRules,
    SiteCalendar,
    Slot,
)


@dataclass(frozen=True)
class DiaryVisit:
    """A visit that holds a chair and puts load on the staff: booked, given, or held."""

    chair: ChairId
    start: dt.datetime
    end: dt.datetime
    phases: tuple[staffing.Phase, ...]


class DiaryIndex:
    """A site's calendar, booked visits and staffing, for its series searches (see module)."""

    def __init__(
        self,
        *,
        calendar: SiteCalendar,
        staff_rules: staffing.StaffRules,
        nurse_shifts: Sequence[Interval],
        prescriber_shifts: Sequence[Interval],
        visits: Mapping[int, DiaryVisit],
        version: int = 0,
    ) -> None:
        self.calendar = calendar
        self.staff_rules = staff_rules
        self.nurse_shifts = tuple(nurse_shifts)
        self.prescriber_shifts = tuple(prescriber_shifts)
        self.visits = dict(visits)
        self.version = version

    def with_changes(
        self,
        *,
        version: int,
        removed: Iterable[int] = (),
        added: Mapping[int, DiaryVisit] | None = None,
    ) -> "DiaryIndex":
        """A new index at ``version``: the visits keyed in ``removed`` left out (a key not
        there is ignored), then those in ``added`` added or, for a key already there,
        replaced. This index is not changed."""
        visits = dict(self.visits)
        for key in removed:
            visits.pop(key, None)
        visits.update(added or {})
        return DiaryIndex(
            calendar=self.calendar,
            staff_rules=self.staff_rules,
            nurse_shifts=self.nurse_shifts,
            prescriber_shifts=self.prescriber_shifts,
            visits=visits,
            version=version,
        )

    def search(
        self,
        rules: SeriesRules,
        *,
        earliest: dt.datetime,
        duration: dt.timedelta,
        phases: tuple[staffing.Phase, ...],
        chairs: Sequence[ChairId],
        patient: PatientDiary,
        held: Sequence[DiaryVisit] = (),
        requested_span: dt.timedelta | None = None,
        preferred_chair: ChairId | None = None,
        step: dt.timedelta = dt.timedelta(minutes=15),
        horizon: dt.timedelta = dt.timedelta(days=60),
        max_alternatives: int = 5,
    ) -> SeriesResult:
        """``series.search_series`` over this diary plus ``held`` (visits held live now, which
        take their chairs and load the staff), in ``chairs`` order, for visits of ``duration``
        with ``phases``; the other arguments and the errors are ``search_series``' own."""
        everything = [*self.visits.values(), *held]
        busy: dict[ChairId, list[Interval]] = {}
        for visit in everything:
            busy.setdefault(visit.chair, []).append(Interval(start=visit.start, end=visit.end))
        booked = [staffing.Visit(start=visit.start, phases=visit.phases) for visit in everything]

        def staff(start: dt.datetime, end: dt.datetime) -> tuple[staffing.Block, ...]:
            return staffing.blocks(
                self.staff_rules,
                phases=phases,
                nurse_shifts=self.nurse_shifts,
                prescriber_shifts=self.prescriber_shifts,
                booked=booked,
                start=start,
                end=end,
            )

        return series.search_series(
            rules,
            earliest=earliest,
            duration=duration,
            calendar=self.calendar,
            chairs=Chairs(order=tuple(chairs), busy=busy),
            patient=patient,
            requested_span=requested_span,
            preferred_chair=preferred_chair,
            step=step,
            horizon=horizon,
            max_alternatives=max_alternatives,
            staff=staff,
        )

    def conflicts(
        self,
        slots: Sequence[Slot],
        *,
        phases: tuple[staffing.Phase, ...],
        held: Sequence[DiaryVisit] = (),
    ) -> list[str]:
        """Why ``slots`` (visits with ``phases``) can no longer be booked in this diary plus
        ``held``: a chair taken, or staff short (``staffing.conflicts``' words), one message
        each, naming the local day; empty when every slot is still free and staffed. For the
        check made under the site's lock before a booking is written."""
        tz = self.calendar.tz
        everything = [*self.visits.values(), *held]
        found: list[str] = []
        for slot in slots:
            if any(
                visit.chair == slot.chair and visit.start < slot.end and slot.start < visit.end
                for visit in everything
            ):
                found.append(f"{slot.start.astimezone(tz):%a %d %b %H:%M}: the chair was taken")
        if self.staff_rules.checked and slots:
            starts = sorted(slot.start for slot in slots)
            blocks = staffing.blocks(
                self.staff_rules,
                phases=phases,
                nurse_shifts=self.nurse_shifts,
                prescriber_shifts=self.prescriber_shifts,
                booked=[staffing.Visit(start=v.start, phases=v.phases) for v in everything],
                start=starts[0] - dt.timedelta(days=1),
                end=starts[-1] + dt.timedelta(days=1),
            )
            found += [
                f"{start.astimezone(tz):%a %d %b}: {message}"
                for start in starts
                for message in staffing.conflicts(start, blocks, tz=tz)
            ]
        return found
