"""The dispensing record for an inspector: one site, a range of the site's days (issue 12,
item 5).

It holds every field 21 CFR 1304.22(c) names [CFR1304.22]: the substance (ketamine
hydrochloride, Schedule III, DEA drug code 7285 [FR1999-ketamine] [CFR1308.13-copy]), each
product's finished form, strength and volume per container; the containers received (date,
number, lot, container numbers, the supplier's name, address and DEA number, the invoice);
each administration (the patient's name and address, date, quantity, who administered); each
other disposal (date, manner, quantity); and, per container, the balance at the start of the
range, every movement and the balance at its end, in mg and mL. Records are kept per registered
location [CFR1304.21], so one report is one site, headed by its name, address and DEA number.

The record is read from the append-only entries only: a blank field says so ("address not
recorded"), nothing is filled in. A role that may not view patients (care.view_patient) gets a
non-identifying reference instead of each name, and the names and addresses are never loaded.
Three queries build the report whatever its size (the site's registration, the containers with
their opening balances, the entries of the range).
"""

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.db.models import Q, Sum
from django.template.loader import render_to_string

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Membership, Site, User
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import Container, LedgerEntry, SiteRegistration
from sustain_core.errors import ClinicalValueError
from sustain_core.numbers import plain

SUBSTANCE = "Ketamine hydrochloride"
SCHEDULE = "III"
DEA_DRUG_CODE = "7285"
NOT_RECORDED = "address not recorded"
HIDDEN = "not shown to your role"
# Who may export the record: clinic administrators and auditors (accounts.roles). Prescribers
# and nurses, who draw and waste, are not the ones who answer an inspection with it.
PERMISSION = "ledger.report_ledger"
# The kinds that dispose of stock other than by administration (the "other disposals").
DISPOSALS = (
    EntryKind.WASTE,
    EntryKind.RETURN,
    EntryKind.DESTROY,
    EntryKind.ADJUST,
    EntryKind.CORRECTION,
)
ZERO = Decimal(0)


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
    location: str


@dataclass(frozen=True)
class Line:
    """One entry of the range, with the container's balance after it."""

    seq: int
    on: dt.date
    kind: EntryKind
    container: ContainerInfo
    quantity_mg: Decimal
    quantity_ml: Decimal
    change_mg: Decimal
    change_ml: Decimal
    balance_mg: Decimal
    balance_ml: Decimal
    by: str
    witnesses: str
    patient: str  # the name, or a reference for a role that may not view patients
    patient_address: str
    supplier: str
    supplier_address: str
    supplier_dea_number: str
    invoice_number: str
    reason: str
    corrected_by: int | None  # the seq of the correction that reverses this entry
    appointment_id: int | None

    @property
    def kind_label(self) -> str:
        return str(self.kind.label)

    @property
    def manner(self) -> str:
        """The manner of a disposal, in words, with its reason when it has one."""
        return f"{self.kind_label}: {self.reason}" if self.reason else self.kind_label


@dataclass(frozen=True)
class Receipt:
    """One receipt of one lot on one invoice (its containers numbered on receipt)."""

    on: dt.date
    product: ProductLine
    lot_number: str
    expires_on: dt.date
    container_numbers: tuple[int, ...]
    quantity_mg: Decimal
    quantity_ml: Decimal
    supplier: str
    supplier_address: str
    supplier_dea_number: str
    invoice_number: str
    by: str

    @property
    def containers(self) -> int:
        return len(self.container_numbers)


@dataclass(frozen=True)
class Administration:
    """What a patient was given, from the ADMINISTER entries; for a visit with none recorded
    yet, its DRAW entries stand in (`drawn_only`) and say so."""

    line: Line
    drawn_only: bool


@dataclass(frozen=True)
class ContainerLedger:
    container: ContainerInfo
    opening_mg: Decimal
    opening_ml: Decimal
    lines: tuple[Line, ...]

    @property
    def closing_mg(self) -> Decimal:
        return self.lines[-1].balance_mg if self.lines else self.opening_mg

    @property
    def closing_ml(self) -> Decimal:
        return self.lines[-1].balance_ml if self.lines else self.opening_ml


