"""`{% form_token %}`: the one-time token of a staff POST form (sustain.accounts.form_tokens).

A built-in tag (settings.TEMPLATES), written next to every `{% csrf_token %}`; empty for a
visitor who is not signed in (the sign-in form, the patient portal)."""

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from sustain.accounts.form_tokens import FIELD, issue

register = template.Library()


@register.simple_tag(takes_context=True)
def form_token(context: Any) -> SafeString | str:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    return format_html('<input type="hidden" name="{}" value="{}">', FIELD, issue(user.pk))
