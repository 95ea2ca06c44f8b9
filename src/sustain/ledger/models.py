"""The controlled-substance ledger: ketamine products, lots, numbered containers, storage
locations, and the append-only, hash-chained entries that move stock (issue 12).

Ketamine is Schedule III, DEA drug code 7285 [FR1999-ketamine] [CFR1308.13-copy]. A registrant
keeps a complete, current record of every receipt, administration and disposal, per registered
location, with the actual date of each, for at least 2 years [CFR1304.21] [CFR1304.04]: so
entries are never updated or deleted (the model refuses; on PostgreSQL a trigger does too) and
a correction is a new entry that reverses one. Balances are kept per container in mg and mL,
never below zero (a CHECK on both engines; services change them only with a conditional
UPDATE in the transaction that appends the entry).
"""

import datetime as dt
from typing import Any, ClassVar, TypeVar

from django.db import models
from django.db.models import F, Q

from sustain.accounts.models import Site, User
from sustain.ledger.enums import (
    BusinessTime,
    CountMethod,
    EntryKind,
    InventoryKind,
    Resolution,
    TheftLossKind,
)

# The three ketamine vial strengths on the US market [Ketalar-label] [Ketalar-summary]
# (clinical-facts.md §8f).
STRENGTHS_MG_PER_ML = (10, 50, 100)
# Amounts: mg to 2 places, mL to 4 places, so any mg amount to 0.01 mg divided by 10, 50 or
# 100 mg/mL is exact in mL (the record's precision, not a clinical rule).
# The entries that belong to one visit: what was drawn for it, given and wasted.
VISIT_KINDS = (EntryKind.DRAW, EntryKind.ADMINISTER, EntryKind.WASTE)
# A container is opened by its first puncture: an opening recorded at the safe, or a draw.
PUNCTURING = (EntryKind.OPEN, EntryKind.DRAW)


class SiteRegistration(models.Model):
    """A site's own DEA registration: records are kept per registered location [CFR1304.21]."""

    site = models.OneToOneField(Site, on_delete=models.PROTECT, related_name="dea_registration")
    dea_number = models.CharField(max_length=9, unique=True)
    # The registrant's name and address as on the registration: DEA Form 41 names them
    # [DEA-Form41], and the dispensing record is headed by them [CFR1304.22]. Blank until
    # recorded (the report then says so).
    registrant_name = models.CharField(max_length=200, blank=True)
    address = models.TextField(blank=True)

    class Meta:
        default_permissions = ()


class Supplier(models.Model):
    """Who ketamine is received from: name, address and DEA number are part of the receipt
    record [CFR1304.22]."""

    name = models.CharField(max_length=200)
    address = models.TextField()
    dea_number = models.CharField(max_length=9, unique=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """A commercial container of ketamine: its strength and volume are the "finished form and
    units per commercial container" of the record [CFR1304.22]."""

    name = models.CharField(max_length=120, default="Ketamine hydrochloride injection")
    strength_mg_per_ml = models.PositiveSmallIntegerField(
        choices=[(s, f"{s} mg/mL") for s in STRENGTHS_MG_PER_ML]
    )
    container_volume_ml = models.DecimalField(max_digits=7, decimal_places=2)
    ndc = models.CharField(max_length=13, unique=True, help_text="National Drug Code")

    class Meta:
        default_permissions = ()
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(strength_mg_per_ml__in=STRENGTHS_MG_PER_ML),
                name="product_strength_is_marketed",
            ),
            models.CheckConstraint(
                condition=Q(container_volume_ml__gt=0), name="product_volume_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.strength_mg_per_ml} mg/mL, {self.container_volume_ml} mL"


class Location(models.Model):
    """Where containers are stored at a site: the safe, the chair-side cart."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="storage_locations")
    name = models.CharField(max_length=80)

    class Meta:
        default_permissions = ()
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["site", "name"], name="location_site_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.site.name}: {self.name}"


class Lot(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=40)
    expires_on = models.DateField(help_text="Usable through this day")

    class Meta:
        default_permissions = ()
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["product", "lot_number"], name="lot_product_unique")
        ]


class Container(models.Model):
    """One vial, numbered within its lot on receipt (1, 2, 3 ... across every receipt of the
    lot), so each is traced from invoice to patient or waste."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="containers")
    number = models.PositiveIntegerField()
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="containers")

    class Meta:
        default_permissions = ()
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["lot", "number"], name="container_lot_number_unique")
        ]

    def __str__(self) -> str:
        return f"lot {self.lot.lot_number} #{self.number}"