@dataclass(frozen=True)
class DispensingRecord:
    site_name: str
    site_address: str
    dea_number: str  # "" when the site's registration is not recorded
    start: dt.date
    end: dt.date
    patients_shown: bool
    products: tuple[ProductLine, ...]
    receipts: tuple[Receipt, ...]
    administrations: tuple[Administration, ...]
    disposals: tuple[Line, ...]
    containers: tuple[ContainerLedger, ...]
    substance: str = SUBSTANCE
    schedule: str = SCHEDULE
    dea_drug_code: str = DEA_DRUG_CODE


def check_range(start: dt.date, end: dt.date) -> None:
    """Refuse a range that ends before it starts."""
    if end < start:
        raise ClinicalValueError("end", f"the range ends on {end}, before it starts on {start}")


def _person(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _container_info(container: Container) -> ContainerInfo:
    product = container.lot.product
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
        location=container.location.name,
    )


def _patient(entry: LedgerEntry, *, show: bool) -> tuple[str, str]:
    """The patient's name and address (or a reference and no address) for a visit's entry."""
    visit = entry.appointment
    if visit is None:
        return "", ""
    if not show:
        return f"patient ref {visit.patient_id}", HIDDEN
    patient = visit.patient
    return f"{patient.given_name} {patient.family_name}", patient.address or NOT_RECORDED


def _entries(site: Site, start: dt.date, end: dt.date, *, show_patients: bool) -> list[LedgerEntry]:
    related = [
        "actor", "witness", "second_witness", "supplier", "reversed_by",
        "appointment__patient" if show_patients else "appointment",
    ]  # fmt: skip
    entries = LedgerEntry.objects.filter(
        site=site, occurred_on__gte=start, occurred_on__lte=end
    ).select_related(*related)
    # Without the patient join only the visit's patient id is read, never a name.
    return list(entries.order_by("occurred_on", "seq"))


def _containers(site: Site, start: dt.date, end: dt.date) -> list[Container]:
    """The site's containers with an entry up to `end`, each with its balance at the start of
    `start` (the sum of its earlier entries' changes)."""
    earlier = Q(entries__occurred_on__lt=start)
    return list(
        Container.objects.filter(entries__site=site, entries__occurred_on__lte=end)
        .select_related("lot__product", "location")
        .annotate(
            opening_mg=Sum("entries__change_mg", filter=earlier),
            opening_ml=Sum("entries__change_ml", filter=earlier),
        )
        .order_by("lot__product__strength_mg_per_ml", "lot__lot_number", "number")
    )


