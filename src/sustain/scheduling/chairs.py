"""What each chair offers (ChairCapability), set by the clinic's administrators.

A protocol's visits only go to chairs with every capability it needs (staff.chairs_for), so
taking a capability away from a chair that booked visits rely on is refused, as removing a
shift they need is (staff.remove_shift).
"""

import datetime as dt
from collections.abc import Collection

from django.db import transaction

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import User
from sustain.care.models import Course
from sustain.care.protocol_versions import protocol_for
from sustain.scheduling import staff
from sustain.scheduling.enums import AppointmentStatus, ChairCapability
from sustain.scheduling.models import Appointment, Chair
from sustain_core.errors import ClinicalValueError


@transaction.atomic
def set_chair_capabilities(
    *, chair: Chair, capabilities: Collection[str], by: User, now: dt.datetime
) -> Chair:
    """Set what `chair` offers to exactly `capabilities` (ChairCapability values).

    Refused, naming the field ``capabilities``, for a value that is no ChairCapability, or when
    a visit booked in the chair from `now` on needs a capability taken away.
    """
    unknown = sorted(set(capabilities) - set(ChairCapability.values))
    if unknown:
        raise ClinicalValueError(
            "capabilities", f"no such chair capability: {', '.join(map(repr, unknown))}"
        )
    staff.lock_site(chair.site)  # no visit is booked in the chair meanwhile
    chair.refresh_from_db(fields=["capabilities"])
    removed = set(chair.capabilities) - set(capabilities)
    if removed:
        _refuse_needed(chair, removed, now)
    chair.capabilities = [c for c in ChairCapability.values if c in capabilities]
    chair.full_clean()
    chair.save(update_fields=["capabilities"])
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.SCHEDULE, site=chair.site,
        obj=chair,
    )  # fmt: skip
    return chair


def _refuse_needed(chair: Chair, removed: set[str], now: dt.datetime) -> None:
    booked = Appointment.objects.filter(
        chair=chair, status=AppointmentStatus.BOOKED, ends_at__gt=now
    )
    courses = Course.objects.filter(pk__in=booked.values("course_id")).select_related(
        "patient__site"
    )
    needing = {
        course.pk: needed
        for course in courses
        if (needed := removed & set(protocol_for(course).visit.chair_needs))
    }
    if not needing:
        return
    tz = chair.site.tz
    first = (
        booked.filter(course_id__in=needing)
        .order_by("starts_at")
        .values_list("starts_at", flat=True)
        .first()
    )
    when = f" (the first {first.astimezone(tz):%a %d %b %H:%M})" if first else ""
    names = ", ".join(sorted(set().union(*needing.values())))
    raise ClinicalValueError(
        "capabilities",
        f"visits booked in {chair.name} need {names}{when}; move them to another chair first",
    )
