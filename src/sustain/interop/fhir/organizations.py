"""Organization (a site) and Practitioner (a staff member) resources (FHIR R4 §8.1 Organization,
§8.4 Practitioner).

A site is an Organization, id "site-<pk>" (Patient.managingOrganization points at it). A staff
member of the caller's sites is a Practitioner, id "practitioner-<pk>": a name, the username as
identifier and the role as a qualification's text; never a password hash or an e-mail address
(the staff's are the program's, not a contact for others). Every staff role may read both
(brief-common's access table: no permission)."""

from django.db.models import QuerySet

from sustain.accounts.enums import DataCategory, Role
from sustain.accounts.models import Site, User
from sustain.interop.fhir.registry import Json, Source, model_json

USERNAME_SYSTEM = "urn:sustain:staff-username"


def _sites(site_ids: frozenset[int]) -> QuerySet[Site]:
    return Site.objects.filter(pk__in=site_ids).order_by("pk")


def organization(site: Site) -> Json:
    resource: Json = {
        "resourceType": "Organization",
        "id": f"site-{site.pk}",
        "active": True,
        "name": site.name,
    }
    if site.phone:
        resource["telecom"] = [{"system": "phone", "value": site.phone, "use": "work"}]
    lines = [line.strip() for line in site.address.splitlines() if line.strip()]
    if lines:
        resource["address"] = [{"use": "work", "line": lines, "text": ", ".join(lines)}]
    return model_json("Organization", resource)


def _staff(site_ids: frozenset[int]) -> QuerySet[User]:
    """The staff with a role at these sites (a system client's service user has none)."""
    return (
        User.objects.filter(memberships__site__in=site_ids, groups__name__in=Role.values)
        .distinct()
        .prefetch_related("groups")
        .order_by("pk")
    )


def practitioner(user: User) -> Json:
    name: Json = {"use": "official", "text": user.get_full_name() or user.username}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = [user.first_name]
    resource: Json = {
        "resourceType": "Practitioner",
        "id": f"practitioner-{user.pk}",
        "identifier": [{"system": USERNAME_SYSTEM, "value": user.username}],
        "active": user.is_active,
        "name": [name],
    }
    roles = [Role(g.name).label for g in user.groups.all() if g.name in Role.values]
    if roles:
        resource["qualification"] = [{"code": {"text": label}} for label in sorted(roles)]
    return model_json("Practitioner", resource)


ORGANIZATIONS = Source(
    type="Organization",
    prefix="site",
    permission=None,
    category=DataCategory.STAFF,
    rows=_sites,
    build=lambda site: [organization(site)],
)

PRACTITIONERS = Source(
    type="Practitioner",
    prefix="practitioner",
    permission=None,
    category=DataCategory.STAFF,
    rows=_staff,
    build=lambda user: [practitioner(user)],
)
