"""Emergency ("break-glass") access to one patient outside the clinician's sites (issue 14,
BTG-01..BTG-03; security-reliability-interop.md §1.6, after HL7 EHR-S FM TI.1.3.1 and
OpenEMR's emergency access procedure).

- Who: the roles holding ``care.break_glass`` (prescribers and infusion nurses, the people
  who treat a patient in front of them); never the front desk, schedulers, clinic
  administrators or auditors (sustain.accounts.roles).
- How: the clinician finds the patient by exact MRN, or by family name and date of birth
  (given name to tell two apart), states a reason and types their password again, and a
  second-factor code unless the demo runs without one (sustain.accounts.mfa). The patient is
  looked up only after the re-authentication, so the page is no oracle for who is a patient.
- What: a grant for that user and that patient for SUSTAIN_BREAK_GLASS_MINUTES, honoured by
  ``care.queries.get_patient_for_user`` (the patient page, the chart on it and the consent
  form). Read-only: every write goes through get_patient_for_change and the other scoped
  lookups, which ignore grants, so a write is still the audited 404. One open grant per user
  (a database constraint): opening another patient ends the first.
- Audit: the start (reason "BTG start"), every read under the grant (the normal read event
  with reason "BTG"), the end ("BTG end") or expiry ("BTG expired", written by the worker's
  sweep) and the review ("BTG review ..."). The clinician's own words stay in the grant (the
  audit log holds codes, never free text).
- Review: the start writes an e-mail to the outbox for the site's privacy officer (the site's
  privacy e-mail, else its reviewers), naming no patient, and the grant is an open review
  item; an auditor or clinic administrator of the patient's site, never the clinician, closes
  it as appropriate or inappropriate with a note.
"""

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from sustain.accounts import mfa, notify
from sustain.accounts.access import require_permission, users_with_perm
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import Site, User
from sustain.care.models import BreakGlassGrant, BreakGlassOutcome, Patient
from sustain_core.errors import ClinicalValueError

BREAK_GLASS = "care.break_glass"
REVIEW = "care.review_break_glass"
READ_REASON = "BTG"  # the purpose of use on every read under a grant (FHIR's BTG)
SESSION_KEY = "break_glass"
REASON_MIN_CHARACTERS = 10
REASON_MAX_CHARACTERS = 1000


def active_grant(user: User, patient_id: int, *, now: dt.datetime) -> BreakGlassGrant | None:
    """`user`'s open, unexpired grant for exactly this patient, if any (one query)."""
    return (
        BreakGlassGrant.objects.select_related("patient__site")
        .filter(user=user, patient_id=patient_id, ended_at__isnull=True, expires_at__gt=now)
        .first()
    )


def _refuse_reauthentication(user: User, why: str) -> None:
    record_event(
        actor=user, action=AuditAction.LOGIN_FAILED, category=DataCategory.AUTHENTICATION,
        outcome=AuditOutcome.DENIED, reason=f"BTG {why}",
    )  # fmt: skip


def _find(user: User, mrn: str, family_name: str, given_name: str, born: dt.date | None) -> Patient:
    """The one patient matching exactly; a search that finds none or several is audited
    (insider snooping shows as searches: §1.3), naming no term (the audit log holds codes)."""
    wanted = Q()
    if mrn:
        wanted &= Q(mrn=mrn.upper())
    if family_name:
        wanted &= Q(family_name__iexact=family_name)
    if given_name:
        wanted &= Q(given_name__iexact=given_name)
    if born is not None:
        wanted &= Q(date_of_birth=born)
    found = list(Patient.objects.select_related("site").filter(wanted)[:2])
    if len(found) != 1:
        record_event(
            actor=user, action=AuditAction.READ, category=DataCategory.DEMOGRAPHICS,
            outcome=AuditOutcome.DENIED,
            reason="BTG search: no match" if not found else "BTG search: several",
        )  # fmt: skip
    if not found:
        raise ClinicalValueError(
            "mrn", "no patient matches exactly: check the MRN, or the name and date of birth"
        )
    if len(found) > 1:
        raise ClinicalValueError(
            "mrn", "more than one patient matches: add the given name, the MRN or both"
        )
    return found[0]


