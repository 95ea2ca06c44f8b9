"""Who is reading the FHIR API: a system's bearer token (sustain.interop.clients) or a staff
member's session past the second factor, holding a role. Anything else is refused with the
status and OperationOutcome issue code `Refused` carries (deny by default)."""

from django.http import HttpRequest

from sustain.accounts import mfa
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.interop import clients
from sustain.interop.fhir.registry import Caller


class Refused(Exception):
    """Not allowed to read: `status` (401 or 403), the OperationOutcome issue `code`
    ("login", "security", "expired", "forbidden") and a message in plain words."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def caller(request: HttpRequest) -> Caller:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise Refused(401, "login", "Send 'Authorization: Bearer <access token>'.")
            return clients.caller_for_token(token.strip())
        except Refused as refused:
            record_event(  # a failed authentication, as a wrong password is (never the token)
                actor=None, username="bearer token", action=AuditAction.LOGIN_FAILED,
                category=DataCategory.AUTHENTICATION, outcome=AuditOutcome.DENIED,
                reason=f"FHIR token refused: {refused.code}",
            )  # fmt: skip
            raise
    user = request.user
    if not (user.is_authenticated and mfa.passed(user) and user.groups.exists()):
        raise Refused(401, "login", "Sign in as staff, or send a system's bearer token.")
    return Caller(user=user)
