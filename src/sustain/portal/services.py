"""Patient self-report: signed, expiring, single-use links (issue 3, item 5).

A link is `/r/<token>/` where the token is `<invitation id>.<nonce>` signed with the secret
key (django.core.signing). The database keeps only the nonce's SHA-256, the expiry and the
moment it was used, so a tampered, expired or used link is refused before anything is shown.
"""

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import F

from sustain.accounts import links, notify
from sustain.accounts.audit import PATIENT_LINK, WORKER, record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, Channel, DataCategory
from sustain.accounts.models import Site, User
from sustain.care import services as care_services
from sustain.care.enums import AssessmentSource, Timepoint
from sustain.care.models import Assessment, Patient
from sustain.care.rules import current_rules
from sustain.portal.models import Invitation, KioskGuard
from sustain_core import instruments
from sustain_core.errors import ClinicalValueError

SALT = "sustain.portal.invitation"
USED_MESSAGE = "This link has already been used. Thank you: your answers were received."


class InvitationRefused(Exception):
    """The link cannot be used. `reason`: tampered, expired, used, kiosk-code, kiosk-locked."""

    def __init__(self, reason: str, message: str, invitation: Invitation | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.invitation = invitation


_hash = links.nonce_hash


def link_path(invitation_id: int, nonce: str) -> str:
    return "/r/" + links.sign(SALT, invitation_id, nonce) + "/"


def _check_self_report(instrument_codes: Sequence[str]) -> None:
    if not instrument_codes:
        raise ClinicalValueError("instruments", "choose at least one questionnaire")
    for code in instrument_codes:
        if instruments.get_instrument(code).rater != instruments.Rater.SELF:
            raise ClinicalValueError(
                "instruments", f"{code} is clinician-rated; it cannot be sent to the patient"
            )


@transaction.atomic
def invite_patient(
    *,
    patient: Patient,
    instrument_codes: Sequence[str],
    channel: Channel,
    timepoint: Timepoint,
    by: User | None,
    now: dt.datetime,
    ttl: dt.timedelta | None = None,
) -> tuple[Invitation, str]:
    """Create a link for the patient's questionnaires and send it; return it and the URL.

    The message names the clinic only (no patient data leaves in e-mail or SMS text).
    """
    _check_self_report(instrument_codes)
    if channel == Channel.KIOSK:
        raise ClinicalValueError("channel", "a clinic-tablet link is opened with a code instead")
    address = patient.email if channel == Channel.EMAIL else patient.phone
    if not address:
        kind = "e-mail address" if channel == Channel.EMAIL else "phone number"
        raise ClinicalValueError("channel", f"the patient has no {kind} on file")
    ttl = ttl or dt.timedelta(hours=settings.SUSTAIN_INVITATION_TTL_HOURS)
    nonce, nonce_hash = links.new_nonce()
    invitation = Invitation.objects.create(
        patient=patient,
        instruments=list(dict.fromkeys(instrument_codes)),
        channel=channel,
        sent_to=address,
        nonce_hash=nonce_hash,
        timepoint=timepoint,
        created_at=now,
        created_by=by,
        expires_at=now + ttl,
    )
    url = settings.SUSTAIN_BASE_URL.rstrip("/") + link_path(invitation.pk, nonce)
    hours = int(ttl.total_seconds() // 3600)
    notify.send(
        site=patient.site,
        channel=channel,
        to=address,
        now=now,
        subject=f"{patient.site.name}: a short questionnaire before your next visit",
        body=(
            f"{patient.site.name} asks you to answer a short questionnaire:\n{url}\n"
            f"The link works once and expires in {hours} hours."
        ),
    )
    care_services.record_patient_event(
        by=by, patient=patient, category=DataCategory.SELF_REPORT, obj=invitation, unattended=WORKER
    )
    return invitation, url


def _kiosk_nonce(invitation_id: int, code: str) -> str:
    """The link's nonce for a kiosk code: derived, so the code alone can rebuild the link."""
    key = hashlib.sha256(f"{SALT}.kiosk:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{invitation_id}:{code}".encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def open_on_kiosk(
    *,
    patient: Patient,
    instrument_codes: Sequence[str],
    timepoint: Timepoint,
    by: User,
    now: dt.datetime,
) -> tuple[Invitation, str]:
    """Create a short-lived link the patient opens on the clinic tablet with a 6-digit code.

    The code lives SUSTAIN_KIOSK_CODE_MINUTES (30 by default) and is single-use like a link.
    """
    _check_self_report(instrument_codes)
    invitation = Invitation.objects.create(
        patient=patient,
        instruments=list(dict.fromkeys(instrument_codes)),
        channel=Channel.KIOSK,
        sent_to="clinic tablet",
        nonce_hash=secrets.token_hex(32),  # replaced below, once the id is known
        timepoint=timepoint,
        created_at=now,
        created_by=by,
        expires_at=now + dt.timedelta(minutes=settings.SUSTAIN_KIOSK_CODE_MINUTES),
    )
    active = _active_kiosk_codes(now)
    while True:  # a code no other open kiosk link uses, so a code finds one link only
        code = f"{secrets.randbelow(1_000_000):06d}"
        if not any(_kiosk_matches(other, code) for other in active):
            break
    invitation.nonce_hash = _hash(_kiosk_nonce(invitation.pk, code))
    invitation.save(update_fields=["nonce_hash"])
    care_services.record_patient_event(
        by=by, patient=patient, category=DataCategory.SELF_REPORT, obj=invitation
    )
    return invitation, code


def _active_kiosk_codes(now: dt.datetime) -> list[Invitation]:
    return list(
        Invitation.objects.filter(
            channel=Channel.KIOSK, used_at__isnull=True, expires_at__gt=now
        ).select_related("patient")
    )


def _kiosk_matches(invitation: Invitation, code: str) -> bool:
    return hmac.compare_digest(invitation.nonce_hash, _hash(_kiosk_nonce(invitation.pk, code)))


KIOSK_WINDOW = dt.timedelta(minutes=10)


def _count_check(scope: str, now: dt.datetime) -> bool:
    """Count one code check against the scope's window; False when its checks are used up.

    One conditional UPDATE decides, so of parallel guesses at most SUSTAIN_KIOSK_MAX_FAILURES
    are checked in a window; a window that has ended starts again with this check.
    """
    limit = settings.SUSTAIN_KIOSK_MAX_FAILURES
    KioskGuard.objects.get_or_create(scope=scope, defaults={"window_ends_at": now + KIOSK_WINDOW})
    guard = KioskGuard.objects.filter(scope=scope)
    if guard.filter(window_ends_at__gt=now, failures__lt=limit).update(failures=F("failures") + 1):
        return True
    return bool(
        guard.filter(window_ends_at__lte=now).update(failures=1, window_ends_at=now + KIOSK_WINDOW)
    )


def redeem_kiosk_code(code: str, *, now: dt.datetime, site: Site | None = None) -> str:
    """Return the link path for a tablet code, or raise InvitationRefused.

    A tablet opened for a site (/kiosk/?site=<id>) finds only that site's codes. Guessing is
    bounded per site, not per address (issue 14, item 5): each check is counted first
    (`_count_check`); a right code gives its count back, so only wrong codes use up the
    SUSTAIN_KIOSK_MAX_FAILURES of a 10-minute window, after which the site's tablets refuse
    codes until the window ends. No address is counted: behind a proxy every tablet has one.
    """
    scope = f"site:{site.pk}" if site is not None else "network"
    if not _count_check(scope, now):
        raise InvitationRefused(
            "kiosk-locked", "Too many wrong codes. Please ask the clinic staff for help."
        )
    code = code.strip()
    for invitation in _active_kiosk_codes(now):
        if site is not None and invitation.patient.site_id != site.pk:
            continue
        if code.isdigit() and _kiosk_matches(invitation, code):
            KioskGuard.objects.filter(scope=scope, failures__gt=0).update(
                failures=F("failures") - 1
            )
            return link_path(invitation.pk, _kiosk_nonce(invitation.pk, code))
    raise InvitationRefused("kiosk-code", "That code is not valid. Please check it with the staff.")


def open_invitation(token: str, *, now: dt.datetime) -> Invitation:
    """Return the invitation behind a link, or raise InvitationRefused."""
    try:
        invitation_id, nonce = links.unsign(SALT, token)
        invitation = Invitation.objects.select_related("patient__site").get(pk=invitation_id)
    except (links.BadLink, Invitation.DoesNotExist):
        raise InvitationRefused("tampered", "This link is not valid.") from None
    if not links.matches(invitation.nonce_hash, nonce):
        raise InvitationRefused("tampered", "This link is not valid.")
    if invitation.used_at is not None:
        raise InvitationRefused("used", USED_MESSAGE, invitation)
    if invitation.expires_at <= now:
        raise InvitationRefused(
            "expired", "This link has expired. Please ask your clinic for a new one.", invitation
        )
    return invitation


@transaction.atomic
def submit_answers(
    *, token: str, answers: Mapping[str, Mapping[str, int | None]], now: dt.datetime
) -> list[Assessment]:
    """Score and save every questionnaire of the link at once, and use the link up.

    Everything is checked before anything is written; the link is claimed by one conditional
    UPDATE, so of two simultaneous submissions exactly one is saved.
    """
    invitation = open_invitation(token, now=now)
    asked = list(invitation.instruments)
    unexpected = sorted(set(answers) - set(asked))
    if unexpected:
        raise ClinicalValueError(
            "instruments", f"answers to {', '.join(unexpected)} were not asked for by this link"
        )
    rules = current_rules(invitation.patient.site).as_rules()
    for code in asked:  # score all first: a refused answer saves nothing
        try:
            care_services.score_answers(rules, code, answers.get(code, {}))
        except ClinicalValueError as error:
            # "<instrument>:<field>" tells the page which questionnaire and item to mark.
            raise ClinicalValueError(f"{code}:{error.field}", error.message) from error
    claimed = Invitation.objects.filter(
        pk=invitation.pk, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not claimed:
        raise InvitationRefused("used", USED_MESSAGE, invitation)
    return [
        care_services.record_assessment(
            patient=invitation.patient,
            instrument=code,
            answers=answers[code],
            timepoint=Timepoint(invitation.timepoint),
            by=None,
            source=AssessmentSource.SELF_REPORT,
            completed_at=now,
            now=now,
        )
        for code in asked
    ]


def audit_link(
    invitation: Invitation | None, *, action: AuditAction, outcome: AuditOutcome, reason: str = ""
) -> None:
    """Audit what a patient link did: opened, or refused and why (its own transaction)."""
    record_event(
        actor=None,
        username=PATIENT_LINK,
        action=action,
        category=DataCategory.SELF_REPORT,
        outcome=outcome,
        site=invitation.patient.site if invitation else None,
        patient_id=invitation.patient_id if invitation else None,
        obj=invitation,
        reason=reason,
    )