def start(
    request: HttpRequest,
    user: User,
    *,
    mrn: str,
    family_name: str,
    given_name: str,
    date_of_birth: dt.date | None,
    reason: str,
    password: str,
    code: str,
    now: dt.datetime,
) -> BreakGlassGrant:
    """Open an emergency access to one patient outside `user`'s sites (BTG-01): 403 (audited)
    for a role without care.break_glass; refused in plain words for a reason under
    REASON_MIN_CHARACTERS, a wrong password or second-factor code (audited), a search that is
    not an exact MRN or family name with date of birth, no or several matches, or a patient at
    one of the user's own sites. Ends the user's open grant, if any. One transaction: the
    grant, its audit event ("BTG start") and the privacy officer's e-mail in the outbox."""
    require_permission(user, BREAK_GLASS, category=DataCategory.PATIENT_RECORD)
    reason = " ".join(reason.split())
    if len(reason) < REASON_MIN_CHARACTERS:
        raise ClinicalValueError(
            "reason", "say in a few words why you need this patient's record now"
        )
    if len(reason) > REASON_MAX_CHARACTERS:
        raise ClinicalValueError(
            "reason", f"the reason is at most {REASON_MAX_CHARACTERS} characters"
        )
    mrn, family_name, given_name = mrn.strip(), family_name.strip(), given_name.strip()
    if not mrn and not (family_name and date_of_birth):
        raise ClinicalValueError(
            "mrn", "type the patient's exact MRN, or their family name and date of birth"
        )
    if not password or not user.check_password(password):
        _refuse_reauthentication(user, "wrong password")
        raise ClinicalValueError("password", "that password is not right: type yours again")
    if not settings.SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR:
        if not code.strip():
            raise ClinicalValueError("code", "type the code your authenticator app shows now")
        try:
            mfa.verify(request, user, code)
        except ClinicalValueError as refused:
            raise ClinicalValueError("code", refused.message) from None
    patient = _find(user, mrn, family_name, given_name, date_of_birth)
    if patient.site.memberships.filter(user=user).exists():
        raise ClinicalValueError(
            "mrn", "this patient is at one of your sites: open them from the patient list"
        )
    minutes = settings.SUSTAIN_BREAK_GLASS_MINUTES
    with transaction.atomic():
        for grant in BreakGlassGrant.objects.select_for_update().filter(
            user=user, ended_at__isnull=True
        ):
            _end(grant, now=now)
        try:
            with transaction.atomic():
                grant = BreakGlassGrant.objects.create(
                    user=user, patient=patient, reason=reason, started_at=now,
                    expires_at=now + dt.timedelta(minutes=minutes),
                )  # fmt: skip
        except IntegrityError:  # a second request of the same user won the race
            raise ClinicalValueError(
                "mrn", "another emergency access of yours opened just now: end it first"
            ) from None
        record_event(
            actor=user, action=AuditAction.CREATE, category=DataCategory.PATIENT_RECORD,
            site=patient.site, patient_id=patient.pk, obj=grant, reason="BTG start",
        )  # fmt: skip
        _tell_privacy_officer(patient.site, now=now)
    request.session[SESSION_KEY] = {
        "grant": grant.pk,
        "patient": patient.pk,
        "until": grant.expires_at.isoformat(),
    }
    return grant


def privacy_recipients(site: Site) -> list[str]:
    """Who is told of an emergency access at `site`: its privacy e-mail, else the e-mail of
    each of its reviewers (auditors and clinic administrators)."""
    if site.privacy_email:
        return [site.privacy_email]
    return sorted(users_with_perm(REVIEW, site).exclude(email="").values_list("email", flat=True))


def _tell_privacy_officer(site: Site, *, now: dt.datetime) -> None:
    notify.email_staff(
        site=site, emails=privacy_recipients(site), now=now,
        subject=f"Sustain: an emergency access was opened at {site.name}",
        body=(
            f"An emergency access was opened at {site.name}; review it in Sustain "
            f"(Emergency reviews: {settings.SUSTAIN_BASE_URL}/emergency-access/reviews/)."
        ),
    )  # fmt: skip


