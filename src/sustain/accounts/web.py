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

from sustain.accounts.models import Site
from sustain_core.errors import ClinicalValueError

T = TypeVar("T")


def plain(error: ClinicalValueError) -> str:
    """The refusal as a sentence for people: its message, without the field it names."""
    return capfirst(error.message)


def show_refusal(
    request: HttpRequest, error: ClinicalValueError, form: forms.Form | None = None
) -> None:
    """On the form field the error names (or the form as a whole), else as a page message."""
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
