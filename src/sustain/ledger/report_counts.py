"""The dispensing record's counts and discrepancies (issue 12, items 4 and 5): for one site and
a range of its days,

- every count of the range: the location, when, who counted and who confirmed, and per
  container what was counted against what the ledger held, and the difference;
- every discrepancy opened in the range, or opened earlier and still open at some moment of it
  (open at its end, or closed during it), with its resolution as it stands: found (the
  recount), a documentation error (the correcting entry) or a loss or theft (its report);
- every theft or loss report discovered in the range, or discovered earlier with a filing still
  outstanding at the range's start: the notice due the next business day and Form 106 due in
  45 days [DEA-FR2023], when each was sent, and whether it is (or was) late;
- the inventories taken in the range (initial or biennial, each container exact or estimated
  [CFR1971-304.17]), and the next inventory due: 2 years after the last one taken by the
  range's end [MD-COMAR] (sustain.ledger.counts).

The records are read as they are: nothing is filled in. Counts hold no patients. QUERIES
queries read the section whatever the number of rows.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from django.db import models
from django.db.models import Q

from sustain.accounts.models import Site, User
from sustain.ledger.counts import INVENTORY_YEARS, add_years
from sustain.ledger.enums import BusinessTime, CountMethod, InventoryKind, Resolution, TheftLossKind
from sustain.ledger.models import (
    Container,
    Count,
    CountLine,
    Discrepancy,
    Inventory,
    InventoryLine,
    TheftLossReport,
)
from sustain_core.numbers import plain

# counts, their lines, discrepancies, theft/loss reports, their discrepancies, inventories,
# their lines, the last inventory up to the range's end.
QUERIES = 8
ELSEWHERE = "moved to another registered location"
CONTAINER = ("container__lot__product", "container__location")
ORDER = ("container__lot__product__strength_mg_per_ml", "container__lot__lot_number",
         "container__number", "pk")  # fmt: skip
_Row = TypeVar("_Row", bound=models.Model)


@dataclass(frozen=True)
class ProductLine:
    """A product's finished form, strength and volume per container."""

    name: str
    strength_mg_per_ml: int
    container_volume_ml: Decimal
    ndc: str

    @property
    def label(self) -> str:
        return (
            f"{self.name}, {self.strength_mg_per_ml} mg/mL, "
            f"{plain(self.container_volume_ml)} mL per vial"
        )


@dataclass(frozen=True)
class ContainerInfo:
    container_id: int
    label: str  # "lot K123 #2"
    product: ProductLine
    lot_number: str
    number: int
    expires_on: dt.date
    location: str  # where it is now, or ELSEWHERE when at another site


def container_info(container: Container, site: Site) -> ContainerInfo:
    """A container's product, lot and number (its lot, product and location loaded)."""
    product = container.lot.product
    location = container.location
    return ContainerInfo(
        container_id=container.pk,
        label=f"lot {container.lot.lot_number} #{container.number}",
        product=ProductLine(
            name=product.name,
            strength_mg_per_ml=product.strength_mg_per_ml,
            container_volume_ml=product.container_volume_ml,
            ndc=product.ndc,
        ),
        lot_number=container.lot.lot_number,
        number=container.number,
        expires_on=container.lot.expires_on,
        location=location.name if location.site_id == site.pk else ELSEWHERE,
    )


