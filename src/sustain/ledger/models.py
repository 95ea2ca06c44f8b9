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

from typing import Any, ClassVar

from django.db import models
from django.db.models import F, Q

from sustain.accounts.models import Site, User
from sustain.ledger.enums import EntryKind

# The three ketamine vial strengths on the US market [Ketalar-label] [Ketalar-summary]
# (clinical-facts.md §8f).
STRENGTHS_MG_PER_ML = (10, 50, 100)
# Amounts: mg to 2 places, mL to 4 places, so any mg amount to 0.01 mg divided by 10, 50 or
# 100 mg/mL is exact in mL (the record's precision, not a clinical rule).
# The entries that belong to one visit: what was drawn for it, given and wasted.
VISIT_KINDS = (EntryKind.DRAW, EntryKind.ADMINISTER, EntryKind.WASTE)


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


class AppendOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Ledger entries are append-only: update is refused.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Ledger entries are append-only: delete is refused.")


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

    objects = AppendOnlyQuerySet.as_manager()

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