def _end(grant: BreakGlassGrant, *, now: dt.datetime) -> None:
    """End an open grant: by its expiry when that has passed, else now; audited."""
    grant.expired = grant.expires_at <= now
    grant.ended_at = grant.expires_at if grant.expired else now
    grant.save(update_fields=["ended_at", "expired"])
    record_event(
        actor=grant.user, action=AuditAction.UPDATE, category=DataCategory.PATIENT_RECORD,
        site=grant.patient.site, patient_id=grant.patient_id, obj=grant,
        reason="BTG expired" if grant.expired else "BTG end",
    )  # fmt: skip


def _end_open(*, now: dt.datetime, **which: Any) -> int:
    """End the open grants `which` names, under their row locks; return how many ended."""
    with transaction.atomic():
        grants = list(
            BreakGlassGrant.objects.select_for_update()
            .select_related("patient__site", "user")
            .filter(ended_at__isnull=True, **which)
        )
        for grant in grants:
            _end(grant, now=now)
    return len(grants)


def end(request: HttpRequest, user: User, *, now: dt.datetime) -> int:
    """End the user's open grant, if any ("End emergency access"); return how many ended."""
    request.session.pop(SESSION_KEY, None)
    return _end_open(now=now, user=user)


def end_expired(*, now: dt.datetime) -> int:
    """End (and audit, "BTG expired") every open grant whose time ran out: the worker's sweep."""
    return _end_open(now=now, expires_at__lte=now)


def reviews_for_user(user: User) -> QuerySet[BreakGlassGrant]:
    """The emergency accesses to the patients of `user`'s sites, open reviews first (403,
    audited, without care.review_break_glass). One audit read of the list."""
    require_permission(user, REVIEW, category=DataCategory.AUDIT)
    record_event(
        actor=user, action=AuditAction.READ, category=DataCategory.AUDIT, reason="BTG reviews"
    )
    return (
        BreakGlassGrant.objects.select_related("user", "patient__site", "reviewed_by")
        .filter(patient__site__memberships__user=user)
        .order_by("-reviewed_at", "-started_at", "-pk")
    )


def close_review(
    user: User, grant_id: int, *, outcome: str, note: str, now: dt.datetime
) -> BreakGlassGrant:
    """Record the review's outcome (appropriate / inappropriate) and a note: a reviewer of the
    patient's site (another site's grant is a 404), never the clinician who opened it; refused
    for an unknown outcome, a blank note, or a review closed already. Audited."""
    require_permission(user, REVIEW, category=DataCategory.AUDIT)
    note = note.strip()
    if outcome not in BreakGlassOutcome.values:
        raise ClinicalValueError("outcome", "choose appropriate or inappropriate")
    if not note:
        raise ClinicalValueError("note", "write a note: what you checked and found")
    if len(note) > REASON_MAX_CHARACTERS:
        raise ClinicalValueError("note", f"the note is at most {REASON_MAX_CHARACTERS} characters")
    with transaction.atomic():
        grant = (
            BreakGlassGrant.objects.select_for_update()
            .select_related("patient__site")
            .filter(pk=grant_id, patient__site__memberships__user=user)
            .first()
        )
        if grant is None:
            raise Http404("No such emergency access.")
        if grant.user_id == user.pk:
            raise ClinicalValueError("outcome", "someone else reviews your own emergency access")
        if grant.reviewed_at is not None:
            raise ClinicalValueError("outcome", "this review is closed already")
        grant.review_outcome, grant.review_note = outcome, note
        grant.reviewed_by, grant.reviewed_at = user, now
        grant.save(update_fields=["review_outcome", "review_note", "reviewed_by", "reviewed_at"])
        record_event(
            actor=user, action=AuditAction.UPDATE, category=DataCategory.AUDIT,
            site=grant.patient.site, patient_id=grant.patient_id, obj=grant,
            reason=f"BTG review {outcome}",
        )  # fmt: skip
    return grant