def build_record(
    *, site: Site, start: dt.date, end: dt.date, show_patients: bool
) -> DispensingRecord:
    """The dispensing record of `site` for the days `start` to `end` (inclusive, the site's
    days). `show_patients`: names and addresses, else a reference per patient (never loaded).
    Refused: a range that ends before it starts."""
    check_range(start, end)
    registration = SiteRegistration.objects.filter(site=site).first()
    containers = _containers(site, start, end)
    infos = {c.pk: _container_info(c) for c in containers}
    balance = {
        c.pk: (c.opening_mg or ZERO, c.opening_ml or ZERO)  # type: ignore[attr-defined]
        for c in containers
    }
    opening = dict(balance)
    entries = _entries(site, start, end, show_patients=show_patients)
    by_container: dict[int, list[Line]] = defaultdict(list)
    lines = []
    for entry in entries:
        mg, ml = balance[entry.container_id]
        mg, ml = mg + entry.change_mg, ml + entry.change_ml
        balance[entry.container_id] = (mg, ml)
        patient, address = _patient(entry, show=show_patients)
        supplier = entry.supplier
        reversal = getattr(entry, "reversed_by", None)
        line = Line(
            seq=entry.seq, on=entry.occurred_on, kind=EntryKind(entry.kind),
            container=infos[entry.container_id], quantity_mg=entry.quantity_mg,
            quantity_ml=entry.quantity_ml, change_mg=entry.change_mg,
            change_ml=entry.change_ml, balance_mg=mg, balance_ml=ml, by=_person(entry.actor),
            witnesses=", ".join(
                _person(w) for w in (entry.witness, entry.second_witness) if w is not None
            ),
            patient=patient, patient_address=address,
            supplier=supplier.name if supplier else "",
            supplier_address=supplier.address if supplier else "",
            supplier_dea_number=supplier.dea_number if supplier else "",
            invoice_number=entry.invoice_number, reason=entry.reason,
            corrected_by=reversal.seq if reversal is not None else None,
            appointment_id=entry.appointment_id,
        )  # fmt: skip
        lines.append(line)
        by_container[entry.container_id].append(line)
    ledgers = tuple(
        ContainerLedger(
            container=infos[c.pk],
            opening_mg=opening[c.pk][0],
            opening_ml=opening[c.pk][1],
            lines=tuple(by_container[c.pk]),
        )
        for c in containers
        if by_container[c.pk] or opening[c.pk] != (ZERO, ZERO)
    )
    products = sorted(
        {ledger.container.product for ledger in ledgers},
        key=lambda p: (p.strength_mg_per_ml, p.container_volume_ml, p.ndc),
    )
    return DispensingRecord(
        site_name=site.name,
        site_address=(registration.address if registration else "") or NOT_RECORDED,
        dea_number=registration.dea_number if registration else "",
        start=start,
        end=end,
        patients_shown=show_patients,
        products=tuple(products),
        receipts=_receipts(lines),
        administrations=_administrations(lines),
        disposals=tuple(line for line in lines if line.kind in DISPOSALS),
        containers=ledgers,
    )


def _receipts(lines: Iterable[Line]) -> tuple[Receipt, ...]:
    """The RECEIVE entries, one receipt per day, invoice, supplier and lot."""
    groups: dict[tuple[object, ...], list[Line]] = defaultdict(list)
    for line in lines:
        if line.kind == EntryKind.RECEIVE:
            key = (
                line.on, line.invoice_number, line.supplier_dea_number,
                line.container.lot_number, line.container.product,
            )  # fmt: skip
            groups[key].append(line)
    return tuple(
        Receipt(
            on=group[0].on,
            product=group[0].container.product,
            lot_number=group[0].container.lot_number,
            expires_on=group[0].container.expires_on,
            container_numbers=tuple(sorted(line.container.number for line in group)),
            quantity_mg=sum((line.quantity_mg for line in group), ZERO),
            quantity_ml=sum((line.quantity_ml for line in group), ZERO),
            supplier=group[0].supplier,
            supplier_address=group[0].supplier_address,
            supplier_dea_number=group[0].supplier_dea_number,
            invoice_number=group[0].invoice_number,
            by=group[0].by,
        )
        for group in groups.values()
    )


def _administrations(lines: list[Line]) -> tuple[Administration, ...]:
    """The ADMINISTER entries; a visit with none in the range is shown by its DRAW entries."""
    administered = {line.appointment_id for line in lines if line.kind == EntryKind.ADMINISTER}
    return tuple(
        Administration(line=line, drawn_only=line.kind == EntryKind.DRAW)
        for line in lines
        if line.kind == EntryKind.ADMINISTER
        or (line.kind == EntryKind.DRAW and line.appointment_id not in administered)
    )


