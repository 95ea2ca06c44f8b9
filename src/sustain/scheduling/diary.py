"""Each site's diary index (sustain_core.diary), kept in step with the database (issue 15).

The process keeps one immutable ``DiaryIndex`` per site and swaps whole indexes under a lock,
so a search in another thread keeps the one it started with. ``index_for`` reads the site's
diary version (one query, scheduling.models.DiaryVersion, raised by the triggers of
migration 0007 in the transaction of every change the search reads):
- unchanged: the cached index;
- raised by appointments only: the cached index patched (``with_changes``) from those
  appointments' current rows (plain values, two queries);
- raised by the site's setup (hours, closures, chairs, shifts, staffing rules, time zone),
  by more changes than the log keeps, with another epoch, or nothing cached: rebuilt.

Why a patch is never behind its label: versions are handed out in commit order (see the
migration), so a change log read that shows version v is read after every change up to v
committed, and the appointment rows read after it show them all (READ COMMITTED: each
statement sees what committed before it began). A row may already show a later change; that
change's own log row comes with the next read and patches the row again (patching replaces a
visit by its current row, so it is idempotent). A rebuild reads the version first, then
the diary: the diary is as new as the version or newer, never older.

Inside a transaction of the caller's (not a test's) the index is used but never stored: it
may show the transaction's own uncommitted changes, and a rollback would bring the version
back to a number the stored index does not match.

An index covers the visits and shifts ending after its ``since`` (a day before it was built);
a search from before ``since`` plus the infusion gap floor gets a one-off index, and an index
older than ``REBASE`` is rebuilt so past visits do not pile up.
"""

import datetime as dt
import threading
from dataclasses import dataclass

from django.db import connection

from sustain.accounts.models import Site
from sustain.scheduling.enums import OCCUPYING, StaffRole
from sustain.scheduling.models import (
    Appointment,
    DiaryChange,
    DiaryVersion,
    Shift,
)
from sustain.scheduling.staff import PHASE_FIELDS, held_slots, staff_rules
from sustain_core import series, staffing
from sustain_core.diary import DiaryIndex, DiaryVisit

BACK = dt.timedelta(days=1)  # how far before `now` a new index starts
REBASE = dt.timedelta(days=7)  # an index whose coverage started longer ago is rebuilt


def site_calendar(site: Site) -> series.SiteCalendar:
    """The site's time zone, opening hours and closures."""
    return series.SiteCalendar(
        tz=site.tz,
        hours=tuple(
            series.OpeningHours(weekday=h.weekday, opens=h.opens, closes=h.closes)
            for h in site.opening_hours.all()
        ),
        closed_dates=frozenset(site.closures.values_list("date", flat=True)),
    )


@dataclass(frozen=True)
class _Cached:
    index: DiaryIndex
    epoch: int
    since: dt.datetime  # the visits and shifts ending after this are in the index


_cache: dict[int, _Cached] = {}
_cache_lock = threading.Lock()


def index_for(site: Site, *, now: dt.datetime, earliest: dt.datetime | None = None) -> DiaryIndex:
    """The site's diary index at its current version, for a search from `earliest` (default
    `now`)."""
    need = (now if earliest is None else earliest) - series.INFUSION_GAP_FLOOR
    row = DiaryVersion.objects.filter(site_id=site.pk).values_list("version", "epoch").first()
    if row is None:  # nothing at the site ever changed: nothing worth keeping
        return build(site, since=min(now - BACK, need), version=0)
    version, epoch = row
    with _cache_lock:
        cached = _cache.get(site.pk)
    if cached is not None and (
        cached.epoch != epoch or not now - REBASE <= cached.since <= now
    ):  # another database's (a rolled back or restored row), too old, or the clock went back
        cached = None
    if need < (now - BACK if cached is None else cached.since):
        return build(site, since=need, version=version)  # a search from the past: one-off
    if cached is not None and cached.index.version >= version:
        return cached.index
    patched = None if cached is None else _patched(site, cached.index, since=cached.since)
    if cached is not None and patched is not None:
        fresh = _Cached(patched, epoch, cached.since)
    else:
        fresh = _Cached(build(site, since=now - BACK, version=version), epoch, now - BACK)
    if _may_store():
        with _cache_lock:
            current = _cache.get(site.pk)
            # Another thread may have stored a newer index meanwhile: keep the newest.
            if (
                current is None
                or current.epoch != epoch
                or current.index.version <= fresh.index.version
            ):
                _cache[site.pk] = fresh
    return fresh.index


