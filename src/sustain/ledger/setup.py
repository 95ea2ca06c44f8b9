"""The ledger's reference data, kept by clinic administrators (ledger.change_setup): a site's
DEA registration, suppliers, products and storage locations (issue 12, item 1). Each write is
one transaction and one audit event; a refusal is a ClinicalValueError naming the rule.

What a record already names is not rewritten: a product's strength, volume and NDC are fixed
once a lot of it is received (every balance in mL is read through them), a supplier's DEA
number once stock was received from or returned to it, and a site's DEA number once the site
has ledger entries (records are kept per registered location [CFR1304.21], and receipts name
the supplier's DEA number [CFR1304.22]).
"""

from decimal import Decimal
from typing import TypeVar

from django.db import models, transaction
from django.db.models import QuerySet

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Membership, Site, User
from sustain.ledger.models import (
    STRENGTHS_MG_PER_ML,
    LedgerEntry,
    Location,
    Product,
    SiteRegistration,
    Supplier,
)
from sustain.ledger.services import _text
from sustain_core import registration as rules
from sustain_core.errors import ClinicalValueError, OutOfRange

M = TypeVar("M", bound=models.Model)
# A container holds at most this many mL: a bound against typing errors (the largest ketamine
# vial is 20 mL [Ketalar-label]), not a clinical rule.
MAX_CONTAINER_ML = Decimal(100)


def _require(by: User, site: Site | None = None) -> None:
    if not by.has_perm("ledger.change_setup"):
        raise ClinicalValueError("by", "only a clinic administrator may do this")
    if site is not None and not Membership.objects.filter(user=by, site=site).exists():
        raise ClinicalValueError("by", f"you are not on the staff of {site.name}")


def _others(rows: QuerySet[M], obj: M | None) -> QuerySet[M]:
    """`rows` but `obj` (the row being changed, if any)."""
    return rows if obj is None else rows.exclude(pk=obj.pk)


def _audit(obj: SiteRegistration | Supplier | Product | Location, by: User, created: bool) -> None:
    record_event(
        actor=by,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        category=DataCategory.LEDGER,
        site=getattr(obj, "site", None),
        obj=obj,
    )


@transaction.atomic
def set_registration(
    *, site: Site, dea_number: str, registrant_name: str, address: str, by: User
) -> SiteRegistration:
    """Record (or correct) the site's DEA registration. Refused: another role or site, a DEA
    number that fails the format or check digit (sustain_core.registration), one another site
    or a supplier already holds, a changed number once the site has ledger entries."""
    _require(by, site)
    number = rules.dea_number(dea_number)
    registrant_name = _text(registrant_name, "registrant_name", 200, "the registrant's name")
    address = _text(address, "address", 2000, "the registered address")
    current = SiteRegistration.objects.select_for_update().filter(site=site).first()
    if (
        current is not None
        and current.dea_number != number
        and LedgerEntry.objects.filter(site=site).exists()
    ):
        raise ClinicalValueError(
            "dea_number",
            f"{site.name}'s ledger is kept under {current.dea_number}; a recorded number "
            "is not changed once stock is recorded under it",
        )
    if SiteRegistration.objects.filter(dea_number=number).exclude(site=site).exists():
        raise ClinicalValueError("dea_number", f"another site is registered as {number}")
    created = current is None
    registration = current or SiteRegistration(site=site)
    registration.dea_number = number
    registration.registrant_name = registrant_name
    registration.address = address
    registration.save()
    _audit(registration, by, created)
    return registration


@transaction.atomic
def save_supplier(
    *, supplier: Supplier | None, name: str, address: str, dea_number: str, by: User
) -> Supplier:
    """Add a supplier (`supplier` None) or change one. Refused: another role, no name or
    address, a DEA number failing its check or held by another supplier, a changed DEA number
    once the ledger names the supplier."""
    _require(by)
    name = _text(name, "name", 200, "the supplier's name")
    address = _text(address, "address", 2000, "the supplier's address")
    number = rules.dea_number(dea_number)
    if supplier is not None:
        supplier = Supplier.objects.select_for_update().get(pk=supplier.pk)
        if supplier.dea_number != number and LedgerEntry.objects.filter(supplier=supplier).exists():
            raise ClinicalValueError(
                "dea_number",
                f"the ledger names {supplier.name} with DEA number {supplier.dea_number}; add "
                "the new registration as another supplier",
            )
    if _others(Supplier.objects.filter(dea_number=number), supplier).exists():
        raise ClinicalValueError("dea_number", f"another supplier has DEA number {number}")
    created = supplier is None
    supplier = supplier or Supplier()
    supplier.name, supplier.address, supplier.dea_number = name, address, number
    supplier.save()
    _audit(supplier, by, created)
    return supplier


@transaction.atomic
def save_product(
    *,
    product: Product | None,
    name: str,
    strength_mg_per_ml: int,
    container_volume_ml: Decimal,
    ndc: str,
    by: User,
) -> Product:
    """Add a ketamine product or change one. Refused: another role, no name, a strength that is
    not 10, 50 or 100 mg/mL [Ketalar-label], a volume that is not a positive number of mL to
    0.01 mL up to MAX_CONTAINER_ML, an NDC not in an NDC form or already recorded, and a change
    of strength, volume or NDC once a lot of the product is received."""
    _require(by)
    name = _text(name, "name", 120, "the product's name")
    if strength_mg_per_ml not in STRENGTHS_MG_PER_ML:
        raise OutOfRange(
            "strength_mg_per_ml",
            f"ketamine comes as 10, 50 or 100 mg/mL; got {strength_mg_per_ml} mg/mL",
        )
    volume = container_volume_ml
    if (
        not isinstance(volume, Decimal)
        or not volume.is_finite()
        or not 0 < volume <= MAX_CONTAINER_ML
        or volume != volume.quantize(Decimal("0.01"))
    ):
        raise OutOfRange(
            "container_volume_ml",
            f"a container holds more than 0 and at most {MAX_CONTAINER_ML} mL, to 0.01 mL; "
            f"got {volume} mL",
        )
    code = rules.ndc(ndc)
    if product is not None:
        product = Product.objects.select_for_update().get(pk=product.pk)
        fixed = (product.strength_mg_per_ml, product.container_volume_ml, product.ndc)
        if fixed != (strength_mg_per_ml, volume, code) and product.lots.exists():
            raise ClinicalValueError(
                "strength_mg_per_ml",
                f"{product} has been received: its strength, volume and NDC are fixed; add "
                "another product instead",
            )
    if _others(Product.objects.filter(ndc=code), product).exists():
        raise ClinicalValueError("ndc", f"another product has NDC {code}")
    created = product is None
    product = product or Product()
    product.name, product.strength_mg_per_ml = name, strength_mg_per_ml
    product.container_volume_ml, product.ndc = volume, code
    product.save()
    _audit(product, by, created)
    return product


@transaction.atomic
def save_location(*, site: Site, location: Location | None, name: str, by: User) -> Location:
    """Add a storage location at the site (the safe, a cart) or rename one. Refused: another
    role or site, no name, a name the site already uses."""
    _require(by, site)
    if location is not None and location.site_id != site.pk:
        raise ClinicalValueError("location", f"that location is not at {site.name}")
    name = _text(name, "name", 80, "the location's name")
    if _others(Location.objects.filter(site=site, name=name), location).exists():
        raise ClinicalValueError("name", f"{site.name} already has a location named {name}")
    created = location is None
    location = location or Location(site=site)
    location.name = name
    location.save()
    _audit(location, by, created)
    return location
