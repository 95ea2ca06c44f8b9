"""Reads of the ledger. A container, location or entry is found only at one of the user's
sites (the role checked first: 403; another site's looks like none at all: 404). Patients'
names are loaded only when the caller says the role may see them (care.view_patient):
otherwise the visit's patient is never read. Ledger reads without names hold no patient data
(a draw names its visit by id only), so they are not audited."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from sustain.accounts.access import require_permission
from sustain.accounts.enums import DataCategory
from sustain.accounts.models import Site, User
from sustain.ledger.models import PUNCTURING, Container, LedgerEntry, Location, Lot

VIEW = "ledger.view_ledgerentry"
NAMES = "care.view_patient"  # who may see a patient's name next to a draw or waste


def _opened() -> Exists:
    return Exists(
        LedgerEntry.objects.filter(
            container=OuterRef("pk"), kind__in=PUNCTURING, reversed_by__isnull=True
        )
    )


def _containers() -> QuerySet[Container]:
    return Container.objects.select_related("lot__product", "location__site", "balance").annotate(
        opened=_opened()
    )


def containers_at(site: Site) -> QuerySet[Container]:
    """The site's containers with their lot, product, location, balance and whether opened."""
    return (
        _containers()
        .filter(location__site=site)
        .order_by("location__name", "lot__expires_on", "lot__lot_number", "number")
    )


@dataclass(frozen=True)
class SafeRow:
    container: Container
    expired: bool


def safe(site: Site, *, today: dt.date, empty: bool) -> list[tuple[Location, list[SafeRow]]]:
    """Every location of the site with its containers (holding stock, or all with `empty`),
    each flagged when its lot is past its expiry on `today` (the site's day)."""
    rows: dict[int, list[SafeRow]] = {}
    containers = containers_at(site)
    if not empty:
        containers = containers.filter(balance__balance_mg__gt=0)
    for container in containers:
        rows.setdefault(container.location_id, []).append(
            SafeRow(container, container.lot.expires_on < today)
        )
    return [(loc, rows.get(loc.pk, [])) for loc in site.storage_locations.order_by("name")]


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


def get_entry_for_user(user: User, entry_id: int) -> LedgerEntry:
    """An entry recorded at one of the user's sites, or 404."""
    entry = (
        LedgerEntry.objects.select_related("container", "site")
        .filter(pk=entry_id, site__memberships__user=user)
        .first()
    )
    if entry is None:
        raise Http404("No such entry.")
    return entry


@dataclass(frozen=True)
class Line:
    entry: LedgerEntry
    balance_mg: Decimal
    balance_ml: Decimal
    patient: str  # the patient's name, or "" (no visit, or a role that may not see names)


def history(container: Container, *, names: bool) -> list[Line]:
    """The container's entries in order with the running balance after each (mg and mL)."""
    related = [
        "site", "actor", "witness", "second_witness", "supplier", "registration__site",
        "location", "reverses", "destruction",
    ]  # fmt: skip
    if names:
        related.append("appointment__patient")
    entries = LedgerEntry.objects.filter(container=container).select_related(*related)
    lines, mg, ml = [], Decimal(0), Decimal(0)
    for entry in entries.order_by("seq"):
        mg, ml = mg + entry.change_mg, ml + entry.change_ml
        patient = ""
        if names and entry.appointment is not None:
            patient = str(entry.appointment.patient)
        lines.append(Line(entry, mg, ml, patient))
    return lines


def for_review(site: Site) -> QuerySet[LedgerEntry]:
    """The site's adjustments and corrections, flagged for review, newest first."""
    return (
        LedgerEntry.objects.filter(site=site, needs_review=True)
        .select_related("container__lot__product", "actor", "reverses")
        .order_by("-seq")
    )