def record_for_user(
    *, user: User, site: Site, start: dt.date, end: dt.date, output: str
) -> DispensingRecord:
    """The record as `user` may see it, audited as one export (its `output`: page, csv, pdf).
    Refused: a user without the report permission, not on the site's staff, or a range that
    ends before it starts. Patients' names and addresses only for a role that may view
    patients."""
    if not user.has_perm(PERMISSION):
        raise ClinicalValueError("by", "only a clinic administrator or an auditor may do this")
    if not Membership.objects.filter(user=user, site=site).exists():
        raise ClinicalValueError("by", f"you are not on the staff of {site.name}")
    record = build_record(
        site=site, start=start, end=end, show_patients=user.has_perm("care.view_patient")
    )
    record_event(
        actor=user,
        action=AuditAction.EXPORT,
        category=DataCategory.LEDGER,
        site=site,
        reason=f"dispensing record {output}",
    )
    return record


# One row per movement of each container (after its opening balance, before its closing one):
# every field of the record on every row, so a spreadsheet can filter it.
CSV_COLUMNS = (
    "site", "site_address", "site_dea_number", "substance", "product", "ndc", "lot",
    "expires_on", "container", "row", "entry", "date", "kind", "manner", "quantity_mg",
    "quantity_ml", "change_mg", "change_ml", "balance_mg", "balance_ml", "patient",
    "patient_address", "by", "witnesses", "supplier", "supplier_address",
    "supplier_dea_number", "invoice", "corrected_by",
)  # fmt: skip


def csv_rows(record: DispensingRecord) -> Iterable[dict[str, str]]:
    """The record as CSV rows (CSV_COLUMNS): per container an opening row, a row per entry and
    a closing row."""
    substance = f"{record.substance} (Schedule {record.schedule}, DEA {record.dea_drug_code})"
    head = {
        "site": record.site_name, "site_address": record.site_address,
        "site_dea_number": record.dea_number or "not recorded", "substance": substance,
    }  # fmt: skip
    for ledger in record.containers:
        info = ledger.container
        about = head | {
            "product": info.product.label, "ndc": info.product.ndc, "lot": info.lot_number,
            "expires_on": info.expires_on.isoformat(), "container": info.label,
        }  # fmt: skip
        yield about | {
            "row": "opening balance", "date": record.start.isoformat(),
            "balance_mg": plain(ledger.opening_mg), "balance_ml": plain(ledger.opening_ml),
        }  # fmt: skip
        for line in ledger.lines:
            yield about | {
                "row": "entry", "entry": str(line.seq), "date": line.on.isoformat(),
                "kind": line.kind.value, "manner": line.manner,
                "quantity_mg": plain(line.quantity_mg), "quantity_ml": plain(line.quantity_ml),
                "change_mg": plain(line.change_mg), "change_ml": plain(line.change_ml),
                "balance_mg": plain(line.balance_mg), "balance_ml": plain(line.balance_ml),
                "patient": line.patient, "patient_address": line.patient_address,
                "by": line.by, "witnesses": line.witnesses, "supplier": line.supplier,
                "supplier_address": line.supplier_address,
                "supplier_dea_number": line.supplier_dea_number, "invoice": line.invoice_number,
                "corrected_by": str(line.corrected_by or ""),
            }  # fmt: skip
        yield about | {
            "row": "closing balance", "date": record.end.isoformat(),
            "balance_mg": plain(ledger.closing_mg), "balance_ml": plain(ledger.closing_ml),
        }  # fmt: skip


class Writable(Protocol):
    def write(self, text: str, /) -> object: ...


def write_csv(record: DispensingRecord, out: Writable) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, restval="", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(csv_rows(record))


def render_html(record: DispensingRecord, *, printed_at: dt.datetime, tz: dt.tzinfo) -> str:
    """The record as the printable page the PDF is made from."""
    return render_to_string(
        "ledger/report_pdf.html", {"record": record, "printed_at": printed_at, "tz": tz}
    )


def render_pdf(record: DispensingRecord, *, printed_at: dt.datetime, tz: dt.tzinfo) -> bytes:
    """The record as a PDF (WeasyPrint, as the infusion record's)."""
    from weasyprint import HTML  # noqa: PLC0415 - Pango is loaded only when a PDF is made

    return HTML(string=render_html(record, printed_at=printed_at, tz=tz)).write_pdf()
