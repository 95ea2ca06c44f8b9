"""The patient's answer to a visit reminder without replying to it (issue 13, item 9).

Each reminder carries a signed, single-use link (sustain.accounts.links, the self-report links'
machinery) to a page that shows the clinic and the visit's time, nothing else about the
patient, with "Confirm" and "Ask to change" (an optional note). The answer is recorded on the
appointment (`confirmed_at`, or `change_requested_at` and `change_note`) and audited; a change
request waits on the scheduler's day page until the visit is moved or cancelled, or the
scheduler keeps its time after speaking to the patient. A link is for the visit time its
reminder announced: once the visit is moved, cancelled or has started, it is refused.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction

from sustain.accounts import links
from sustain.accounts.audit import PATIENT_LINK, record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import User
from sustain.care.services import record_patient_event
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment, VisitLink
from sustain_core.errors import ClinicalValueError

SALT = "sustain.scheduling.visit-link"
NOTE_MAX_CHARS = 500
USED = "This link has already been used. Thank you: your answer was received."


class VisitLinkRefused(Exception):
    """The link cannot be used. `reason`: tampered, used, expired, changed."""

    def __init__(self, reason: str, message: str, link: VisitLink | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.link = link


def link_path(link_id: int, nonce: str) -> str:
    return "/v/" + links.sign(SALT, link_id, nonce) + "/"


def create_link(appointment: Appointment, *, now: dt.datetime) -> str:
    """A new link for the visit at its current time (joins the caller's transaction); its URL."""
    nonce, nonce_hash = links.new_nonce()
    link = VisitLink.objects.create(
        appointment=appointment,
        visit_starts_at=appointment.starts_at,
        nonce_hash=nonce_hash,
        created_at=now,
        expires_at=appointment.starts_at,
    )
    return settings.SUSTAIN_BASE_URL.rstrip("/") + link_path(link.pk, nonce)


def open_link(token: str, *, now: dt.datetime) -> VisitLink:
    """The link behind a token, if it may still be answered; else VisitLinkRefused."""
    try:
        link_id, nonce = links.unsign(SALT, token)
        link = VisitLink.objects.select_related("appointment__site").get(pk=link_id)
    except (links.BadLink, VisitLink.DoesNotExist):
        raise VisitLinkRefused("tampered", "This link is not valid.") from None
    if not links.matches(link.nonce_hash, nonce):
        raise VisitLinkRefused("tampered", "This link is not valid.")
    if link.used_at is not None:
        raise VisitLinkRefused("used", USED, link)
    visit = link.appointment
    if visit.status != AppointmentStatus.BOOKED or visit.starts_at != link.visit_starts_at:
        raise VisitLinkRefused(
            "changed",
            f"This visit has been changed. Please use your latest message from "
            f"{visit.site.name}, or contact the clinic.",
            link,
        )
    if link.expires_at <= now:
        raise VisitLinkRefused(
            "expired", "This visit has already started: this link no longer works.", link
        )
    return link


@transaction.atomic
def answer_visit(*, token: str, confirm: bool, note: str, now: dt.datetime) -> Appointment:
    """Record the patient's answer and use the link up (one conditional UPDATE claims it, so of
    two answers sent at once exactly one counts)."""
    note = note.strip()
    if len(note) > NOTE_MAX_CHARS:
        raise ClinicalValueError("note", f"the note is at most {NOTE_MAX_CHARS} characters")
    link = open_link(token, now=now)
    if not VisitLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now):
        raise VisitLinkRefused("used", USED, link)
    visit = (
        Appointment.objects.select_for_update()
        .select_related("patient__site")
        .get(pk=link.appointment_id)
    )
    if visit.status != AppointmentStatus.BOOKED or visit.starts_at != link.visit_starts_at:
        raise VisitLinkRefused("changed", "This visit has been changed meanwhile.", link)
    if confirm:
        visit.confirmed_at, visit.change_requested_at, visit.change_note = now, None, ""
    else:
        visit.confirmed_at, visit.change_requested_at, visit.change_note = None, now, note
    visit.save(update_fields=["confirmed_at", "change_requested_at", "change_note"])
    record_patient_event(
        by=None,
        patient=visit.patient,
        category=DataCategory.SCHEDULE,
        obj=visit,
        action=AuditAction.UPDATE,
        reason="confirmed by the patient" if confirm else "change asked by the patient",
    )
    return visit


@transaction.atomic
def keep_visit_time(*, appointment: Appointment, by: User) -> Appointment:
    """The scheduler spoke to the patient and keeps the visit's time: the request is closed."""
    visit = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if visit.change_requested_at is None:
        raise ClinicalValueError("visit", "the patient has not asked to change this visit")
    visit.change_requested_at, visit.change_note = None, ""
    visit.save(update_fields=["change_requested_at", "change_note"])
    record_patient_event(
        by=by,
        patient=appointment.patient,
        category=DataCategory.SCHEDULE,
        obj=visit,
        action=AuditAction.UPDATE,
        reason="change request closed: time kept",
    )
    return visit


def audit_link(
    link: VisitLink | None, *, action: AuditAction, outcome: AuditOutcome, reason: str = ""
) -> None:
    """Audit what a visit link did: opened, or refused and why (its own transaction)."""
    visit = link.appointment if link else None
    record_event(
        actor=None,
        username=PATIENT_LINK,
        action=action,
        category=DataCategory.SCHEDULE,
        outcome=outcome,
        site=visit.site if visit else None,
        patient_id=visit.patient_id if visit else None,
        obj=link,
        reason=reason,
    )
