"""Reads of the ledger: a container or location at one of the user's sites (the role checked
first: 403; another site's looks like none at all: 404), and a site's balance. Ledger reads
hold no patient data (a draw names its visit by id only), so they are not audited."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.http import Http404

from sustain.accounts.access import require_permission
from sustain.accounts.enums import DataCategory
from sustain.accounts.models import Site, User
from sustain.ledger.models import Container, LedgerEntry, Location, Lot

VIEW = "ledger.view_ledgerentry"


def _containers() -> QuerySet[Container]:
    return Container.objects.select_related("lot__product", "location", "balance")


def get_container_for_user(user: User, container_id: int, perm: str) -> Container:
    """A container at one of the user's sites, with its lot, product, location and balance,
    for a user whose role grants `perm`."""
    require_permission(user, perm, category=DataCategory.LEDGER)
    container = (
        _containers().filter(pk=container_id, location__site__memberships__user=user).first()
    )
    if container is None:
        raise Http404("No such container.")
    return container


def get_location_for_user(user: User, location_id: int, perm: str) -> Location:
    """A storage location at one of the user's sites, for a user whose role grants `perm`."""
    require_permission(user, perm, category=DataCategory.LEDGER)
    location = (
        Location.objects.select_related("site")
        .filter(pk=location_id, site__memberships__user=user)
        .first()
    )
    if location is None:
        raise Http404("No such location.")
    return location


def containers(pks: list[int]) -> list[Container]:
    """The containers, as get_container_for_user loads one, in the order of `pks`."""
    found = _containers().in_bulk(pks)
    return [found[pk] for pk in pks]


def entries(container: Container) -> list[LedgerEntry]:
    """The container's entries, oldest first, with who recorded and who witnessed each."""
    return list(container.entries.select_related("actor", "witness").order_by("seq"))


@dataclass(frozen=True)
class Held:
    """What some containers hold together."""

    mg: Decimal
    ml: Decimal
    containers: int


@dataclass(frozen=True)
class SiteBalance:
    """A site's stock: each container that holds any, and the totals per lot, per location and
    for the site (mg and mL)."""

    containers: list[Container]
    lots: list[tuple[Lot, Held]]
    locations: list[tuple[Location, Held]]
    total: Held


def _held(rows: list[Container]) -> Held:
    return Held(
        mg=sum((c.balance.balance_mg for c in rows), Decimal(0)),
        ml=sum((c.balance.balance_ml for c in rows), Decimal(0)),
        containers=len(rows),
    )


def site_balance(site: Site) -> SiteBalance:
    """The site's balance from its containers' balances (one query), ordered by location,
    lot and number. A container emptied, wholly drawn, is left out (GET its id for it)."""
    held = list(
        _containers()
        .filter(location__site=site, balance__balance_mg__gt=0)
        .order_by("location__name", "lot__lot_number", "lot_id", "number")
    )
    by_lot: dict[int, list[Container]] = defaultdict(list)
    by_location: dict[int, list[Container]] = defaultdict(list)
    for container in held:
        by_lot[container.lot_id].append(container)
        by_location[container.location_id].append(container)
    return SiteBalance(
        containers=held,
        lots=[(rows[0].lot, _held(rows)) for rows in by_lot.values()],
        locations=[(rows[0].location, _held(rows)) for rows in by_location.values()],
        total=_held(held),
    )
