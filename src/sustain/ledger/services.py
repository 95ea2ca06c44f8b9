"""Every change to ketamine stock, one transaction each, audited, appended to the ledger.

Rules (clinical-facts.md §8): a complete and current record of every receipt and disposal
with its actual date, per registered location [CFR1304.21]; the receipt names the supplier's
name, address and DEA number, each administration the patient, date, quantity and who gave it
[CFR1304.22]; records kept at least 2 years, so nothing here updates or deletes an entry
[CFR1304.04]. Waste of a visit's remainder is witnessed by a second person who is never the
one who drew (the federal witness rule for wastage is unconfirmed; many states and
institutions require one [AskJan-waste]; this clinic requires it).

Every refusal is a ClinicalValueError naming the rule and changes nothing: one that breaks a
ledger rule is a LedgerRefused naming it with a stable code (ledger.enums.Rule; the API answers
409), one of a malformed value (blank text, an amount not positive or finer than 0.01 mg, a
count out of bounds) a plain ClinicalValueError or OutOfRange (the API answers 400). A balance is
changed only by a conditional UPDATE (`balance >= amount`) in the transaction that appends the
entry, so concurrent draws can never lose an update or go below zero; the CHECK constraints
on ContainerBalance are the database's backstop (security-reliability-interop.md §4.2-4.3).
"""

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Sum
from django.db.models.functions import Round

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Membership, Site, User
from sustain.ledger import chain
from sustain.ledger.enums import EntryKind, Rule
from sustain.ledger.models import (
    PUNCTURING,
    Container,
    ContainerBalance,
    Destruction,
    LedgerEntry,
    Location,
    Lot,
    Product,
    SiteRegistration,
    Supplier,
)
from sustain.scheduling.enums import OCCUPYING
from sustain.scheduling.models import Appointment
from sustain_core.errors import (
    ClinicalValueError,
    ExpiredLot,
    InsufficientStock,
    LedgerRefused,
    OutOfRange,
    WitnessNotAllowed,
)

# At most this many containers in one receipt: a bound against typing errors, not a clinical
# rule.
MAX_CONTAINERS_PER_RECEIPT = 200
# Amounts are recorded to 0.01 mg (then every mL amount of a 10, 50 or 100 mg/mL product is
# exact to 0.0001 mL): a bound of the record's precision, not a clinical rule.
MG_PLACES = 2
ML_PLACES = MG_PLACES + 2
# One entry moves at most this many mg: a bound against typing errors, not a clinical rule
# (a whole 500 mg vial is 500).
MAX_ENTRY_MG = Decimal(100_000)
ZERO = Decimal(0)


def _require(by: User, perm: str, who: str) -> None:
    if not by.has_perm(perm):
        raise ClinicalValueError("by", f"only {who} may do this")


def _require_member(by: User, site: Site) -> None:
    if not Membership.objects.filter(user=by, site=site).exists():
        raise ClinicalValueError("by", f"you are not on the staff of {site.name}")


def _text(value: str, field: str, limit: int, what: str) -> str:
    """`value` stripped; refused when blank or longer than its column holds."""
    value = value.strip()
    if not value:
        raise ClinicalValueError(field, f"enter {what}")
    if len(value) > limit:
        raise ClinicalValueError(field, f"{what} is at most {limit} characters")
    return value


def _day(site: Site, now: dt.datetime) -> dt.date:
    return now.astimezone(site.tz).date()


