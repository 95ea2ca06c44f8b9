"""Patient calendars: a secret iCalendar (RFC 5545) feed per patient and an .ics per visit.

Calendar files end up in third-party clouds, so an event says "Clinic visit", the clinic's
name and the visit's preparation text, and nothing else: no patient name, no drug, no
diagnosis (security-reliability-interop.md §6, ICS-03). Times are written in UTC ("Z"), so no
VTIMEZONE is needed: a second parser read icalendar's generated VTIMEZONE an hour off across
a DST change (§6, ICS-02). Each visit keeps one UID for life and raises its SEQUENCE when it
is moved or cancelled (`touch_appointment`); a cancelled visit stays in the feed as
STATUS:CANCELLED so subscribed calendars remove it (ICS-04).
"""

import datetime as dt
import hashlib
import secrets

import icalendar
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from icalendar.enums import STATUS

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import User
from sustain.care.models import Patient
from sustain.care.rules import current_rules
from sustain.care.services import record_patient_event
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment, CalendarFeed

PRODID = "-//Sustain//Clinic visits//EN"
SUMMARY = "Clinic visit"
# Visits this far back stay in the feed, so a calendar keeps recent history.
FEED_PAST = dt.timedelta(days=30)
# Who reads the feed in the audit trail: no staff user, no patient session.
FEED_READER = "calendar-feed"
# Ask subscribed clients to refresh hourly (RFC 7986 REFRESH-INTERVAL; X-PUBLISHED-TTL is the
# older name Outlook and Apple read).
REFRESH = dt.timedelta(hours=1)


def touch_appointment(appointment: Appointment) -> None:
    """Mark a visit as changed so calendars replace their copy (RFC 5545 SEQUENCE).

    Call it, in the same transaction, whenever a visit's time (starts_at/ends_at), site or
    status changes, in particular on reschedule and on cancellation; without it, subscribed
    calendars may keep the old version. The increment is one UPDATE with F(), so two changes
    racing each add one. `appointment.sequence` is refreshed from the database.

    The patient's answer through a reminder's link was for the old time or status, so it is
    cleared: a moved visit is neither confirmed nor waiting for a change any more.
    """
    Appointment.objects.filter(pk=appointment.pk).update(
        sequence=F("sequence") + 1, confirmed_at=None, change_requested_at=None, change_note=""
    )
    appointment.refresh_from_db(
        fields=["sequence", "confirmed_at", "change_requested_at", "change_note"]
    )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_url(token: str) -> str:
    """The absolute subscription URL for a feed token (SUSTAIN_BASE_URL)."""
    path = reverse("scheduling:calendar_feed", kwargs={"token": token})
    return settings.SUSTAIN_BASE_URL.rstrip("/") + path


def active_feed(patient: Patient) -> CalendarFeed | None:
    return (
        CalendarFeed.objects.select_related("created_by")
        .filter(patient=patient, revoked_at__isnull=True)
        .first()
    )


@transaction.atomic
def create_feed(*, patient: Patient, by: User, now: dt.datetime) -> tuple[CalendarFeed, str]:
    """Issue a new secret feed for the patient and return it with its token.

    The token is returned once and never stored (only its SHA-256 is); the caller shows the
    URL to the staff member and forgets it. An active feed is revoked first, so its URL stops
    working: this is also how staff show a lost URL again.
    """
    # Two clicks at once would both find no active feed; locking the patient row queues them.
    Patient.objects.select_for_update().get(pk=patient.pk)
    revoke_feed(patient=patient, by=by, now=now)
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        patient=patient, token_hash=token_hash(token), created_at=now, created_by=by
    )
    feed.full_clean()
    feed.save(force_insert=True)
    record_patient_event(by=by, patient=patient, category=DataCategory.SCHEDULE, obj=feed)
    return feed, token


@transaction.atomic
def revoke_feed(*, patient: Patient, by: User, now: dt.datetime) -> CalendarFeed | None:
    """Revoke the patient's active feed, if any; its URL then answers 404."""
    feed = (
        CalendarFeed.objects.select_for_update()
        .filter(patient=patient, revoked_at__isnull=True)
        .first()
    )
    if feed is None:
        return None
    feed.revoked_at = now
    feed.revoked_by = by
    feed.save(update_fields=["revoked_at", "revoked_by"])
    record_patient_event(
        by=by, patient=patient, category=DataCategory.SCHEDULE, obj=feed, action=AuditAction.UPDATE
    )
    return feed


def open_feed(token: str) -> CalendarFeed | None:
    """The active feed for a token, or None (unknown or revoked). Every attempt is audited."""
    feed = (
        CalendarFeed.objects.select_related("patient__site")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if feed is None or feed.revoked_at is not None:
        record_event(
            actor=None,
            username=FEED_READER,
            action=AuditAction.READ,
            category=DataCategory.SCHEDULE,
            outcome=AuditOutcome.DENIED,
            site=feed.patient.site if feed else None,
            patient_id=feed.patient_id if feed else None,
            obj=feed,
            reason="revoked" if feed else "unknown-token",
        )
        return None
    record_event(
        actor=None,
        username=FEED_READER,
        action=AuditAction.READ,
        category=DataCategory.SCHEDULE,
        site=feed.patient.site,
        patient_id=feed.patient_id,
        obj=feed,
    )
    return feed


def feed_visits(patient: Patient, *, now: dt.datetime) -> list[Appointment]:
    """The patient's visits from FEED_PAST ago onwards, cancelled ones included."""
    return list(patient.appointments.filter(starts_at__gte=now - FEED_PAST).select_related("site"))


def visit_event(appointment: Appointment, *, preparation: str, now: dt.datetime) -> icalendar.Event:
    """One VEVENT for a visit: the clinic's name, UTC times and preparation, nothing personal."""
    cancelled = appointment.status == AppointmentStatus.CANCELLED
    return icalendar.Event.new(
        uid=f"{appointment.uid}@sustain",
        stamp=now.astimezone(dt.UTC),
        start=appointment.starts_at.astimezone(dt.UTC),
        end=appointment.ends_at.astimezone(dt.UTC),
        sequence=appointment.sequence,
        status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
        summary=SUMMARY,
        location=appointment.site.name,
        description=preparation,
    )


def build_calendar(appointments: list[Appointment], *, preparation: str, now: dt.datetime) -> bytes:
    """An RFC 5545 calendar (METHOD:PUBLISH) of the visits: CRLF lines folded at 75 octets.

    RFC 5545 §3.6 asks for at least one component, so a calendar without visits carries a
    bare UTC VTIMEZONE, which no event refers to.
    """
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", icalendar.vDuration(REFRESH))
    for appointment in appointments:
        calendar.add_component(visit_event(appointment, preparation=preparation, now=now))
    if not appointments:
        utc = icalendar.Timezone.from_tzid("UTC")
        utc.pop("COMMENT")  # "only works from 1970 to 2038": true of the file, not of UTC
        calendar.add_component(utc)
    calendar.validate()  # type: ignore[no-untyped-call]  # icalendar leaves it unannotated
    return calendar.to_ical()


def feed_calendar(feed: CalendarFeed, *, now: dt.datetime) -> bytes:
    """The patient's feed, with the preparation text of their site's rules."""
    preparation = current_rules(feed.patient.site).visit_preparation
    return build_calendar(feed_visits(feed.patient, now=now), preparation=preparation, now=now)


def visit_calendar(appointment: Appointment, *, now: dt.datetime) -> bytes:
    preparation = current_rules(appointment.site).visit_preparation
    return build_calendar([appointment], preparation=preparation, now=now)
