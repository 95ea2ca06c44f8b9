"""Reads for the ledger's pages. Each takes a site the caller has already scoped to the user,
or scopes itself (another site's object is a 404). Patients' names are loaded only when the
caller says the role may see them (care.view_patient): otherwise the visit's patient is never
read."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from sustain.accounts.models import Site, User
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import Container, LedgerEntry, Location

NAMES = "care.view_patient"  # who may see a patient's name next to a draw or waste


def _opened() -> Exists:
    return Exists(
        LedgerEntry.objects.filter(
            container=OuterRef("pk"), kind=EntryKind.OPEN, reversed_by__isnull=True
        )
    )


def containers_at(site: Site) -> QuerySet[Container]:
    """The site's containers with their lot, product, location, balance and whether opened."""
    return (
        Container.objects.filter(location__site=site)
        .select_related("lot__product", "location", "balance")
        .annotate(opened=_opened())
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


def get_container_for_user(user: User, container_id: int) -> Container:
    """A container at one of the user's sites, or 404."""
    container = (
        Container.objects.select_related("lot__product", "location__site", "balance")
        .annotate(opened=_opened())
        .filter(pk=container_id, location__site__memberships__user=user)
        .first()
    )
    if container is None:
        raise Http404("No such container.")
    return container


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