def _amount_mg(value: Decimal, field: str) -> Decimal:
    """A positive amount in mg to at most 0.01 mg, else refused (never rounded)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise OutOfRange(field, "enter the amount in mg as a number")
    if value <= 0:
        raise OutOfRange(field, f"the amount must be more than 0 mg; got {value} mg")
    if value > MAX_ENTRY_MG:
        raise OutOfRange(
            field, f"one entry is at most {MAX_ENTRY_MG} mg (a bound against typing errors)"
        )
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MG_PLACES:
        raise OutOfRange(field, f"record the amount to 0.01 mg at most; got {value} mg")
    return value


def _show(amount: Decimal) -> str:
    """An amount as typed: 20.00 from the database and 20 in memory both read "20"."""
    return format(amount.normalize(), "f")


def _ml(mg: Decimal, container: Container) -> Decimal:
    return mg / container.lot.product.strength_mg_per_ml


def _balance(container: Container) -> ContainerBalance:
    return ContainerBalance.objects.get(pk=container.pk)


def _new_balance(mg: Decimal, ml: Decimal) -> dict[str, Round]:
    """The balance changed by `mg` and `ml`, rounded to its columns' places: a no-op on
    PostgreSQL, whose numeric is exact, while SQLite computes on a decimal column in binary
    floating point (500 - 32.09 is 467.90999999999997 there, and 10 - 0.73 - ... mL drifts to
    0.499999999999999, which would refuse a draw of the last 467.91 mg or 0.5 mL)."""
    return {
        "balance_mg": Round(F("balance_mg") + mg, MG_PLACES),
        "balance_ml": Round(F("balance_ml") + ml, ML_PLACES),
    }


def _take(container: Container, mg: Decimal, field: str) -> None:
    """Take `mg` (and its mL) from the container's balance, or refuse if it holds less (the
    result kept to the columns' places: _new_balance)."""
    ml = _ml(mg, container)
    taken = ContainerBalance.objects.filter(
        pk=container.pk, balance_mg__gte=mg, balance_ml__gte=ml
    ).update(**_new_balance(-mg, -ml))
    if not taken:
        held = _balance(container).balance_mg
        raise InsufficientStock(
            field,
            f"container {container} holds {_show(held)} mg; taking {_show(mg)} mg would make "
            "its balance negative, and a balance never goes below zero",
        )


def _give(container: Container, mg: Decimal) -> None:
    ContainerBalance.objects.filter(pk=container.pk).update(**_new_balance(mg, _ml(mg, container)))


def _audit(entry: LedgerEntry, by: User, *, patient_id: int | None = None) -> None:
    record_event(
        actor=by,
        action=AuditAction.CREATE,
        category=DataCategory.LEDGER,
        site=entry.site,
        patient_id=patient_id,
        obj=entry,
    )


def _entry(
    kind: EntryKind,
    container: Container,
    by: User,
    now: dt.datetime,
    *,
    occurred_on: dt.date | None = None,
    **fields: object,
) -> LedgerEntry:
    site = container.location.site
    entry = LedgerEntry(
        kind=kind,
        site=site,
        container=container,
        actor=by,
        occurred_on=occurred_on or _day(site, now),
        recorded_at=now,
        **fields,
    )
    return chain.append(entry)


def _container(container: Container) -> Container:
    """The container as it is now, its balance row locked first: every writer of a container
    queues on that row (PostgreSQL; SQLite's BEGIN IMMEDIATE serializes writers already), so
    none acts on a location, an opening or a balance that another changed meanwhile (a draw or
    an opening racing a move to another site or a return lands first or is refused). The lock
    order stays the balance row, then the chain head, then the audit head."""
    list(ContainerBalance.objects.select_for_update().filter(pk=container.pk).values_list("pk"))
    return Container.objects.select_related("lot__product", "location__site").get(pk=container.pk)


@transaction.atomic
def receive_stock(
    *,
    location: Location,
    supplier: Supplier,
    invoice_number: str,
    product: Product,
    lot_number: str,
    expires_on: dt.date,
    containers: int,
    received_on: dt.date,
    by: User,
    now: dt.datetime,
) -> list[Container]:
    """Receive `containers` full containers of one lot into `location`, each numbered on
    receipt (continuing the lot's numbers), with a receive entry naming the supplier and the
    invoice [CFR1304.22]. Refused: another role, a site without its DEA registration recorded,
    no invoice number, a receipt dated after today, a lot already expired or recorded with
    another expiry, fewer than 1 or more than MAX_CONTAINERS_PER_RECEIPT containers."""
    _require(by, "ledger.receive_stock", "a clinic administrator")
    site = location.site
    _require_member(by, site)
    _registration(site, "receiving stock")
    invoice_number = _text(invoice_number, "invoice_number", 60, "the invoice number")
    lot_number = _text(lot_number, "lot_number", 40, "the lot number")
    today = _day(site, now)
    if received_on > today:
        raise LedgerRefused(
            "received_on",
            f"the receipt is dated {received_on}, after today ({today})",
            rule=Rule.DATED_AFTER_TODAY,
        )
    if expires_on < received_on:
        raise ExpiredLot(
            "expires_on", f"lot {lot_number} expired on {expires_on}; expired stock is not received"
        )
    if not 1 <= containers <= MAX_CONTAINERS_PER_RECEIPT:
        raise OutOfRange(
            "containers",
            f"a receipt holds 1 to {MAX_CONTAINERS_PER_RECEIPT} containers; got {containers}",
        )
    lot, _ = Lot.objects.get_or_create(
        product=product, lot_number=lot_number, defaults={"expires_on": expires_on}
    )
    # Two receipts of one lot at once number their containers one after the other.
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if lot.expires_on != expires_on:
        raise LedgerRefused(
            "expires_on",
            f"lot {lot.lot_number} is recorded as expiring on {lot.expires_on}, not {expires_on}",
            rule=Rule.LOT_EXPIRY_MISMATCH,
        )
    first = (lot.containers.aggregate(last=Max("number"))["last"] or 0) + 1
    full_ml = product.container_volume_ml
    full_mg = full_ml * product.strength_mg_per_ml
    received = []
    for number in range(first, first + containers):
        container = Container.objects.create(lot=lot, number=number, location=location)
        ContainerBalance.objects.create(container=container, balance_mg=full_mg, balance_ml=full_ml)
        entry = _entry(
            EntryKind.RECEIVE, container, by, now,
            location=location, quantity_mg=full_mg, quantity_ml=full_ml, change_mg=full_mg,
            change_ml=full_ml, supplier=supplier, invoice_number=invoice_number,
            occurred_on=received_on,
        )  # fmt: skip
        _audit(entry, by)
        received.append(container)
    return received