def _may_store() -> bool:
    """Whether what this connection reads is committed: no transaction but a test's."""
    # Django marks the atomic blocks a TestCase opens (the test's own transaction).
    return all(block._from_testcase for block in connection.atomic_blocks)  # type: ignore[attr-defined]


def forget() -> None:
    """Empty the cache (tests; a process that wants its memory back)."""
    with _cache_lock:
        _cache.clear()


def _visit(
    chair_id: int, starts_at: dt.datetime, ends_at: dt.datetime, *minutes: int
) -> DiaryVisit:
    return DiaryVisit(
        chair=series.ChairId(chair_id),
        start=starts_at,
        end=ends_at,
        phases=staffing.visit_phases(*minutes),
    )


def build(site: Site, *, since: dt.datetime, version: int) -> DiaryIndex:
    """The site's index from its database rows: occupying visits and shifts ending after
    `since`, hours, closures and staffing rules; labelled `version` (read before)."""
    nurses: list[series.Interval] = []
    prescribers: list[series.Interval] = []
    shifts = Shift.objects.filter(site=site, ends_at__gt=since)
    for role, starts_at, ends_at in shifts.values_list("role", "starts_at", "ends_at"):
        target = nurses if role == StaffRole.NURSE else prescribers
        target.append(series.Interval(start=starts_at, end=ends_at))
    rows = Appointment.objects.filter(
        site=site, status__in=OCCUPYING, ends_at__gt=since
    ).values_list("pk", "chair_id", "starts_at", "ends_at", *PHASE_FIELDS)
    return DiaryIndex(
        calendar=site_calendar(site),
        staff_rules=staff_rules(site),
        nurse_shifts=nurses,
        prescriber_shifts=prescribers,
        visits={pk: _visit(*values) for pk, *values in rows},
        version=version,
    )


def _patched(site: Site, index: DiaryIndex, *, since: dt.datetime) -> DiaryIndex | None:
    """`index` with the appointments changed since its version read again; None when a
    rebuild is needed (the setup changed, or the log no longer holds every change)."""
    changes = list(
        DiaryChange.objects.filter(site_id=site.pk, version__gt=index.version)
        .order_by("version")
        .values_list("version", "appointment_id")
    )
    versions = [version for version, _ in changes]
    if not versions or versions != list(range(index.version + 1, versions[-1] + 1)):
        return None  # pruned: more changes than the log keeps
    if any(appointment is None for _, appointment in changes):
        return None  # the setup changed
    ids = {appointment for _, appointment in changes if appointment is not None}
    rows = Appointment.objects.filter(
        pk__in=ids, site=site, status__in=OCCUPYING, ends_at__gt=since
    ).values_list("pk", "chair_id", "starts_at", "ends_at", *PHASE_FIELDS)
    added = {pk: _visit(*values) for pk, *values in rows}
    return index.with_changes(
        version=versions[-1],
        removed=[pk for pk in ids if pk not in added],
        added=added,
    )


def held_visits(site: Site, *, now: dt.datetime, patient_id: int) -> list[DiaryVisit]:
    """The visits of other patients' series held at the site at `now` (staff.held_slots): they
    take their chairs and load the staff."""
    return [
        DiaryVisit(chair=slot.chair, start=slot.start, end=slot.end, phases=phases)
        for slot, phases in held_slots(site, now=now, patient_id=patient_id)
    ]