def person(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _local(at: dt.datetime | None, site: Site) -> str:
    """A moment as the site's local date and time ("" for none)."""
    return at.astimezone(site.tz).strftime("%Y-%m-%d %H:%M") if at is not None else ""


@dataclass(frozen=True)
class CountedLine:
    container: ContainerInfo
    counted_mg: Decimal
    counted_ml: Decimal
    ledger_mg: Decimal
    ledger_ml: Decimal

    @property
    def difference_mg(self) -> Decimal:
        return self.counted_mg - self.ledger_mg

    @property
    def difference_ml(self) -> Decimal:
        return self.counted_ml - self.ledger_ml


@dataclass(frozen=True)
class CountRecord:
    count_id: int
    on: dt.date
    at: str  # the site's local time
    location: str
    counted_by: str
    confirmed_by: str
    lines: tuple[CountedLine, ...]

    @property
    def differences(self) -> int:
        return sum(1 for line in self.lines if line.difference_mg != 0)


@dataclass(frozen=True)
class DiscrepancyRecord:
    discrepancy_id: int
    count_id: int
    on: dt.date  # the count's day
    location: str
    container: ContainerInfo
    ledger_mg: Decimal
    counted_mg: Decimal
    difference_mg: Decimal
    difference_ml: Decimal
    resolution: str  # a Resolution, or "" while open
    note: str
    resolved_by: str
    resolved_at: str
    recount: str  # found: "count 12 of 2026-12-01"
    correcting_entry: str  # documentation error: "#9 (Adjusted)"
    report_id: int | None  # loss or theft

    @property
    def is_open(self) -> bool:
        return self.resolution == ""

    @property
    def status(self) -> str:
        return str(Resolution(self.resolution).label) if self.resolution else "Open"

    @property
    def resolution_detail(self) -> str:
        """What closed it: the recount, the correcting entry or the theft/loss report."""
        if self.resolution == Resolution.FOUND:
            return f"recount: {self.recount}"
        if self.resolution == Resolution.DOCUMENTATION_ERROR:
            return f"correcting entry {self.correcting_entry}"
        if self.resolution == Resolution.LOSS_THEFT:
            return f"theft or loss report {self.report_id}"
        return ""


@dataclass(frozen=True)
class TheftLossRecord:
    report_id: int
    kind: str
    explanation: str
    discovered_at: str
    occurred_on: dt.date | None
    what: str  # the containers short, from its discrepancies
    notice_due_on: dt.date
    notice_sent_at: str
    notice_overdue: bool
    form_106_due_on: dt.date
    form_106_filed_at: str
    form_106_reference: str
    form_106_overdue: bool


@dataclass(frozen=True)
class InventoriedLine:
    container: ContainerInfo
    opened: bool
    method: str  # CountMethod label
    quantity_mg: Decimal
    quantity_ml: Decimal


@dataclass(frozen=True)
class InventoryRecord:
    inventory_id: int
    kind: str  # InventoryKind label
    taken_on: dt.date
    time_of_day: str  # BusinessTime label
    taken_by: str
    recorded_by: str
    lines: tuple[InventoriedLine, ...]


@dataclass(frozen=True)
class NextInventory:
    """The next inventory due after the last one taken by the range's end (None: none was)."""

    last_kind: str
    last_on: dt.date
    due_on: dt.date
    overdue: bool  # at the range's end


@dataclass(frozen=True)
class CountsSection:
    counts: tuple[CountRecord, ...]
    discrepancies: tuple[DiscrepancyRecord, ...]
    theft_loss: tuple[TheftLossRecord, ...]
    inventories: tuple[InventoryRecord, ...]
    next_inventory: NextInventory | None
    today: dt.date  # the day late filings are judged on


def _day_start(site: Site, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=site.tz)


def _by(rows: Iterable[_Row], key: str) -> dict[int, list[_Row]]:
    """Rows grouped by one of their foreign keys' ids (read in one query, whatever their
    number: a prefetch would skip its query when there is nothing to fetch for)."""
    groups: dict[int, list[_Row]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, key)].append(row)
    return groups


def _counts(site: Site, start: dt.date, end: dt.date) -> tuple[CountRecord, ...]:
    in_range = Count.objects.filter(site=site, occurred_on__gte=start, occurred_on__lte=end)
    lines = _by(
        CountLine.objects.filter(count__in=in_range).select_related(*CONTAINER).order_by(*ORDER),
        "count_id",
    )
    rows = in_range.select_related("location", "counted_by", "confirmed_by").order_by(
        "counted_at", "pk"
    )
    return tuple(
        CountRecord(
            count_id=c.pk,
            on=c.occurred_on,
            at=_local(c.counted_at, site),
            location=c.location.name,
            counted_by=person(c.counted_by),
            confirmed_by=person(c.confirmed_by),
            lines=tuple(
                CountedLine(
                    container=container_info(line.container, site),
                    counted_mg=line.counted_mg,
                    counted_ml=line.counted_ml,
                    ledger_mg=line.expected_mg,
                    ledger_ml=line.expected_ml,
                )
                for line in lines[c.pk]
            ),
        )
        for c in rows
    )


def _discrepancies(site: Site, start: dt.date, end: dt.date) -> tuple[DiscrepancyRecord, ...]:
    """Opened (counted) in the range, or before it and open at some moment of it: still open
    at its end, or closed during it (its closing is part of the range's record)."""
    begins = _day_start(site, start)
    rows = (
        Discrepancy.objects.filter(site=site, count__occurred_on__lte=end)
        .filter(Q(count__occurred_on__gte=start) | Q(resolution="") | Q(resolved_at__gte=begins))
        .select_related("count__location", *CONTAINER, "resolved_by", "recount", "correcting_entry")
        .order_by("count__counted_at", "pk")
    )
    return tuple(
        DiscrepancyRecord(
            discrepancy_id=d.pk,
            count_id=d.count_id,
            on=d.count.occurred_on,
            location=d.count.location.name,
            container=container_info(d.container, site),
            ledger_mg=d.expected_mg,
            counted_mg=d.counted_mg,
            difference_mg=d.difference_mg,
            difference_ml=d.difference_ml,
            resolution=d.resolution,
            note=d.resolution_note,
            resolved_by=person(d.resolved_by),
            resolved_at=_local(d.resolved_at, site),
            recount=(f"count {d.recount.pk} of {d.recount.occurred_on}" if d.recount else ""),
            correcting_entry=(
                f"#{d.correcting_entry.seq} ({d.correcting_entry.get_kind_display()})"
                if d.correcting_entry
                else ""
            ),
            report_id=d.report_id,
        )
        for d in rows
    )