class ContainerBalance(models.Model):
    """What is left in a container, in mg and mL. Never negative: the CHECKs refuse it on both
    engines, and services change it only with a conditional UPDATE (security-reliability-
    interop.md §4.2: a read-modify-write lost updates under 12 threads; this does not)."""

    container = models.OneToOneField(
        Container, on_delete=models.PROTECT, primary_key=True, related_name="balance"
    )
    balance_mg = models.DecimalField(max_digits=12, decimal_places=2)
    balance_ml = models.DecimalField(max_digits=12, decimal_places=4)

    class Meta:
        default_permissions = ()
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(balance_mg__gte=0), name="container_balance_mg_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(balance_ml__gte=0), name="container_balance_ml_not_negative"
            ),
        ]


_Record = TypeVar("_Record", bound=models.Model)


class AppendOnlyQuerySet(models.QuerySet[_Record]):
    """Refuses bulk update and delete: ledger entries, counts and inventories are records."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Ledger records are append-only: update is refused.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Ledger records are append-only: delete is refused.")


class Destruction(models.Model):
    """One destruction of inventory, with the fields of DEA Form 41 (Registrant Record of
    Controlled Substances Destroyed) [DEA-Form41]: the registrant's name, address and DEA
    number as they were that day, the date, place and method of destruction, and the two
    authorized employees who witnessed it (neither is the person destroying). What was destroyed
    (substance, NDC, strength and form, quantity per container) is its DESTROY entries, one per
    container. Append-only like the entries (the model refuses; on PostgreSQL a trigger does)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    registrant_name = models.CharField(max_length=200)
    registrant_address = models.TextField(blank=True)
    dea_number = models.CharField(max_length=9)
    destroyed_on = models.DateField(help_text="The actual date, in the site's zone [CFR1304.21]")
    place = models.CharField(max_length=200)
    method = models.CharField(max_length=200)
    reason = models.CharField(max_length=300)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    second_witness = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        default_permissions = ()
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(witness=F("second_witness"))
                & ~Q(witness=F("actor"))
                & ~Q(second_witness=F("actor")),
                name="destruction_two_witnesses_not_the_actor",
            ),
            models.CheckConstraint(
                condition=~Q(method="") & ~Q(place="") & ~Q(reason=""),
                name="destruction_has_method_place_reason",
            ),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("Destruction records are append-only: update is refused.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Destruction records are append-only: delete is refused.")


