"""The address a request came from, the one way every part of Sustain reads it: the audit trail
(RequestIdMiddleware), the sign-in lockout (django-axes' AXES_CLIENT_IP_CALLABLE) and the clinic
tablet's limit.

REMOTE_ADDR, unless SUSTAIN_TRUST_PROXY_HEADERS=1 says a reverse proxy stands in front: then the
right-most hop of X-Forwarded-For, the one that proxy added (anything to its left came from the
client and could be anything). A value that is not an IP address is ignored.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address as text, or None when there is none to believe."""
    if settings.SUSTAIN_TRUST_PROXY_HEADERS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            hop = _address(forwarded.split(",")[-1])
            if hop is not None:
                return hop
    return _address(request.META.get("REMOTE_ADDR") or "")
