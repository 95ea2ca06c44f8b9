"""The site's calendar, run by its clinic administrators from the browser (issue 13, item 2):
opening hours per weekday, closures (a day or a range of days, with a reason), and public
holidays from the maintained list of the `holidays` package for the country (and optional
subdivision) the site chose.

Every change is one transaction under the site's booking lock (staff.lock_site), audited, and
refused when a visit booked from now on would fall outside the new hours or on a new closed
day: the refusal names those visits by date and time (never the patient); move them first.
Closures are dated from today at the site up to CLOSURE_HORIZON ahead; a range spans at most
MAX_RANGE days. The series search respects the result (services.site_calendar).
"""

import datetime as dt
from collections.abc import Iterable, Mapping

import holidays
from django.db import transaction

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site, User
from sustain.scheduling import staff
from sustain.scheduling.enums import OCCUPYING, Weekday
from sustain.scheduling.models import Appointment, Closure, OpeningHours
from sustain_core import series
from sustain_core.errors import ClinicalValueError

CLOSURE_HORIZON = dt.timedelta(days=3 * 366)  # how far ahead a closure may be set
MAX_RANGE = 366  # days in one closure range
REASON_MAX = Closure._meta.get_field("reason").max_length or 120
NAMED = 5  # visits named in a refusal; the rest are counted


def supported_countries() -> dict[str, list[str]]:
    """The `holidays` package's countries (ISO codes) and each one's subdivisions."""
    return {code: list(subdivs) for code, subdivs in holidays.list_supported_countries().items()}


def _today(site: Site, now: dt.datetime) -> dt.date:
    return now.astimezone(site.tz).date()


def _refuse_booked_outside(
    site: Site, calendar: series.SiteCalendar, now: dt.datetime, field: str, change: str
) -> None:
    """Refuse `change` when a visit booked (or under way) from `now` on would not fit the new
    calendar; the visits are named by their local date and time."""
    outside = []
    for visit in Appointment.objects.filter(site=site, status__in=OCCUPYING, ends_at__gt=now):
        try:
            series.check_within_opening_hours(
                start=visit.starts_at, end=visit.ends_at, calendar=calendar
            )
        except ClinicalValueError:
            outside.append(visit)
    if not outside:
        return
    tz = site.tz
    named = ", ".join(
        f"{v.starts_at.astimezone(tz):%a %d %b %Y %H:%M}–{v.ends_at.astimezone(tz):%H:%M}"
        for v in outside[:NAMED]
    )
    more = f" and {len(outside) - NAMED} more" if len(outside) > NAMED else ""
    count = f"{len(outside)} booked visit{'s' * (len(outside) > 1)}"
    raise ClinicalValueError(
        field, f"{change} would leave {count} outside the opening hours: {named}{more}; "
        "move or cancel them first",
    )  # fmt: skip


def _calendar(
    site: Site,
    *,
    hours: Iterable[tuple[int, dt.time, dt.time]] | None = None,
    closed: Iterable[dt.date] = (),
) -> series.SiteCalendar:
    rows = (
        [(h.weekday, h.opens, h.closes) for h in site.opening_hours.all()]
        if hours is None
        else list(hours)
    )
    return series.SiteCalendar(
        tz=site.tz,
        hours=tuple(series.OpeningHours(weekday=w, opens=o, closes=c) for w, o, c in rows),
        closed_dates=frozenset(site.closures.values_list("date", flat=True)) | frozenset(closed),
    )


@transaction.atomic
def set_opening_hours(
    *,
    site: Site,
    hours: Mapping[int, tuple[dt.time, dt.time] | None],
    by: User,
    now: dt.datetime,
) -> list[OpeningHours]:
    """Set the site's hours: for every weekday (0 Monday … 6 Sunday) one opening and closing
    time, or None when closed that weekday. Replaces the weekday's rows.

    Refused, naming ``opens_<weekday>``, for a missing weekday or an opening not before the
    closing, and naming ``hours`` when booked visits would fall outside the new hours.
    """
    if set(hours) != set(range(7)):
        raise ClinicalValueError("hours", "give the hours of every weekday, Monday to Sunday")
    for weekday, times in sorted(hours.items()):
        if times is not None and not times[0] < times[1]:
            raise ClinicalValueError(
                f"opens_{weekday}",
                f"{Weekday(weekday).label}: the opening time {times[0]:%H:%M} must be before the "
                f"closing time {times[1]:%H:%M}",
            )
    staff.lock_site(site)  # no visit is booked meanwhile
    rows = [(w, t[0], t[1]) for w, t in sorted(hours.items()) if t is not None]
    _refuse_booked_outside(site, _calendar(site, hours=rows), now, "hours", "These hours")
    site.opening_hours.all().delete()
    saved = [
        OpeningHours.objects.create(site=site, weekday=w, opens=o, closes=c) for w, o, c in rows
    ]
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.SCHEDULE, site=site, obj=site,
        reason="opening hours",
    )  # fmt: skip
    return saved


