"""Medical directors: the prescribers of a site who publish its protocol versions that change
dosing or safety (issue 11, item 3). A clinic administrator designates them, per site; each
designation and removal is audited."""

from django.db import transaction

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Membership, Site, User
from sustain_core.errors import ClinicalValueError

# The prescriber's permission (declared on care.Course); named here, not imported: accounts
# sits below care.
PRESCRIBE = "care.prescribe"


def is_medical_director(user: User, site: Site) -> bool:
    """Whether ``user`` is an active prescriber designated medical director of ``site``."""
    return (
        user.is_active
        and user.has_perm(PRESCRIBE)
        and Membership.objects.filter(user=user, site=site, medical_director=True).exists()
    )


def medical_directors(site: Site) -> list[User]:
    """The site's medical directors who are active prescribers, by name."""
    designated = User.objects.filter(
        memberships__site=site, memberships__medical_director=True, is_active=True
    ).order_by("last_name", "first_name", "username")
    return [user for user in designated if user.has_perm(PRESCRIBE)]


@transaction.atomic
def designate_medical_director(*, site: Site, user: User, designated: bool, by: User) -> Membership:
    """Make ``user`` a medical director of ``site`` (``designated``) or no longer one.

    Only a role holding ``accounts.designate_medical_director`` (the clinic administrator)
    may; only a prescriber who is a member of the site can be designated. Audited; a request
    that changes nothing is refused.
    """
    if not by.has_perm("accounts.designate_medical_director"):
        raise ClinicalValueError("by", "a clinic administrator designates medical directors")
    name = user.get_full_name() or user.get_username()
    membership = Membership.objects.select_for_update().filter(user=user, site=site).first()
    if membership is None:
        raise ClinicalValueError("user", f"{name} is not a member of {site.name}")
    if designated and not user.has_perm(PRESCRIBE):
        raise ClinicalValueError("user", f"{name} is not a prescriber: only a prescriber can be "
                                 "a medical director")  # fmt: skip
    if membership.medical_director == designated:
        state = "already" if designated else "not"
        raise ClinicalValueError("user", f"{name} is {state} a medical director of {site.name}")
    membership.medical_director = designated
    membership.save(update_fields=["medical_director"])
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.STAFF, site=site, obj=membership
    )
    return membership
