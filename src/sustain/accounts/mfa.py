"""The second factor's seam (issue 14 builds it; nothing here stores or checks a factor).

The staff accounts page shows `second_factor(user)` for each account. When issue 14 adds the
second factor (django-otp, as ARCHITECTURE.md names), this function answers from the user's
confirmed devices and the sign-in flow asks for the factor; no status column is kept, so the
answer can never disagree with the devices themselves.
"""

from sustain.accounts.models import User

NOT_AVAILABLE = "not available yet"


def second_factor(user: User) -> str:
    """How `user` proves a second factor at sign-in: none exists until issue 14."""
    return NOT_AVAILABLE