@transaction.atomic
def open_container(*, container: Container, by: User, now: dt.datetime) -> LedgerEntry:
    """Record the first puncture of a container. Refused: another role, another site's
    container, a container already opened or empty."""
    container = _container(container)
    _require(by, "ledger.draw_stock", "a nurse or a prescriber")
    _require_member(by, container.location.site)
    if _opened(container):
        raise ClinicalValueError("container", f"container {container} is already open")
    if _balance(container).balance_mg == 0:
        raise ClinicalValueError("container", f"container {container} is empty")
    entry = _entry(
        EntryKind.OPEN, container, by, now,
        quantity_mg=ZERO, quantity_ml=ZERO, change_mg=ZERO, change_ml=ZERO,
    )  # fmt: skip
    _audit(entry, by)
    return entry


@transaction.atomic
def transfer_container(
    *, container: Container, to: Location, by: User, now: dt.datetime
) -> LedgerEntry:
    """Move a container to another storage location: of its site (the safe to the cart), with
    an entry recording what it holds, or of another site (_transfer_to_site). Refused: anyone
    but a clinic administrator, or the location it is already at."""
    _require(by, "ledger.transfer_stock", "a clinic administrator")
    container = _container(container)
    site = container.location.site
    _require_member(by, site)
    if to.pk == container.location_id:
        raise LedgerRefused(
            "to", f"container {container} is already at {to.name}", rule=Rule.SAME_LOCATION
        )
    if to.site_id != site.pk:
        return _transfer_to_site(container, to, by=by, now=now)
    held = ContainerBalance.objects.select_for_update().get(pk=container.pk)
    Container.objects.filter(pk=container.pk).update(location=to)
    container.location = to
    entry = _entry(
        EntryKind.TRANSFER, container, by, now,
        location=to, quantity_mg=held.balance_mg, quantity_ml=held.balance_ml, change_mg=ZERO,
        change_ml=ZERO,
    )  # fmt: skip
    _audit(entry, by)
    return entry


def _registration(site: Site, doing: str) -> SiteRegistration:
    registration = SiteRegistration.objects.filter(site=site).first()
    if registration is None:
        raise LedgerRefused(
            "site",
            f"{site.name} has no DEA registration number recorded; records are kept per "
            f"registered location, so record it before {doing}",
            rule=Rule.SITE_NOT_REGISTERED,
        )
    return registration


def _opened(container: Container) -> bool:
    return container.entries.filter(kind__in=PUNCTURING, reversed_by__isnull=True).exists()


def _sealed_balance(container: Container, field: str, doing: str) -> ContainerBalance:
    """The container's balance row, locked, when the container is unopened and full (what its
    product holds); else refused: only a sealed container is `doing`."""
    held = ContainerBalance.objects.select_for_update().get(pk=container.pk)
    product = container.lot.product
    full_mg = product.container_volume_ml * product.strength_mg_per_ml
    if (
        _opened(container)
        or held.balance_mg != full_mg
        or held.balance_ml != (product.container_volume_ml)
    ):
        raise LedgerRefused(
            field,
            f"container {container} is opened or partly used (it holds {_show(held.balance_mg)} "
            f"of {_show(full_mg)} mg); only a sealed, full container is {doing}",
            rule=Rule.NOT_SEALED,
        )
    return held


