"""A site's own details, set by its clinic administrator: the name, the time zone, and the
address and telephone printed on the documents handed to patients (issue 13, item 2).

The site lives in accounts, but a change of time zone must know the site's bookings, which
only scheduling holds, so the service is here. The safe behaviour is chosen: the time zone is
refused while visits or shifts are booked from now on, naming how many. Visits and shifts are
instants, so a new zone would silently re-time every one of them on the page (an 08:00 visit
in New York shows at 07:00 in Chicago), and the opening hours, which are local times, would no
longer match them. A zone set wrongly at setup is corrected before the first booking.
"""

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Membership, Site, User, validate_timezone
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment, Shift
from sustain.scheduling.staff import lock_site
from sustain_core.errors import ClinicalValueError

CHANGE_SITE = "accounts.change_site"
PHONE = re.compile(r"^\+?[0-9 ().-]{5,30}$")


def bookings_ahead(site: Site, now: dt.datetime) -> tuple[int, int]:
    """The site's booked visits and its shifts that end after `now`."""
    visits = Appointment.objects.filter(
        site=site, status=AppointmentStatus.BOOKED, ends_at__gt=now
    ).count()
    shifts = Shift.objects.filter(site=site, ends_at__gt=now).count()
    return visits, shifts


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _privacy_email(value: str) -> str:
    value = value.strip()
    try:
        if value:
            EmailValidator()(value)
    except ValidationError:
        raise ClinicalValueError(
            "privacy_email", "the privacy officer's e-mail is not an e-mail address"
        ) from None
    return value


@transaction.atomic
def change_site_details(
    *,
    site: Site,
    name: str,
    timezone: str,
    address: str,
    phone: str,
    by: User,
    now: dt.datetime,
    privacy_email: str | None = None,
) -> Site:
    """Set the site's name, time zone (an IANA name), address, telephone and privacy
    officer's e-mail (`privacy_email`, unchanged when None). Refused: a role
    without ``accounts.change_site`` or not a member of the site, a blank or taken name, an
    unknown time zone, a new time zone while visits or shifts are booked ahead (counted), a
    telephone that is not digits, spaces and + ( ) - ., an address over 300 characters, and a
    request that changes nothing. One audit event naming the fields changed."""
    if not (by.is_active and by.has_perm(CHANGE_SITE)):
        raise ClinicalValueError("by", "only a clinic administrator changes the site's details")
    if not Membership.objects.filter(user=by, site=site).exists():
        raise ClinicalValueError("by", f"you are not a member of {site.name}")
    lock_site(site)  # no booking lands between the count below and the save
    site.refresh_from_db()
    name, timezone, address, phone = name.strip(), timezone.strip(), address.strip(), phone.strip()
    if not name or len(name) > 120:
        raise ClinicalValueError("name", "the site's name is 1 to 120 characters")
    if Site.objects.filter(name__iexact=name).exclude(pk=site.pk).exists():
        raise ClinicalValueError("name", f"another site is named {name}")
    try:
        validate_timezone(timezone)
    except ValidationError:
        raise ClinicalValueError(
            "timezone", f"{timezone!r} is not a time zone name (e.g. America/New_York)"
        ) from None
    if len(address) > 300:
        raise ClinicalValueError("address", "the address is at most 300 characters")
    if phone and not PHONE.match(phone):
        raise ClinicalValueError(
            "phone", "a telephone number is 5 to 30 digits, spaces and + ( ) - . only"
        )
    if timezone != site.timezone:
        visits, shifts = bookings_ahead(site, now)
        if visits or shifts:
            raise ClinicalValueError(
                "timezone",
                f"the time zone cannot change while {_count(visits, 'visit')} and "
                f"{_count(shifts, 'shift')} are booked from now on: each would show at "
                "another local time (cancel them first; a zone is best corrected before the "
                "first booking)",
            )
    wanted = {"name": name, "timezone": timezone, "address": address, "phone": phone}
    if privacy_email is not None:  # who hears of an emergency access (BTG-03); None: unchanged
        wanted["privacy_email"] = _privacy_email(privacy_email)
    changed = [field for field, value in wanted.items() if getattr(site, field) != value]
    if not changed:
        raise ClinicalValueError("name", "nothing to change")
    for field in changed:
        setattr(site, field, wanted[field])
    site.save(update_fields=changed)
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.SCHEDULE, site=site, obj=site,
        reason=f"site {' '.join(changed)}"[:40],
    )  # fmt: skip
    return site
