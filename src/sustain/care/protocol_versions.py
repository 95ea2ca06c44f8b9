"""The protocols a site can use: the library (sustain_core.protocols) and its own versions.

Clinic versions are immutable rows of ClinicProtocol; a course pins (key, version) and is
always resolved through `protocol_for`, so a later edit never changes a running course.
"""

import datetime as dt
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils.text import slugify

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
    refuses an invalid protocol with a message naming the rule); nothing is saved on refusal.
    """
    if not change_note.strip():
        raise ClinicalValueError("change_note", "say what changed and why")
    library = (based_on.key, based_on.version) in protocols.PROTOCOLS
    key = f"{slugify(based_on.key)}-site{site.pk}" if library else based_on.key
    latest = ClinicProtocol.objects.filter(site=site, key=key).order_by("-version").first()
    version = latest.version + 1 if latest else 1
    protocol = protocols.protocol_from_dict({**data, "key": key, "version": version})
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