def _transfer_to_site(
    container: Container, to: Location, *, by: User, now: dt.datetime
) -> LedgerEntry:
    """Move a sealed container to a location at another site. Each site is its own registered
    location, with its own records [CFR1304.21]: the move is two entries in one transaction,
    out at the source (its balance leaves; the destination's DEA registration named) and in at
    the destination (its balance arrives; the source's registration named; linked to the out
    entry), each with the actual date [CFR1304.21]. Refused: a site (either) without its DEA
    registration recorded, a destination site the administrator is not on the staff of, and a
    container opened or partly used (rule: only sealed, full containers move between
    registered locations, so each site's record of a container is whole: an open vial is used,
    returned or destroyed where it was opened)."""
    source = container.location.site
    destination = to.site
    if not Membership.objects.filter(user=by, site=destination).exists():
        raise ClinicalValueError("to", f"you are not on the staff of {destination.name}")
    source_registration = _registration(source, "moving stock out of it")
    destination_registration = _registration(destination, "moving stock into it")
    held = _sealed_balance(container, "container", "moved to another site")
    out = _entry(
        EntryKind.TRANSFER, container, by, now,
        location=to, quantity_mg=held.balance_mg, quantity_ml=held.balance_ml,
        change_mg=-held.balance_mg, change_ml=-held.balance_ml,
        registration=destination_registration,
    )  # fmt: skip
    _audit(out, by)
    Container.objects.filter(pk=container.pk).update(location=to)
    container.location = to
    arrived = _entry(
        EntryKind.TRANSFER, container, by, now,
        location=to, quantity_mg=held.balance_mg, quantity_ml=held.balance_ml,
        change_mg=held.balance_mg, change_ml=held.balance_ml, registration=source_registration,
        transfer_out=out,
    )  # fmt: skip
    _audit(arrived, by)
    return arrived


def _locked_visit(appointment: Appointment) -> Appointment:
    # One writer per visit at a time (PostgreSQL row lock; SQLite's BEGIN IMMEDIATE already
    # serializes writers), so two wastes cannot both fit in the same remainder.
    return Appointment.objects.select_for_update().get(pk=appointment.pk)


@transaction.atomic
def draw_for_visit(
    *, container: Container, appointment: Appointment, dose_mg: Decimal, by: User, now: dt.datetime
) -> LedgerEntry:
    """Draw `dose_mg` from a container for a visit. Refused: another role, a visit cancelled or
    missed, a visit on another day than today, a container at another site than the visit, a
    lot past its expiry date on the day (the site's day), an amount that is not a positive
    number of mg to 0.01 mg, or more than the container holds (its balance never goes below
    zero)."""
    _require(by, "ledger.draw_stock", "a nurse or a prescriber")
    appointment = _locked_visit(appointment)
    container = _container(container)
    site = appointment.site
    _require_member(by, site)
    dose_mg = _amount_mg(dose_mg, "dose_mg")
    if container.location.site_id != site.pk:
        raise LedgerRefused(
            "container",
            f"container {container} is at {container.location.site.name}; draw for a visit at "
            f"{site.name} from that site's stock",
            rule=Rule.WRONG_SITE,
        )
    today = _day(site, now)
    if appointment.status not in OCCUPYING:
        raise LedgerRefused(
            "appointment",
            f"the visit is {appointment.get_status_display().lower()}; no drug is drawn for it",
            rule=Rule.VISIT_CANCELLED,
        )
    visit_day = _day(site, appointment.starts_at)
    if visit_day != today:
        raise LedgerRefused(
            "appointment",
            f"the visit is on {visit_day}; draw for it on that day, not {today}",
            rule=Rule.VISIT_NOT_TODAY,
        )
    if container.lot.expires_on < today:
        raise ExpiredLot(
            "container",
            f"lot {container.lot.lot_number} expired on {container.lot.expires_on}; an expired "
            "lot cannot be drawn",
        )
    _take(container, dose_mg, "dose_mg")
    ml = _ml(dose_mg, container)
    entry = _entry(
        EntryKind.DRAW, container, by, now,
        appointment=appointment, quantity_mg=dose_mg, quantity_ml=ml, change_mg=-dose_mg,
        change_ml=-ml,
    )  # fmt: skip
    _audit(entry, by, patient_id=appointment.patient_id)
    return entry


def _visit_total(appointment: Appointment, container: Container, kind: EntryKind) -> Decimal:
    total = LedgerEntry.objects.filter(
        appointment=appointment, container=container, kind=kind, reversed_by__isnull=True
    ).aggregate(total=Sum("quantity_mg"))["total"]
    return total or ZERO