def _check_dates(site: Site, first: dt.date, last: dt.date, now: dt.datetime) -> None:
    today = _today(site, now)
    if last < first:
        raise ClinicalValueError(
            "last", f"the last day {last:%Y-%m-%d} is before the first {first:%Y-%m-%d}"
        )
    if first < today:
        raise ClinicalValueError(
            "first", f"a closure starts today ({today:%Y-%m-%d}) or later; got {first:%Y-%m-%d}"
        )
    horizon = today + CLOSURE_HORIZON
    if last > horizon:
        raise ClinicalValueError(
            "last", f"a closure is set at most until {horizon:%Y-%m-%d}; got {last:%Y-%m-%d}"
        )
    if (last - first).days + 1 > MAX_RANGE:
        raise ClinicalValueError("last", f"one closure spans at most {MAX_RANGE} days")


def _create_closures(
    site: Site, days: Mapping[dt.date, str], by: User, now: dt.datetime, change: str
) -> list[Closure]:
    staff.lock_site(site)
    _refuse_booked_outside(site, _calendar(site, closed=days), now, "first", change)
    created = []
    for day, reason in sorted(days.items()):
        closure = Closure(site=site, date=day, reason=reason)
        closure.full_clean()
        closure.save()
        record_event(
            actor=by, action=AuditAction.CREATE, category=DataCategory.SCHEDULE, site=site,
            obj=closure, reason=f"closed {day:%Y-%m-%d}",
        )  # fmt: skip
        created.append(closure)
    return created


@transaction.atomic
def add_closures(
    *, site: Site, first: dt.date, last: dt.date | None, reason: str, by: User, now: dt.datetime
) -> list[Closure]:
    """Close the site on `first` (through `last`, when given), for `reason`, one closure a day.

    Refused for no reason, a reason over REASON_MAX characters, dates outside today to
    CLOSURE_HORIZON, a range over MAX_RANGE days, a day already closed, or booked visits on
    the days.
    """
    reason = reason.strip()
    if not reason:
        raise ClinicalValueError("reason", "give the reason the site is closed")
    if len(reason) > REASON_MAX:
        raise ClinicalValueError("reason", f"the reason is at most {REASON_MAX} characters")
    last = first if last is None else last
    _check_dates(site, first, last, now)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    already = sorted(site.closures.filter(date__in=days).values_list("date", flat=True))
    if already:
        listed = ", ".join(f"{d:%a %d %b %Y}" for d in already)
        raise ClinicalValueError("first", f"the site is already closed on {listed}")
    change = f"Closing {first:%a %d %b %Y}" + (f" to {last:%a %d %b %Y}" if last > first else "")
    return _create_closures(site, dict.fromkeys(days, reason), by, now, change)


@transaction.atomic
def remove_closure(*, closure: Closure, by: User) -> None:
    """Open the site again on the closure's day (audited)."""
    staff.lock_site(closure.site)
    record_event(
        actor=by, action=AuditAction.DELETE, category=DataCategory.SCHEDULE, site=closure.site,
        obj=closure, reason=f"reopened {closure.date:%Y-%m-%d}",
    )  # fmt: skip
    closure.delete()


@transaction.atomic
def set_holiday_country(*, site: Site, country: str, subdivision: str, by: User) -> Site:
    """Choose the public-holiday list of `country` (ISO code; blank: none) and, optionally,
    one of its subdivisions (e.g. US, NY). Refused for a country or subdivision the `holidays`
    package does not know."""
    country, subdivision = country.strip().upper(), subdivision.strip().upper()
    known = supported_countries()
    if country and country not in known:
        raise ClinicalValueError("country", f"no public-holiday list for the country {country!r}")
    if subdivision and subdivision not in known.get(country, []):
        raise ClinicalValueError(
            "subdivision", f"{country or 'no country'} has no subdivision {subdivision!r}"
        )
    site.holiday_country, site.holiday_subdivision = country, subdivision
    site.save(update_fields=["holiday_country", "holiday_subdivision"])
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.SCHEDULE, site=site, obj=site,
        reason=f"holidays {'-'.join(filter(None, [country, subdivision])) or 'none'}",
    )  # fmt: skip
    return site


def public_holidays(site: Site, year: int) -> dict[dt.date, str]:
    """The public holidays of `year` in the site's chosen country (and subdivision)."""
    if not site.holiday_country:
        raise ClinicalValueError("year", "choose the site's country for public holidays first")
    found = holidays.country_holidays(
        site.holiday_country, subdiv=site.holiday_subdivision or None, years=year
    )
    return dict(sorted(found.items()))


@transaction.atomic
def add_public_holidays(*, site: Site, year: int, by: User, now: dt.datetime) -> list[Closure]:
    """Close the site on each public holiday of `year` from today on that is not closed
    already, each closure named by its holiday. Refused for a year outside this one to the
    last one CLOSURE_HORIZON reaches, or when booked visits fall on those holidays."""
    today = _today(site, now)
    last_year = (today + CLOSURE_HORIZON).year
    if not today.year <= year <= last_year:
        raise ClinicalValueError(
            "year", f"public holidays are added for {today.year} to {last_year}; got {year}"
        )
    closed = set(site.closures.values_list("date", flat=True))
    horizon = today + CLOSURE_HORIZON
    days = {
        day: _label(name)
        for day, name in public_holidays(site, year).items()
        if today <= day <= horizon and day not in closed
    }
    if not days:
        return []
    return _create_closures(site, days, by, now, f"Closing on the {year} public holidays")


def _label(name: str) -> str:
    # A day with several holidays has them joined by "; "; the reason keeps what fits.
    return name if len(name) <= REASON_MAX else name[: REASON_MAX - 1] + "…"