class LedgerEntry(models.Model):
    """One movement of ketamine, hash-chained to the entry before it (sustain.ledger.chain).

    `quantity_mg`/`quantity_ml` is the amount the entry is about (drawn, wasted, received);
    `change_mg`/`change_ml` is its signed effect on the container's balance (a draw takes from
    the container; a waste of a visit's drawn remainder does not, it was already drawn). Never
    updated or deleted [CFR1304.04]: corrections are entries that reverse one (`reverses`).
    """

    seq = models.BigIntegerField(unique=True)
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="ledger_entries")
    container = models.ForeignKey(Container, on_delete=models.PROTECT, related_name="entries")
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity_mg = models.DecimalField(max_digits=12, decimal_places=2)
    quantity_ml = models.DecimalField(max_digits=12, decimal_places=4)
    change_mg = models.DecimalField(max_digits=12, decimal_places=2)
    change_ml = models.DecimalField(max_digits=12, decimal_places=4)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    second_witness = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
    )
    reason = models.CharField(max_length=300, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    invoice_number = models.CharField(max_length=60, blank=True)
    # A transfer between sites (registered locations) is two entries: out at the source (the
    # balance leaves, `registration` names the destination's) and in at the destination (the
    # balance arrives, `registration` names the source's, `transfer_out` is the out entry).
    registration = models.ForeignKey(
        SiteRegistration, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    transfer_out = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="transfer_in"
    )
    destruction = models.ForeignKey(
        Destruction, null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    needs_review = models.BooleanField(default=False)
    occurred_on = models.DateField(help_text="The actual date, in the site's zone [CFR1304.21]")
    recorded_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    row_hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet["LedgerEntry"].as_manager()

    class Meta:
        ordering: ClassVar = ["seq"]
        # No add/change/delete permissions: entries are written only by the services, each
        # checking its own permission below, and are never changed or deleted.
        default_permissions = ("view",)
        permissions: ClassVar = [
            ("receive_stock", "Receive ketamine into stock"),
            ("transfer_stock", "Transfer containers between locations or sites"),
            ("return_stock", "Return containers to their supplier"),
            ("destroy_stock", "Destroy inventory (DEA Form 41)"),
            ("witness_destruction", "Witness a destruction of inventory"),
            ("change_setup", "Record the DEA registration, suppliers, products and locations"),
            ("draw_stock", "Draw ketamine for a visit"),
            ("waste_stock", "Waste the remainder of a visit's draw"),
            ("witness_waste", "Witness a waste"),
            ("adjust_stock", "Adjust a container's balance (flagged for review)"),
            ("correct_entry", "Correct a ledger entry by reversing it"),
            ("report_ledger", "Export the dispensing record for an inspector"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(quantity_mg__gte=0, quantity_ml__gte=0),
                name="ledger_quantity_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=VISIT_KINDS) | Q(appointment__isnull=False),
                name="ledger_visit_entry_has_visit",
            ),
            models.CheckConstraint(
                condition=Q(kind=EntryKind.CORRECTION, reverses__isnull=False)
                | (~Q(kind=EntryKind.CORRECTION) & Q(reverses__isnull=True)),
                name="ledger_correction_reverses_one",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=(EntryKind.ADJUST, EntryKind.CORRECTION)) | ~Q(reason=""),
                name="ledger_adjust_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.RECEIVE)
                | (Q(supplier__isnull=False) & ~Q(invoice_number="")),
                name="ledger_receipt_has_invoice",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.WASTE) | Q(witness__isnull=False),
                name="ledger_waste_is_witnessed",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.RETURN)
                | (Q(supplier__isnull=False) & ~Q(invoice_number="") & ~Q(reason="")),
                name="ledger_return_names_supplier",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.DESTROY)
                | (
                    Q(destruction__isnull=False, witness__isnull=False)
                    & Q(second_witness__isnull=False)
                    & ~Q(witness=F("second_witness"))
                    & ~Q(witness=F("actor"))
                    & ~Q(second_witness=F("actor"))
                ),
                name="ledger_destroy_two_witnesses",
            ),
            models.CheckConstraint(
                condition=Q(kind=EntryKind.DESTROY) | Q(destruction__isnull=True),
                name="ledger_destruction_only_destroys",
            ),
            models.CheckConstraint(
                condition=Q(registration__isnull=True, transfer_out__isnull=True)
                | Q(kind=EntryKind.TRANSFER, change_mg__lt=0, registration__isnull=False)
                & Q(transfer_out__isnull=True)
                | Q(kind=EntryKind.TRANSFER, change_mg__gt=0, registration__isnull=False)
                & Q(transfer_out__isnull=False),
                name="ledger_site_transfer_names_registration",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.TRANSFER)
                | Q(change_mg=0)
                | Q(registration__isnull=False),
                name="ledger_transfer_moves_stock_between_sites",
            ),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("Ledger entries are append-only: update is refused.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Ledger entries are append-only: delete is refused.")


class LedgerChainHead(models.Model):
    """The single row that serializes appends to the ledger's chain (locked per append)."""

    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        default_permissions = ()


# -- Counts, discrepancies, theft and loss, inventories (issue 12, item 4) --------------------


class AppendOnlyRecord(models.Model):
    """A record written once and never changed or deleted (the model and its queryset refuse;
    on PostgreSQL a trigger does too, migration ledger `counts_counts`)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError(f"{self._meta.verbose_name} records are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError(f"{self._meta.verbose_name} records are never deleted.")


class Count(AppendOnlyRecord):
    """A blind count of every container at one location at the end of a day or shift, by the
    counter and confirmed by a second person (sustain.ledger.counts.submit_count). Each line
    holds what was counted and, computed only at submission, what the ledger held."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="ledger_counts")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="counts")
    counted_at = models.DateTimeField()
    occurred_on = models.DateField(help_text="The site's day of the count")
    counted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    confirmed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    objects = AppendOnlyQuerySet["Count"].as_manager()

    class Meta:
        ordering: ClassVar = ["-counted_at", "-pk"]
        default_permissions = ()
        # The count's permissions (issue 12, item 7): nurses and prescribers count and confirm;
        # clinic administrators close discrepancies, report thefts and losses and record
        # inventories; everyone else reads with ledger.view_ledgerentry, or nothing.
        permissions: ClassVar = [
            ("count_stock", "Count a location's stock and confirm another's count"),
            ("resolve_discrepancy", "Close a count's discrepancy with a resolution"),
            ("report_theft_loss", "Report a theft or loss and record its DEA filings"),
            ("record_inventory", "Record an initial or biennial inventory"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(counted_by=models.F("confirmed_by")),
                name="count_confirmed_by_second_person",
            )
        ]