def _check_staff_witness(
    witness: User, password: str, *, site: Site, perm: str, who: str, field: str
) -> None:
    """An active member of `site` whose role holds `perm` and who re-entered their password."""
    if not witness.is_active:
        raise WitnessNotAllowed(field, f"{witness.get_username()}'s account is not active")
    if not Membership.objects.filter(user=witness, site=site).exists():
        raise WitnessNotAllowed(
            field, f"{witness.get_username()} is not on the staff of {site.name}"
        )
    if not witness.has_perm(perm):
        raise WitnessNotAllowed(field, f"the witness must be {who}")
    if not witness.check_password(password):
        raise WitnessNotAllowed(
            f"{field}_password", "the witness's password is not correct", rule=Rule.WITNESS_PASSWORD
        )


def _check_undisposed(
    appointment: Appointment, container: Container, quantity_mg: Decimal, doing: str
) -> None:
    """Refuse to give or waste more than was drawn from the container for the visit and is not
    yet given or wasted (drawn = administered + wasted per visit)."""
    drawn = _visit_total(appointment, container, EntryKind.DRAW)
    if drawn == 0:
        raise LedgerRefused(
            "container",
            f"nothing was drawn from container {container} for this visit",
            rule=Rule.EXCEEDS_DRAWN,
        )
    used = _visit_total(appointment, container, EntryKind.ADMINISTER) + _visit_total(
        appointment, container, EntryKind.WASTE
    )
    if quantity_mg > drawn - used:
        raise InsufficientStock(
            "quantity_mg",
            f"{_show(drawn - used)} mg drawn from container {container} for this visit is not "
            f"yet given or wasted; {_show(quantity_mg)} mg cannot be {doing}",
            rule=Rule.EXCEEDS_DRAWN,
        )


def _check_witness(
    witness: User, password: str, *, site: Site, by: User, appointment: Appointment
) -> None:
    if witness.pk == by.pk:
        raise WitnessNotAllowed(
            "witness", "the witness must be a second person, not you", rule=Rule.WITNESS_IS_SELF
        )
    drawers = set(
        LedgerEntry.objects.filter(appointment=appointment, kind=EntryKind.DRAW).values_list(
            "actor_id", flat=True
        )
    )
    if witness.pk in drawers:
        raise WitnessNotAllowed(
            "witness",
            f"{witness.get_username()} drew for this visit; the witness never drew",
            rule=Rule.WITNESS_IS_DRAWER,
        )
    _check_staff_witness(
        witness, password, site=site, perm="ledger.witness_waste", who="a nurse or a prescriber",
        field="witness",
    )  # fmt: skip


@transaction.atomic
def waste_for_visit(
    *,
    appointment: Appointment,
    container: Container,
    quantity_mg: Decimal,
    witness: User,
    witness_password: str,
    by: User,
    now: dt.datetime,
) -> LedgerEntry:
    """Waste what is left of a visit's draw from a container, witnessed. The witness is another
    active staff member of the visit's site with a clinical role, never the one who drew for
    the visit, and re-enters their password. Refused also: another role, a container not drawn
    from for this visit, more than drawn and not yet given or wasted."""
    _require(by, "ledger.waste_stock", "a nurse or a prescriber")
    appointment = _locked_visit(appointment)
    container = _container(container)
    site = appointment.site
    _require_member(by, site)
    quantity_mg = _amount_mg(quantity_mg, "quantity_mg")
    _check_undisposed(appointment, container, quantity_mg, "wasted")
    _check_witness(witness, witness_password, site=site, by=by, appointment=appointment)
    entry = _entry(
        EntryKind.WASTE, container, by, now,
        appointment=appointment, witness=witness, quantity_mg=quantity_mg,
        quantity_ml=_ml(quantity_mg, container), change_mg=ZERO, change_ml=ZERO,
    )  # fmt: skip
    _audit(entry, by, patient_id=appointment.patient_id)
    return entry


