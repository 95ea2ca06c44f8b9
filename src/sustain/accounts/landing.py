"""Where each role lands after signing in, and at "/" when it cannot use the patient list
(issue 13, item 2). Landing is about the role itself, so it reads the role (the group), not a
permission; the page it names still checks its own permission."""

from django.urls import reverse

from sustain.accounts.enums import Role
from sustain.accounts.models import User

# The first of a person's roles in this order decides. The clinic administrator lands on the
# day board: the site's day is what they run every day; staff accounts are an occasional task,
# one click away in the navigation.
LANDING: tuple[tuple[Role, str], ...] = (
    (Role.PRESCRIBER, "care:patient_list"),
    (Role.NURSE, "scheduling:day"),
    (Role.SCHEDULER, "care:patient_list"),
    (Role.CLINIC_ADMIN, "scheduling:day"),
    (Role.AUDITOR, "accounts:audit_log"),
)


def landing_url(user: User) -> str | None:
    """The landing page of `user`'s first role in LANDING; None for a user with no role."""
    roles = set(user.roles)
    return next((reverse(name) for role, name in LANDING if role in roles), None)
