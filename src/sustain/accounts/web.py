"""What every view does with a service's refusal: say it in plain words, on the form field it
names or as a message at the top of the page. The field name is for code; people see only the
message (CONVENTIONS: thin views)."""

import zoneinfo
from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.contrib import messages
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import capfirst

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import Site, User
from sustain_core.errors import ClinicalValueError

T = TypeVar("T")


def plain(error: ClinicalValueError) -> str:
    """The refusal as a sentence for people: its message, without the field it names."""
    return capfirst(error.message)


# What a refused write touched, by the app that serves the page (its URL namespace) or, for
# the API, by a word in its path.
CATEGORY_OF_APP = {
    "care": DataCategory.PATIENT_RECORD, "clinic": DataCategory.PATIENT_RECORD,
    "infusion": DataCategory.INFUSION, "ledger": DataCategory.LEDGER,
    "portal": DataCategory.SELF_REPORT, "scheduling": DataCategory.SCHEDULE,
    "accounts": DataCategory.STAFF,
}  # fmt: skip
CATEGORY_IN_PATH = (
    ("ledger", DataCategory.LEDGER), ("count", DataCategory.LEDGER),
    ("infusion", DataCategory.INFUSION), ("chairside", DataCategory.INFUSION),
    ("visit", DataCategory.SCHEDULE), ("booking", DataCategory.SCHEDULE),
)  # fmt: skip


def audit_refusal(request: HttpRequest, error: ClinicalValueError) -> None:
    """One audit event for a refused write (issue 14, AUD-02): action "write", outcome
    "refused", the field the service named as the reason; the message is not kept (it may
    quote what was typed). The site is the user's, when they work at one only."""
    request.refusal_audited = True  # type: ignore[attr-defined]  # RefusedFormAuditMiddleware
    match = request.resolver_match
    category = CATEGORY_OF_APP.get(match.app_name if match else "")
    if category is None:
        path = request.path
        category = next((c for word, c in CATEGORY_IN_PATH if word in path), None)
    user = getattr(request, "user", None)
    actor = user if isinstance(user, User) and user.is_authenticated else None
    sites = list(Site.objects.filter(memberships__user=actor)[:2]) if actor else []
    patient_id = str(match.kwargs.get("patient_id", "")) if match else ""
    record_event(
        actor=actor, username="" if actor else "anonymous", action=AuditAction.WRITE,
        category=category or DataCategory.PATIENT_RECORD, outcome=AuditOutcome.REFUSED,
        site=sites[0] if len(sites) == 1 else None,
        patient_id=int(patient_id) if patient_id.isdigit() else None,
        reason=f"refused: {error.field}"[:40],
    )  # fmt: skip


def show_refusal(
    request: HttpRequest, error: ClinicalValueError, form: forms.Form | None = None
) -> None:
    """On the form field the error names (or the form as a whole), else as a page message;
    audited (audit_refusal)."""
    audit_refusal(request, error)
    if form is not None:
        form.add_error(error.field if error.field in form.fields else None, plain(error))
    else:
        messages.error(request, plain(error))


def attempt(
    request: HttpRequest,
    action: Callable[[], T],
    *,
    form: forms.Form | None = None,
    success: str | Callable[[T], str] = "",
) -> T | None:
    """Run one service call; on refusal show it (show_refusal) and return None, else show
    `success` (a text, or a function of the result) and return the result."""
    try:
        result = action()
    except ClinicalValueError as error:
        show_refusal(request, error, form)
        return None
    text = success(result) if callable(success) else success
    if text:
        messages.success(request, text)
    return result


def show_form_errors(request: HttpRequest, form: forms.Form) -> None:
    """A refused form on a page that redirects: each error as a page message, named by the
    field's label (what people see on the form), never by its internal name."""
    for name, errors in form.errors.items():
        label = form[name].label if name in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else str(error))


def show_times_in(site: Site) -> zoneinfo.ZoneInfo:
    """Show the rest of this request's times in `site`'s time zone (a page about one patient,
    visit or record there); base.html names it, and accounts.middleware.SiteTimeZoneMiddleware
    ends it with the request. Returns the zone."""
    timezone.activate(site.tz)
    return site.tz