@transaction.atomic
def adjust_balance(
    *, container: Container, change_mg: Decimal, reason: str, by: User, now: dt.datetime
) -> LedgerEntry:
    """Add to (positive) or take from (negative) a container's balance, flagged for review.
    Refused: anyone but a clinic administrator, no reason, a zero or over-precise amount, or
    a balance that would go below zero."""
    _require(by, "ledger.adjust_stock", "a clinic administrator")
    container = _container(container)
    _require_member(by, container.location.site)
    reason = _text(reason, "reason", 300, "why the balance is adjusted")
    if not isinstance(change_mg, Decimal) or change_mg == 0:
        raise OutOfRange("change_mg", "enter a change in mg other than 0 (negative takes away)")
    amount = _amount_mg(abs(change_mg), "change_mg")
    if change_mg < 0:
        _take(container, amount, "change_mg")
    else:
        _give(container, amount)
    ml = _ml(change_mg, container)
    entry = _entry(
        EntryKind.ADJUST, container, by, now,
        quantity_mg=amount, quantity_ml=abs(ml), change_mg=change_mg, change_ml=ml,
        reason=reason, needs_review=True,
    )  # fmt: skip
    _audit(entry, by)
    return entry


@transaction.atomic
def correct_entry(*, entry: LedgerEntry, reason: str, by: User, now: dt.datetime) -> LedgerEntry:
    """Reverse an entry with a new one (never an edit), flagged for review: the reversed
    entry's change to the balance is undone and it stops counting in its visit's totals.
    Refused: anyone but a clinic administrator, no reason, a correction (record a new entry
    instead), an entry already corrected, a reversal that would make the balance negative, or
    the reversal of a draw whose amount was partly given or wasted (correct those first), or
    either entry of a transfer between sites (a pair recorded at two registered locations:
    transfer the container back)."""
    _require(by, "ledger.correct_entry", "a clinic administrator")
    if entry.appointment is not None:  # the visit first: the lock order of draws and wastes
        _locked_visit(entry.appointment)
    entry = LedgerEntry.objects.select_for_update().get(pk=entry.pk)
    container = _container(entry.container)
    _require_member(by, entry.site)
    reason = _text(reason, "reason", 300, "why the entry is corrected")
    if entry.kind == EntryKind.CORRECTION:
        raise ClinicalValueError(
            "entry", "a correction is not itself corrected; record a new entry instead"
        )
    if LedgerEntry.objects.filter(reverses=entry).exists():
        raise ClinicalValueError("entry", f"entry {entry.seq} is already corrected")
    if entry.kind == EntryKind.TRANSFER and entry.change_mg != 0:
        raise ClinicalValueError(
            "entry",
            f"entry {entry.seq} is half of a transfer between sites; transfer the container "
            "back instead",
        )
    if entry.kind == EntryKind.DRAW and entry.appointment is not None:
        visit = entry.appointment
        drawn = _visit_total(visit, container, EntryKind.DRAW)
        used = _visit_total(visit, container, EntryKind.ADMINISTER) + _visit_total(
            visit, container, EntryKind.WASTE
        )
        if drawn - entry.quantity_mg < used:
            raise ClinicalValueError(
                "entry",
                f"{_show(used)} mg drawn from container {container} for this visit was given or "
                "wasted; correct those entries before this draw",
            )
    if entry.change_mg < 0:
        _give(container, -entry.change_mg)
    elif entry.change_mg > 0:
        _take(container, entry.change_mg, "entry")
    try:
        with transaction.atomic():
            correction = _entry(
                EntryKind.CORRECTION, container, by, now,
                appointment=entry.appointment, quantity_mg=entry.quantity_mg,
                quantity_ml=entry.quantity_ml, change_mg=-entry.change_mg,
                change_ml=-entry.change_ml, reverses=entry, reason=reason, needs_review=True,
            )  # fmt: skip
    except IntegrityError as error:  # a concurrent correction of the same entry won
        raise ClinicalValueError("entry", f"entry {entry.seq} is already corrected") from error
    _audit(
        correction,
        by,
        patient_id=entry.appointment.patient_id if entry.appointment else None,
    )
    return correction


def mismatched_balances() -> list[tuple[ContainerBalance, Decimal]]:
    """Each container's balance that differs from the sum of its entries' changes, with that
    sum (empty when every balance is exact)."""
    sums = dict(
        LedgerEntry.objects.values("container_id")
        .annotate(mg=Round(Sum("change_mg"), MG_PLACES))  # SQLite sums in floating point
        .values_list("container_id", "mg")
    )
    return [
        (row, sums.get(row.pk) or ZERO)
        for row in ContainerBalance.objects.select_related("container__location__site")
        .order_by("pk")
        .iterator(chunk_size=2000)
        if sums.get(row.pk, ZERO) != row.balance_mg
    ]


def balances_match_entries() -> list[str]:
    """Each container whose balance differs from the sum of its entries' changes, in words
    (empty when every balance is exact)."""
    return [
        f"container id {row.pk}: balance {_show(row.balance_mg)} mg, entries sum to "
        f"{_show(total)} mg"
        for row, total in mismatched_balances()
    ]


