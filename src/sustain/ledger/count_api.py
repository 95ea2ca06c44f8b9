"""The count API (mounted by sustain.api under /api/v1/): a location's count sheet (the
containers to count, never their balances), a blind count with its confirmation, and the
discrepancies. A refused count answers 409 naming the rule and saves nothing; 403 a role that
may not, 404 a location or site the user is not a member of. POST honours an Idempotency-Key.
"""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from sustain.accounts.access import get_site_for_user, require_permission, sites_for_user
from sustain.accounts.enums import DataCategory
from sustain.accounts.idempotency import once
from sustain.accounts.models import User
from sustain.ledger import counts, queries
from sustain.ledger.models import Count, Discrepancy
from sustain.scheduling.api import ErrorOut
from sustain_core.errors import ClinicalValueError

router = Router(tags=["ledger"])
ERRORS: dict[int, Any] = dict.fromkeys((400, 403, 404, 409, 422), ErrorOut)


class SheetContainerOut(Schema):
    container_id: int
    product: str
    lot_number: str
    number: int
    strength_mg_per_ml: int


class SheetOut(Schema):
    location_id: int
    location: str
    containers: list[SheetContainerOut] = Field(
        description="Every container to count; their balances are not shown before the count"
    )


class AmountIn(Schema):
    container_id: int
    amount: Decimal = Field(description="What the container holds, at least 0, to 0.01")
    unit: Literal["mg", "ml"]


class CountIn(Schema):
    lines: list[AmountIn] = Field(description="Every container at the location, once each")
    confirmed_by: int = Field(description="The confirming nurse or prescriber's user id")
    confirmed_password: str


class LineOut(Schema):
    container_id: int
    counted_mg: Decimal
    counted_ml: Decimal
    expected_mg: Decimal
    expected_ml: Decimal
    difference_mg: Decimal


class CountOut(Schema):
    id: int
    location_id: int
    counted_at: dt.datetime
    counted_by: str
    confirmed_by: str
    lines: list[LineOut]
    discrepancies: list[int]


class DiscrepancyOut(Schema):
    id: int
    count_id: int
    location: str
    container_id: int
    container: str
    expected_mg: Decimal
    counted_mg: Decimal
    difference_mg: Decimal
    difference_ml: Decimal
    resolution: str
    resolved_at: dt.datetime | None


@router.get("/ledger/locations/{location_id}/count-sheet", response={200: SheetOut, **ERRORS})
def count_sheet(request: HttpRequest, location_id: int) -> Status[Any]:
    """The containers a count of the location must cover now (no balances: the count is
    blind)."""
    user: User = request.auth  # type: ignore[attr-defined]  # StaffSession: a staff User
    location = queries.get_location_for_user(user, location_id, queries.VIEW)
    sheet = counts.count_sheet(location, timezone.now())
    return Status(
        200,
        SheetOut(
            location_id=location.pk,
            location=location.name,
            containers=[
                SheetContainerOut(
                    container_id=c.pk,
                    product=str(c.lot.product),
                    lot_number=c.lot.lot_number,
                    number=c.number,
                    strength_mg_per_ml=c.lot.product.strength_mg_per_ml,
                )
                for c in sheet
            ],
        ),
    )


def _count_out(count: Count) -> dict[str, Any]:
    lines = list(count.lines.order_by("pk"))
    return CountOut(
        id=count.pk,
        location_id=count.location_id,
        counted_at=count.counted_at,
        counted_by=count.counted_by.get_username(),
        confirmed_by=count.confirmed_by.get_username(),
        lines=[
            LineOut(
                container_id=line.container_id,
                counted_mg=line.counted_mg,
                counted_ml=line.counted_ml,
                expected_mg=line.expected_mg,
                expected_ml=line.expected_ml,
                difference_mg=line.counted_mg - line.expected_mg,
            )
            for line in lines
        ],
        discrepancies=list(count.discrepancies.order_by("pk").values_list("pk", flat=True)),
    ).model_dump(mode="json")


@router.post("/ledger/locations/{location_id}/counts", response={201: CountOut, **ERRORS})
def submit_count(request: HttpRequest, location_id: int, payload: CountIn) -> Status[Any]:
    """Record a blind count of every container at the location, confirmed by a second
    person; answer each container's count against the ledger (Idempotency-Key honoured).
    409 naming the rule when the count is refused (count_incomplete: a container left out,
    named twice or not there; witness_is_self, witness_not_allowed, witness_password: the
    confirmer); 400 naming the field for an amount that is not a number to 0.01."""
    user: User = request.auth  # type: ignore[attr-defined]  # StaffSession: a staff User
    location = queries.get_location_for_user(user, location_id, "ledger.count_stock")
    confirmer = User.objects.filter(pk=payload.confirmed_by).first()
    now = timezone.now()

    def run() -> tuple[int, dict[str, Any]]:
        if confirmer is None:
            raise ClinicalValueError("confirmed_by", "no such user")
        count = counts.submit_count(
            location=location,
            amounts=[counts.Amount(a.container_id, a.amount, a.unit) for a in payload.lines],
            confirmed_by=confirmer,
            confirmed_password=payload.confirmed_password,
            by=user,
            now=now,
        )
        return 201, _count_out(count)

    return Status(*once(request, user, run, now=now))


@router.get("/ledger/discrepancies", response={200: list[DiscrepancyOut], **ERRORS})
def discrepancies(
    request: HttpRequest, site_id: int | None = None, open_only: bool = True
) -> Status[Any]:
    """The discrepancies at the user's sites (or one site), open ones only by default."""
    user: User = request.auth  # type: ignore[attr-defined]  # StaffSession: a staff User
    require_permission(user, "ledger.view_ledgerentry", category=DataCategory.LEDGER)
    sites = [get_site_for_user(user, site_id)] if site_id is not None else sites_for_user(user)
    rows = Discrepancy.objects.filter(site__in=list(sites)).select_related(
        "count__location", "container__lot"
    )
    if open_only:
        rows = rows.filter(resolution="")
    return Status(
        200,
        [
            DiscrepancyOut(
                id=d.pk,
                count_id=d.count_id,
                location=d.count.location.name,
                container_id=d.container_id,
                container=str(d.container),
                expected_mg=d.expected_mg,
                counted_mg=d.counted_mg,
                difference_mg=d.difference_mg,
                difference_ml=d.difference_ml,
                resolution=d.resolution,
                resolved_at=d.resolved_at,
            )
            for d in rows.order_by("count__counted_at", "pk")
        ],
    )