class CountLine(AppendOnlyRecord):
    """One container of a count: counted (mg and mL) and the ledger's balance at the count."""

    count = models.ForeignKey(Count, on_delete=models.PROTECT, related_name="lines")
    container = models.ForeignKey(Container, on_delete=models.PROTECT, related_name="+")
    counted_mg = models.DecimalField(max_digits=12, decimal_places=2)
    counted_ml = models.DecimalField(max_digits=12, decimal_places=4)
    expected_mg = models.DecimalField(max_digits=12, decimal_places=2)
    expected_ml = models.DecimalField(max_digits=12, decimal_places=4)

    objects = AppendOnlyQuerySet["CountLine"].as_manager()

    class Meta:
        ordering: ClassVar = ["pk"]
        default_permissions = ()
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["count", "container"], name="count_line_once"),
            models.CheckConstraint(
                condition=Q(counted_mg__gte=0, counted_ml__gte=0), name="count_line_not_negative"
            ),
        ]

    @property
    def difference_mg(self) -> Any:
        return self.counted_mg - self.expected_mg


class TheftLossReport(models.Model):
    """A theft or significant loss (21 CFR 1301.76(b)): written notice to the DEA Field
    Division within 1 business day of discovery, and DEA Form 106 within 45 days of discovery
    [DEA-FR2023] [PharmHealthLaw-106] (clinical-facts.md §8e). Holds the fields Form 106 asks
    for (OMB 1117-0001: date of the theft or loss, type, police report and department, county,
    the registrant's thefts and losses in the past 24 months, the purchase value); the
    containers and quantities are its discrepancies'. Each filing is recorded once."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="theft_loss_reports")
    kind = models.CharField(max_length=20, choices=TheftLossKind.choices)
    explanation = models.TextField(blank=True)
    discovered_at = models.DateTimeField()
    occurred_on = models.DateField(null=True, blank=True, help_text="If known")
    county = models.CharField(max_length=80)
    police_notified = models.BooleanField()
    police_department = models.CharField(
        max_length=200, blank=True, help_text="Name and telephone number"
    )
    police_report_number = models.CharField(max_length=60, blank=True)
    purchase_value_usd = models.DecimalField(max_digits=10, decimal_places=2)
    earlier_reports_24_months = models.PositiveIntegerField()
    notice_due_on = models.DateField()
    form_106_due_on = models.DateField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    notice_sent_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    form_106_filed_at = models.DateTimeField(null=True, blank=True)
    form_106_filed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    form_106_reference = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering: ClassVar = ["-discovered_at", "-pk"]
        default_permissions = ()
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(kind=TheftLossKind.OTHER) | ~Q(explanation=""),
                name="theft_loss_other_explained",
            ),
            models.CheckConstraint(
                condition=Q(police_notified=False) | ~Q(police_department=""),
                name="theft_loss_police_named",
            ),
            models.CheckConstraint(
                condition=Q(notice_sent_at__isnull=True, notice_sent_by__isnull=True)
                | Q(notice_sent_at__isnull=False, notice_sent_by__isnull=False),
                name="theft_loss_notice_signed",
            ),
            models.CheckConstraint(
                condition=Q(form_106_filed_at__isnull=True, form_106_filed_by__isnull=True)
                | Q(form_106_filed_at__isnull=False, form_106_filed_by__isnull=False),
                name="theft_loss_form_106_signed",
            ),
            models.CheckConstraint(
                condition=Q(purchase_value_usd__gte=0), name="theft_loss_value_not_negative"
            ),
        ]

    def notice_overdue(self, today: dt.date) -> bool:
        """Not sent and its due day has passed (or sent after it)."""
        return _late(self.notice_sent_at, self.notice_due_on, today, self.site)

    def form_106_overdue(self, today: dt.date) -> bool:
        return _late(self.form_106_filed_at, self.form_106_due_on, today, self.site)


def _late(done_at: dt.datetime | None, due_on: dt.date, today: dt.date, site: Site) -> bool:
    if done_at is None:
        return today > due_on
    return done_at.astimezone(site.tz).date() > due_on


class Discrepancy(models.Model):
    """A container whose count differed from its ledger balance. Open until a clinic
    administrator closes it with a resolution (sustain.ledger.counts): found (a later count
    of the location matches), a documentation error (the adjusting or correcting entry that
    accounts for the difference), or a loss or theft (its TheftLossReport). Closed once: the
    service's conditional UPDATE and these CHECKs hold the shape."""

    line = models.OneToOneField(CountLine, on_delete=models.PROTECT, related_name="discrepancy")
    count = models.ForeignKey(Count, on_delete=models.PROTECT, related_name="discrepancies")
    container = models.ForeignKey(Container, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="discrepancies")
    expected_mg = models.DecimalField(max_digits=12, decimal_places=2)
    counted_mg = models.DecimalField(max_digits=12, decimal_places=2)
    difference_mg = models.DecimalField(max_digits=12, decimal_places=2)
    difference_ml = models.DecimalField(max_digits=12, decimal_places=4)
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    resolution_note = models.CharField(max_length=300, blank=True)
    resolved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    recount = models.ForeignKey(
        Count, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    correcting_entry = models.ForeignKey(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    report = models.ForeignKey(
        TheftLossReport,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="discrepancies",
    )

    class Meta:
        ordering: ClassVar = ["-count__counted_at", "pk"]
        default_permissions = ()
        verbose_name_plural = "discrepancies"
        constraints: ClassVar = [
            # No CHECK that difference = counted - expected: SQLite computes it in floating
            # point (465.1 - 500 is not -34.9 there); the service computes it in Decimal.
            models.CheckConstraint(
                condition=~Q(difference_mg=0), name="discrepancy_is_a_difference"
            ),
            models.CheckConstraint(
                condition=Q(resolution="", resolved_by__isnull=True, resolved_at__isnull=True)
                | (~Q(resolution="") & Q(resolved_by__isnull=False, resolved_at__isnull=False)),
                name="discrepancy_resolution_signed",
            ),
            models.CheckConstraint(
                condition=~Q(resolution=Resolution.FOUND) | Q(recount__isnull=False),
                name="discrepancy_found_names_recount",
            ),
            models.CheckConstraint(
                condition=~Q(resolution=Resolution.DOCUMENTATION_ERROR)
                | Q(correcting_entry__isnull=False),
                name="discrepancy_error_names_entry",
            ),
            models.CheckConstraint(
                condition=~Q(resolution=Resolution.LOSS_THEFT) | Q(report__isnull=False),
                name="discrepancy_loss_names_report",
            ),
        ]

    @property
    def is_open(self) -> bool:
        return self.resolution == ""


class Inventory(AppendOnlyRecord):
    """An initial or biennial inventory of a site's ketamine (21 CFR 1304.11, clinical-facts.md
    §8c): the date, whether taken at the opening or close of business, who took it, and each
    container's count: exact for an unopened container, exact or estimated for an opened one
    (Schedule III) [CFR1971-304.17] (unconfirmed). One initial inventory per site."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="ledger_inventories")
    kind = models.CharField(max_length=10, choices=InventoryKind.choices)
    taken_on = models.DateField()
    time_of_day = models.CharField(max_length=8, choices=BusinessTime.choices)
    taken_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    objects = AppendOnlyQuerySet["Inventory"].as_manager()

    class Meta:
        ordering: ClassVar = ["-taken_on", "-pk"]
        default_permissions = ()
        verbose_name_plural = "inventories"
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["site"],
                condition=Q(kind=InventoryKind.INITIAL),
                name="inventory_one_initial_per_site",
            )
        ]


class InventoryLine(AppendOnlyRecord):
    inventory = models.ForeignKey(Inventory, on_delete=models.PROTECT, related_name="lines")
    container = models.ForeignKey(Container, on_delete=models.PROTECT, related_name="+")
    opened = models.BooleanField()
    method = models.CharField(max_length=10, choices=CountMethod.choices)
    quantity_mg = models.DecimalField(max_digits=12, decimal_places=2)
    quantity_ml = models.DecimalField(max_digits=12, decimal_places=4)

    objects = AppendOnlyQuerySet["InventoryLine"].as_manager()

    class Meta:
        ordering: ClassVar = ["pk"]
        default_permissions = ()
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["inventory", "container"], name="inventory_line_once"),
            models.CheckConstraint(
                condition=Q(opened=True) | Q(method=CountMethod.EXACT),
                name="inventory_unopened_counted_exactly",
            ),
            models.CheckConstraint(
                condition=Q(quantity_mg__gte=0, quantity_ml__gte=0),
                name="inventory_line_not_negative",
            ),
        ]