@transaction.atomic
def administer_for_visit(
    *,
    appointment: Appointment,
    container: Container,
    quantity_mg: Decimal,
    by: User,
    now: dt.datetime,
) -> LedgerEntry:
    """Record what the pump delivered to the visit's patient from a container's draw: the
    administration of the dispensing record (patient, date, quantity, who gave it
    [CFR1304.22]). The balance does not change: the draw already took it. Refused: another
    role, a container not drawn from for this visit, an amount that is not a positive number
    of mg to 0.01 mg, or more than was drawn and is not yet given or wasted."""
    _require(by, "ledger.draw_stock", "a nurse or a prescriber")
    appointment = _locked_visit(appointment)
    container = _container(container)
    _require_member(by, appointment.site)
    quantity_mg = _amount_mg(quantity_mg, "quantity_mg")
    _check_undisposed(appointment, container, quantity_mg, "recorded as given")
    entry = _entry(
        EntryKind.ADMINISTER, container, by, now,
        appointment=appointment, quantity_mg=quantity_mg,
        quantity_ml=_ml(quantity_mg, container), change_mg=ZERO, change_ml=ZERO,
    )  # fmt: skip
    _audit(entry, by, patient_id=appointment.patient_id)
    return entry


@transaction.atomic
def reverse_administration(
    *, entry: LedgerEntry, reason: str, by: User, now: dt.datetime
) -> LedgerEntry:
    """Reverse an administration recorded by mistake (the end of an infusion undone at the
    chair) with a correction entry, never an edit [CFR1304.04]: the amount counts again as
    drawn and not yet given. Narrower than correct_entry, which only an administrator may
    use: only an administration, by a nurse or a prescriber of its site, with a reason; an
    entry already corrected is refused."""
    _require(by, "ledger.draw_stock", "a nurse or a prescriber")
    if entry.appointment is not None:  # the visit first: the lock order of draws and wastes
        _locked_visit(entry.appointment)
    entry = LedgerEntry.objects.select_for_update().get(pk=entry.pk)
    _require_member(by, entry.site)
    reason = _text(reason, "reason", 300, "why the administration is reversed")
    if entry.kind != EntryKind.ADMINISTER:
        raise ClinicalValueError("entry", "only an administration is reversed at the chair")
    if LedgerEntry.objects.filter(reverses=entry).exists():
        raise ClinicalValueError("entry", f"entry {entry.seq} is already corrected")
    container = _container(entry.container)
    try:
        with transaction.atomic():
            correction = _entry(
                EntryKind.CORRECTION, container, by, now,
                appointment=entry.appointment, quantity_mg=entry.quantity_mg,
                quantity_ml=entry.quantity_ml, change_mg=ZERO, change_ml=ZERO, reverses=entry,
                reason=reason,
            )  # fmt: skip
    except IntegrityError as error:  # a concurrent correction of the same entry won
        raise ClinicalValueError("entry", f"entry {entry.seq} is already corrected") from error
    _audit(correction, by, patient_id=entry.appointment.patient_id if entry.appointment else None)
    return correction


@transaction.atomic
def return_to_supplier(
    *,
    container: Container,
    supplier: Supplier,
    reference: str,
    reason: str,
    by: User,
    now: dt.datetime,
) -> LedgerEntry:
    """Return a whole sealed container to a supplier: a RETURN entry naming the supplier (name,
    address and DEA number are on the supplier) and the return's invoice or reference, taking
    the balance to 0, with the actual date [CFR1304.21] [CFR1304.22]. Rule: only a sealed, full
    container is returned (a supplier takes back unopened stock); an opened or partly used one
    is destroyed instead (destroy, DEA Form 41). Refused: anyone but a clinic administrator,
    another site's container, a site without its DEA registration recorded, no reference or
    reason, an opened or partly used container."""
    _require(by, "ledger.return_stock", "a clinic administrator")
    container = _container(container)
    site = container.location.site
    _require_member(by, site)
    _registration(site, "returning stock")
    reference = _text(reference, "reference", 60, "the return's invoice or reference number")
    reason = _text(reason, "reason", 300, "why the container is returned")
    held = _sealed_balance(container, "container", "returned to a supplier")
    _take(container, held.balance_mg, "container")
    entry = _entry(
        EntryKind.RETURN, container, by, now,
        quantity_mg=held.balance_mg, quantity_ml=held.balance_ml, change_mg=-held.balance_mg,
        change_ml=-held.balance_ml, supplier=supplier, invoice_number=reference, reason=reason,
    )  # fmt: skip
    _audit(entry, by)
    return entry


