"""The protocols a site can use: the library (sustain_core.protocols) and its own versions.

Clinic versions are immutable rows of ClinicProtocol; a course pins (key, version) and is
always resolved through `protocol_for`, so a later edit never changes a running course.
"""

import datetime as dt
from collections.abc import Iterable, Mapping

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.text import slugify

from sustain.accounts import directors
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site, User
from sustain.care.models import ClinicProtocol, Course
from sustain_core import protocols
from sustain_core.errors import ClinicalValueError


def resolve(site: Site, key: str, version: int) -> protocols.Protocol:
    """A library protocol, or one of this site's own versions."""
    if (key, version) in protocols.PROTOCOLS:
        return protocols.PROTOCOLS[(key, version)]
    row = ClinicProtocol.objects.filter(site=site, key=key, version=version).first()
    if row is None:
        raise ClinicalValueError("protocol", f"no protocol {key} v{version} at {site.name}")
    return protocols.protocol_from_dict(row.data)


def protocol_for(course: Course) -> protocols.Protocol:
    return resolve(course.patient.site, course.protocol_key, course.protocol_version)


def protocols_for(courses: Iterable[Course]) -> dict[int, protocols.Protocol]:
    """Each course's protocol by course id, as `protocol_for` gives it, with one query for all
    the clinic versions among them (none when every course follows a library protocol). The
    courses' patients should be loaded (select_related), for their sites."""
    courses = list(courses)
    pins = {(c.patient.site_id, c.protocol_key, c.protocol_version) for c in courses}
    own = Q()
    for site_id, key, version in pins:
        if (key, version) not in protocols.PROTOCOLS:
            own |= Q(site_id=site_id, key=key, version=version)
    rows = {
        (row.site_id, row.key, row.version): protocols.protocol_from_dict(row.data)
        for row in (ClinicProtocol.objects.filter(own) if own else ())
    }
    found: dict[int, protocols.Protocol] = {}
    for course in courses:
        pin = (course.patient.site_id, course.protocol_key, course.protocol_version)
        if pin[1:] in protocols.PROTOCOLS:
            found[course.pk] = protocols.PROTOCOLS[pin[1:]]
        elif pin in rows:
            found[course.pk] = rows[pin]
        else:  # no such version at the site: refused as protocol_for refuses it
            found[course.pk] = protocol_for(course)
    return found


def available(site: Site) -> list[protocols.Protocol]:
    """Every library protocol and every version of this site's own, library first."""
    own = [
        protocols.protocol_from_dict(row.data)
        for row in ClinicProtocol.objects.filter(site=site).order_by("key", "version")
    ]
    return [*protocols.PROTOCOLS.values(), *own]


@transaction.atomic
def save_version(
    *,
    site: Site,
    based_on: protocols.Protocol,
    data: Mapping[str, object],
    change_note: str,
    by: User,
    now: dt.datetime,
) -> ClinicProtocol:
    """Save an edited protocol as the site's next immutable version.

    A library protocol becomes "<its key>-site<site id>" version 1; a clinic version becomes the
    next version of the same key. The data is validated by sustain_core (protocol_from_dict
    refuses an invalid protocol naming every rule it breaks, the platform guardrails among
    them); nothing is saved on refusal.

    Who may save (care.add_clinicprotocol: prescribers and clinic administrators): anyone, a
    version that changes only wording and scheduling (the title, notes, citations, sources,
    weekdays, check-in and discharge minutes: sustain_core.protocols.clinical_changes); only a
    medical director of the site (sustain.accounts.directors), one that changes dosing or
    safety relative to ``based_on`` (issue 11, item 3).
    """
    if not by.has_perm("care.add_clinicprotocol"):
        raise ClinicalValueError("by", "your role does not save protocol versions")
    if not change_note.strip():
        raise ClinicalValueError("change_note", "say what changed and why")
    library = (based_on.key, based_on.version) in protocols.PROTOCOLS
    key = f"{slugify(based_on.key)}-site{site.pk}" if library else based_on.key
    latest = ClinicProtocol.objects.filter(site=site, key=key).order_by("-version").first()
    version = latest.version + 1 if latest else 1
    protocol = protocols.protocol_from_dict({**data, "key": key, "version": version})
    clinical = protocols.clinical_changes(based_on, protocol)
    if clinical and not directors.is_medical_director(by, site):
        raise ClinicalValueError(
            "data",
            f"only a medical director of {site.name} publishes a change to dosing or safety; "
            f"this version changes {', '.join(clinical)}. Ask a medical director, or change "
            "only wording and scheduling (title, notes, citations, weekdays, check-in and "
            "discharge minutes)",
        )
    try:
        row = ClinicProtocol.objects.create(
            site=site,
            key=key,
            version=version,
            data=protocols.protocol_to_dict(protocol),
            based_on_key=based_on.key,
            based_on_version=based_on.version,
            change_note=change_note.strip(),
            created_by=by,
            created_at=now,
        )
    except IntegrityError:
        raise ClinicalValueError("version", "someone saved this version first; reload") from None
    record_event(
        actor=by, action=AuditAction.CREATE, category=DataCategory.PROTOCOL, site=site, obj=row
    )
    return row