def _theft_loss(
    site: Site, start: dt.date, end: dt.date, today: dt.date
) -> tuple[TheftLossRecord, ...]:
    """Discovered in the range, or before it with the notice or Form 106 still outstanding at
    its start."""
    begins, after_end = _day_start(site, start), _day_start(site, end + dt.timedelta(days=1))
    outstanding = (
        Q(notice_sent_at__isnull=True)
        | Q(notice_sent_at__gte=begins)
        | Q(form_106_filed_at__isnull=True)
        | Q(form_106_filed_at__gte=begins)
    )
    listed = TheftLossReport.objects.filter(site=site, discovered_at__lt=after_end).filter(
        Q(discovered_at__gte=begins) | outstanding
    )
    short = _by(
        Discrepancy.objects.filter(report__in=listed)
        .select_related("container__lot")
        .order_by("pk"),
        "report_id",
    )
    rows = listed.select_related("site").order_by("discovered_at", "pk")
    return tuple(
        TheftLossRecord(
            report_id=r.pk,
            kind=str(TheftLossKind(r.kind).label),
            explanation=r.explanation,
            discovered_at=_local(r.discovered_at, site),
            occurred_on=r.occurred_on,
            what="; ".join(
                f"lot {d.container.lot.lot_number} #{d.container.number}: "
                f"{plain(-d.difference_mg)} mg ({plain(-d.difference_ml)} mL)"
                for d in short[r.pk]
            ),
            notice_due_on=r.notice_due_on,
            notice_sent_at=_local(r.notice_sent_at, site),
            notice_overdue=r.notice_overdue(today),
            form_106_due_on=r.form_106_due_on,
            form_106_filed_at=_local(r.form_106_filed_at, site),
            form_106_reference=r.form_106_reference,
            form_106_overdue=r.form_106_overdue(today),
        )
        for r in rows
    )


def _inventories(site: Site, start: dt.date, end: dt.date) -> tuple[InventoryRecord, ...]:
    in_range = Inventory.objects.filter(site=site, taken_on__gte=start, taken_on__lte=end)
    lines = _by(
        InventoryLine.objects.filter(inventory__in=in_range)
        .select_related(*CONTAINER)
        .order_by(*ORDER),
        "inventory_id",
    )
    rows = in_range.select_related("taken_by", "recorded_by").order_by("taken_on", "pk")
    return tuple(
        InventoryRecord(
            inventory_id=i.pk,
            kind=str(InventoryKind(i.kind).label),
            taken_on=i.taken_on,
            time_of_day=str(BusinessTime(i.time_of_day).label),
            taken_by=person(i.taken_by),
            recorded_by=person(i.recorded_by),
            lines=tuple(
                InventoriedLine(
                    container=container_info(line.container, site),
                    opened=line.opened,
                    method=str(CountMethod(line.method).label),
                    quantity_mg=line.quantity_mg,
                    quantity_ml=line.quantity_ml,
                )
                for line in lines[i.pk]
            ),
        )
        for i in rows
    )


def _next_inventory(site: Site, end: dt.date) -> NextInventory | None:
    last = Inventory.objects.filter(site=site, taken_on__lte=end).order_by("-taken_on", "-pk")
    found = last.first()
    if found is None:
        return None
    due = add_years(found.taken_on, INVENTORY_YEARS)
    return NextInventory(
        last_kind=str(InventoryKind(found.kind).label),
        last_on=found.taken_on,
        due_on=due,
        overdue=end > due,
    )


def build_section(*, site: Site, start: dt.date, end: dt.date, today: dt.date) -> CountsSection:
    """The counts and discrepancies of `site` for the days `start` to `end`; late filings are
    judged on `today` (the site's day the record is made)."""
    return CountsSection(
        counts=_counts(site, start, end),
        discrepancies=_discrepancies(site, start, end),
        theft_loss=_theft_loss(site, start, end, today),
        inventories=_inventories(site, start, end),
        next_inventory=_next_inventory(site, end),
        today=today,
    )
