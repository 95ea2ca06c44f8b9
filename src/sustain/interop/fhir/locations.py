"""Location resources: each site's building ("site-<pk>") and its infusion chairs
("chair-<pk>", partOf their site), FHIR R4 Location (http://hl7.org/fhir/R4/location.html).
Every staff role may read them (brief-common's access table): they hold no patient data."""

from django.db.models import QuerySet

from sustain.accounts.enums import DataCategory
from sustain.accounts.models import Site
from sustain.interop.fhir import codes
from sustain.interop.fhir.registry import Json, Source, model_json
from sustain.scheduling.models import Chair


def site_ref(site_id: int) -> Json:
    return {"reference": f"Location/site-{site_id}"}


def chair_ref(chair_id: int) -> Json:
    return {"reference": f"Location/chair-{chair_id}"}


def organization_ref(site_id: int) -> Json:
    """The site as an Organization (built by the Organization source)."""
    return {"reference": f"Organization/site-{site_id}"}


def _sites(site_ids: frozenset[int]) -> QuerySet[Site]:
    return Site.objects.filter(pk__in=site_ids).order_by("pk")


def _build_site(site: Site) -> list[Json]:
    resource: Json = {
        "resourceType": "Location",
        "id": f"site-{site.pk}",
        "status": "active",
        "name": site.name,
        "mode": "instance",
        "physicalType": codes.concept("location-building"),
        "managingOrganization": organization_ref(site.pk),
    }
    return [model_json("Location", resource)]


def _chairs(site_ids: frozenset[int]) -> QuerySet[Chair]:
    return Chair.objects.filter(site__in=site_ids).select_related("site").order_by("pk")


def _build_chair(chair: Chair) -> list[Json]:
    resource: Json = {
        "resourceType": "Location",
        "id": f"chair-{chair.pk}",
        "status": "active",
        "name": f"{chair.site.name}: {chair.name}",
        "alias": [chair.name],
        "mode": "instance",
        "physicalType": codes.concept("location-chair", text="Infusion chair"),
        "managingOrganization": organization_ref(chair.site_id),
        "partOf": site_ref(chair.site_id),
    }
    if chair.capabilities:
        resource["description"] = "Capabilities: " + ", ".join(map(str, chair.capabilities))
    return [model_json("Location", resource)]


SITES = Source(
    type="Location",
    prefix="site",
    permission=None,
    category=DataCategory.SCHEDULE,
    rows=_sites,
    build=_build_site,
)

CHAIRS = Source(
    type="Location",
    prefix="chair",
    permission=None,
    category=DataCategory.SCHEDULE,
    rows=_chairs,
    build=_build_chair,
)