# At most this many containers in one destruction: a bound against slips, not a rule.
MAX_CONTAINERS_PER_DESTRUCTION = 200


@transaction.atomic
def destroy(
    *,
    containers: list[Container],
    method: str,
    place: str,
    reason: str,
    witness: User,
    witness_password: str,
    second_witness: User,
    second_witness_password: str,
    by: User,
    now: dt.datetime,
) -> Destruction:
    """Destroy inventory: the whole remaining contents of each container (opened or not,
    expired or not; rule: a container is destroyed whole, never in part, so its balance ends
    at 0), recorded as DEA Form 41 requires [DEA-Form41]: a Destruction with the registrant's
    name, address and DEA number, the date (today at the site: the actual date
    [CFR1304.21]), place and method, and the TWO authorized employees who witnessed it; and
    one DESTROY entry per container with the quantity destroyed (its substance, NDC, strength
    and form are its product's). The witnesses are two different active staff members of the
    site with a clinical role (nurse or prescriber), neither of them the person destroying,
    each re-entering their password. Refused also: anyone but a clinic administrator, a site
    without its DEA registration recorded, no container, containers of more than one site or
    of a site you are not on the staff of, a container listed twice, an empty container, no
    method, place or reason."""
    _require(by, "ledger.destroy_stock", "a clinic administrator")
    if not containers:
        raise ClinicalValueError("containers", "choose the containers destroyed")
    if len(containers) > MAX_CONTAINERS_PER_DESTRUCTION:
        raise OutOfRange(
            "containers",
            f"one destruction lists at most {MAX_CONTAINERS_PER_DESTRUCTION} containers",
        )
    if len({c.pk for c in containers}) != len(containers):
        raise ClinicalValueError("containers", "a container is listed twice")
    loaded = [_container(c) for c in sorted(containers, key=lambda c: c.pk)]
    site = loaded[0].location.site
    if any(c.location.site_id != site.pk for c in loaded):
        raise ClinicalValueError(
            "containers", "a destruction is recorded per registered location: one site at a time"
        )
    _require_member(by, site)
    registration = _registration(site, "destroying stock")
    method = _text(method, "method", 200, "the method of destruction")
    place = _text(place, "place", 200, "where the stock was destroyed")
    reason = _text(reason, "reason", 300, "why the stock is destroyed")
    if witness.pk == second_witness.pk:
        raise WitnessNotAllowed(
            "second_witness",
            "DEA Form 41 needs two different witnesses, not one twice",
            rule=Rule.WITNESS_IS_SELF,
        )
    for person, field in ((witness, "witness"), (second_witness, "second_witness")):
        if person.pk == by.pk:
            raise WitnessNotAllowed(
                field, "the witnesses are two other people, not you", rule=Rule.WITNESS_IS_SELF
            )
    _check_staff_witness(
        witness, witness_password, site=site, perm="ledger.witness_destruction",
        who="a nurse or a prescriber", field="witness",
    )  # fmt: skip
    _check_staff_witness(
        second_witness, second_witness_password, site=site, perm="ledger.witness_destruction",
        who="a nurse or a prescriber", field="second_witness",
    )  # fmt: skip
    held = {
        row.pk: row
        for row in ContainerBalance.objects.select_for_update()
        .filter(pk__in=[c.pk for c in loaded])
        .order_by("pk")
    }
    for container in loaded:
        if held[container.pk].balance_mg == 0:
            raise InsufficientStock("containers", f"container {container} is empty")
    destruction = Destruction.objects.create(
        site=site, registrant_name=registration.registrant_name or site.name,
        registrant_address=registration.address, dea_number=registration.dea_number,
        destroyed_on=_day(site, now), place=place, method=method, reason=reason, actor=by,
        witness=witness, second_witness=second_witness, recorded_at=now,
    )  # fmt: skip
    for container in loaded:
        row = held[container.pk]
        _take(container, row.balance_mg, "containers")
        entry = _entry(
            EntryKind.DESTROY, container, by, now,
            quantity_mg=row.balance_mg, quantity_ml=row.balance_ml, change_mg=-row.balance_mg,
            change_ml=-row.balance_ml, witness=witness, second_witness=second_witness,
            reason=reason, destruction=destruction,
        )  # fmt: skip
        _audit(entry, by)
    return destruction
