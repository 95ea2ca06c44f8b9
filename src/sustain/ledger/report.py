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
A container moved between sites is received from, or disposed of to, the other registered
location (its name, address and DEA number); each site's report holds only its own half of
the move, so its running balances are its own. A destruction shows its DEA Form 41 fields
(method, place, registrant, two witnesses) [DEA-Form41], a return its supplier and reference.
Then the counts, discrepancies, theft and loss reports and inventories of the range
(sustain.ledger.report_counts).

The record is read from the append-only entries only: a blank field says so ("address not
recorded"), nothing is filled in. A role that may not view patients (care.view_patient) gets a
non-identifying reference instead of each name, and the names and addresses are never loaded.
Eleven queries build the report whatever its size (the site's registration, the containers with
their opening balances, the entries of the range, and report_counts.QUERIES).
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
from sustain.ledger import report_counts
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import Container, Destruction, LedgerEntry, SiteRegistration
from sustain.ledger.report_counts import ContainerInfo, ProductLine, container_info, person
from sustain_core.errors import ClinicalValueError
from sustain_core.numbers import plain

SUBSTANCE = "Ketamine hydrochloride"
SCHEDULE = "III"
DEA_DRUG_CODE = "7285"
NOT_RECORDED = "address not recorded"
HIDDEN = "not shown to your role"
# The direction of a transfer between sites, seen from the report's site.
OUT, IN = "out", "in"
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
class OtherSite:
    """The other registered location of a transfer between sites: its registrant's name (the
    site's name when none is recorded), address and DEA number [CFR1304.22]."""

    name: str
    address: str
    dea_number: str


@dataclass(frozen=True)
class Form41:
    """A destruction's DEA Form 41 fields [DEA-Form41], as recorded that day."""

    destruction_id: int
    method: str
    place: str
    registrant_name: str
    registrant_address: str
    dea_number: str

    @property
    def registrant(self) -> str:
        address = self.registrant_address.replace("\n", ", ") or NOT_RECORDED
        return f"{self.registrant_name}, {address}, DEA {self.dea_number}"


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
    direction: str = ""  # OUT or IN for a transfer between sites
    other_site: OtherSite | None = None
    moved_to: str = ""  # a transfer within the site: the location moved to
    form_41: Form41 | None = None

    @property
    def kind_label(self) -> str:
        return str(self.kind.label)

    @property
    def manner(self) -> str:
        """The manner of a disposal, in words: whom it went to or came from (the other site,
        the supplier returned to), with its reason when it has one."""
        label = self.kind_label
        if self.other_site is not None:
            other = f"{self.other_site.name} (DEA {self.other_site.dea_number})"
            way = "out to" if self.direction == OUT else "in from"
            label = f"Transferred {way} {other}"
        elif self.moved_to:
            label = f"Transferred to {self.moved_to}"
        elif self.kind == EntryKind.RETURN:
            label = (
                f"Returned to {self.supplier} (DEA {self.supplier_dea_number}), "
                f"reference {self.invoice_number}"
            )
        return f"{label}: {self.reason}" if self.reason else label

    @property
    def is_disposal(self) -> bool:
        """Disposed of other than by administration: wasted, returned, destroyed, adjusted,
        corrected, or moved out to another registered location."""
        return self.kind in DISPOSALS or self.direction == OUT


@dataclass(frozen=True)
class Receipt:
    """One receipt of one lot on one invoice (its containers numbered on receipt), or of the
    containers of one lot moved in from another registered location on one day (`from_site`:
    the supplier's fields are that site's, and there is no invoice)."""

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
    from_site: bool = False

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
    counts: report_counts.CountsSection
    substance: str = SUBSTANCE
    schedule: str = SCHEDULE
    dea_drug_code: str = DEA_DRUG_CODE
    time_zone: str = "UTC"  # the site's: every date and time of the record is read in it


def check_range(start: dt.date, end: dt.date) -> None:
    """Refuse a range that ends before it starts."""
    if end < start:
        raise ClinicalValueError("end", f"the range ends on {end}, before it starts on {start}")


def _other_site(entry: LedgerEntry) -> OtherSite | None:
    registration = entry.registration
    if registration is None:
        return None
    return OtherSite(
        name=registration.registrant_name or registration.site.name,
        address=registration.address or NOT_RECORDED,
        dea_number=registration.dea_number,
    )


def _form_41(destruction: Destruction | None) -> Form41 | None:
    if destruction is None:
        return None
    return Form41(
        destruction_id=destruction.pk,
        method=destruction.method,
        place=destruction.place,
        registrant_name=destruction.registrant_name,
        registrant_address=destruction.registrant_address,
        dea_number=destruction.dea_number,
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
        "actor", "witness", "second_witness", "supplier", "reversed_by", "location",
        "registration__site", "destruction",
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
    *,
    site: Site,
    start: dt.date,
    end: dt.date,
    show_patients: bool,
    today: dt.date,
) -> DispensingRecord:
    """The dispensing record of `site` for the days `start` to `end` (inclusive, the site's
    days). `show_patients`: names and addresses, else a reference per patient (never loaded).
    `today`: the site's day late theft/loss filings and inventories are judged on.
    Refused: a range that ends before it starts."""
    check_range(start, end)
    registration = SiteRegistration.objects.filter(site=site).first()
    containers = _containers(site, start, end)
    infos = {c.pk: container_info(c, site) for c in containers}
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
        other = _other_site(entry)
        moved_to = (
            entry.location.name
            if entry.kind == EntryKind.TRANSFER and other is None and entry.location
            else ""
        )
        line = Line(
            seq=entry.seq, on=entry.occurred_on, kind=EntryKind(entry.kind),
            container=infos[entry.container_id], quantity_mg=entry.quantity_mg,
            quantity_ml=entry.quantity_ml, change_mg=entry.change_mg,
            change_ml=entry.change_ml, balance_mg=mg, balance_ml=ml, by=person(entry.actor),
            witnesses=", ".join(
                person(w) for w in (entry.witness, entry.second_witness) if w is not None
            ),
            patient=patient, patient_address=address,
            supplier=supplier.name if supplier else "",
            supplier_address=supplier.address if supplier else "",
            supplier_dea_number=supplier.dea_number if supplier else "",
            invoice_number=entry.invoice_number, reason=entry.reason,
            corrected_by=reversal.seq if reversal is not None else None,
            appointment_id=entry.appointment_id,
            direction=(OUT if entry.change_mg < 0 else IN) if other else "",
            other_site=other, moved_to=moved_to, form_41=_form_41(entry.destruction),
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
        disposals=tuple(line for line in lines if line.is_disposal),
        containers=ledgers,
        counts=report_counts.build_section(site=site, start=start, end=end, today=today),
        time_zone=site.timezone,
    )


def _receipts(lines: Iterable[Line]) -> tuple[Receipt, ...]:
    """The RECEIVE entries, one receipt per day, invoice, supplier and lot; and the containers
    moved in from another registered location, one receipt per day, site and lot."""
    groups: dict[tuple[object, ...], list[Line]] = defaultdict(list)
    for line in lines:
        if line.kind == EntryKind.RECEIVE:
            who = (line.invoice_number, line.supplier_dea_number)
        elif line.direction == IN and line.other_site is not None:
            who = ("", line.other_site.dea_number)
        else:
            continue
        groups[(line.on, *who, line.container.lot_number, line.container.product)].append(line)
    receipts = []
    for group in groups.values():
        first = group[0]
        other = first.other_site
        receipts.append(
            Receipt(
                on=first.on,
                product=first.container.product,
                lot_number=first.container.lot_number,
                expires_on=first.container.expires_on,
                container_numbers=tuple(sorted(line.container.number for line in group)),
                quantity_mg=sum((line.quantity_mg for line in group), ZERO),
                quantity_ml=sum((line.quantity_ml for line in group), ZERO),
                supplier=other.name if other else first.supplier,
                supplier_address=other.address if other else first.supplier_address,
                supplier_dea_number=other.dea_number if other else first.supplier_dea_number,
                invoice_number=first.invoice_number,
                by=first.by,
                from_site=other is not None,
            )
        )
    return tuple(receipts)


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
    *, user: User, site: Site, start: dt.date, end: dt.date, output: str, now: dt.datetime
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
        site=site,
        start=start,
        end=end,
        show_patients=user.has_perm("care.view_patient"),
        today=now.astimezone(site.tz).date(),
    )
    record_event(
        actor=user,
        action=AuditAction.EXPORT,
        category=DataCategory.LEDGER,
        site=site,
        reason=f"dispensing record {output}",
    )
    return record


# One CSV, one table: an inspector opens one file in a spreadsheet and filters it by its first
# column, `section` (a second file would be a zip or a second download, and two tables that no
# spreadsheet shows side by side). "ledger": per container an opening row, a row per movement
# and a closing row; "count": a row per container counted; "discrepancy", "theft or loss",
# "inventory": a row each (an inventory a row per container, then the next one due). Every
# field on every row it applies to; a blank cell is a field the row does not have. Dates and
# times are the site's, whose IANA zone is on every row (`time_zone`).
CSV_COLUMNS = (
    "section", "site", "site_address", "site_dea_number", "time_zone", "substance", "product",
    "ndc", "lot", "expires_on", "container", "row", "entry", "date", "kind", "manner",
    "quantity_mg", "quantity_ml", "change_mg", "change_ml", "balance_mg", "balance_ml", "patient",
    "patient_address", "by", "witnesses", "supplier", "supplier_address",
    "supplier_dea_number", "invoice", "corrected_by", "direction", "other_site",
    "other_site_address", "other_site_dea_number", "destruction_method", "destruction_place",
    "destruction_registrant", "count", "location", "time", "confirmed_by", "counted_mg",
    "counted_ml", "ledger_mg", "ledger_ml", "difference_mg", "difference_ml", "status",
    "resolution", "resolution_note", "resolved_by", "resolved_at", "theft_loss_report",
    "discovered_at", "occurred_on", "lost", "notice_due_on", "notice_sent_at", "notice_overdue",
    "form_106_due_on", "form_106_filed_at", "form_106_reference", "form_106_overdue", "opened",
    "count_method", "time_of_day",
)  # fmt: skip
LEDGER, COUNT, DISCREPANCY, THEFT_LOSS, INVENTORY = (
    "ledger", "count", "discrepancy", "theft or loss", "inventory",
)  # fmt: skip


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _about(info: ContainerInfo | None) -> dict[str, str]:
    if info is None:
        return {}
    return {
        "product": info.product.label, "ndc": info.product.ndc, "lot": info.lot_number,
        "expires_on": info.expires_on.isoformat(), "container": info.label,
    }  # fmt: skip


def _ledger_rows(record: DispensingRecord, head: dict[str, str]) -> Iterable[dict[str, str]]:
    head = head | {"section": LEDGER}
    for ledger in record.containers:
        about = head | _about(ledger.container)
        yield about | {
            "row": "opening balance", "date": record.start.isoformat(),
            "balance_mg": plain(ledger.opening_mg), "balance_ml": plain(ledger.opening_ml),
        }  # fmt: skip
        for line in ledger.lines:
            other, form = line.other_site, line.form_41
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
                "corrected_by": str(line.corrected_by or ""), "direction": line.direction,
                "other_site": other.name if other else "",
                "other_site_address": other.address if other else "",
                "other_site_dea_number": other.dea_number if other else "",
                "destruction_method": form.method if form else "",
                "destruction_place": form.place if form else "",
                "destruction_registrant": form.registrant if form else "",
            }  # fmt: skip
        yield about | {
            "row": "closing balance", "date": record.end.isoformat(),
            "balance_mg": plain(ledger.closing_mg), "balance_ml": plain(ledger.closing_ml),
        }  # fmt: skip


def _count_rows(
    section: report_counts.CountsSection, head: dict[str, str]
) -> Iterable[dict[str, str]]:
    for c in section.counts:
        about = head | {
            "section": COUNT, "row": f"count {c.count_id}", "count": str(c.count_id),
            "date": c.on.isoformat(), "location": c.location, "time": c.at, "by": c.counted_by,
            "confirmed_by": c.confirmed_by,
        }  # fmt: skip
        if not c.lines:
            yield about
        for line in c.lines:
            yield about | _about(line.container) | {
                "counted_mg": plain(line.counted_mg), "counted_ml": plain(line.counted_ml),
                "ledger_mg": plain(line.ledger_mg), "ledger_ml": plain(line.ledger_ml),
                "difference_mg": plain(line.difference_mg),
                "difference_ml": plain(line.difference_ml),
            }  # fmt: skip
    for d in section.discrepancies:
        yield head | _about(d.container) | {
            "section": DISCREPANCY, "row": f"discrepancy {d.discrepancy_id}",
            "count": str(d.count_id), "date": d.on.isoformat(), "location": d.location,
            "counted_mg": plain(d.counted_mg), "ledger_mg": plain(d.ledger_mg),
            "difference_mg": plain(d.difference_mg), "difference_ml": plain(d.difference_ml),
            "status": d.status, "resolution": d.resolution_detail,
            "resolution_note": d.note, "resolved_by": d.resolved_by,
            "resolved_at": d.resolved_at, "theft_loss_report": str(d.report_id or ""),
        }  # fmt: skip
    for r in section.theft_loss:
        yield head | {
            "section": THEFT_LOSS, "row": f"theft or loss report {r.report_id}",
            "theft_loss_report": str(r.report_id), "date": r.discovered_at[:10],
            "kind": r.kind, "manner": r.explanation, "discovered_at": r.discovered_at,
            "occurred_on": r.occurred_on.isoformat() if r.occurred_on else "", "lost": r.what,
            "notice_due_on": r.notice_due_on.isoformat(), "notice_sent_at": r.notice_sent_at,
            "notice_overdue": _yes(r.notice_overdue),
            "form_106_due_on": r.form_106_due_on.isoformat(),
            "form_106_filed_at": r.form_106_filed_at,
            "form_106_reference": r.form_106_reference,
            "form_106_overdue": _yes(r.form_106_overdue),
        }  # fmt: skip
    for i in section.inventories:
        about = head | {
            "section": INVENTORY, "row": f"inventory {i.inventory_id}", "kind": i.kind,
            "date": i.taken_on.isoformat(), "time_of_day": i.time_of_day, "by": i.taken_by,
        }  # fmt: skip
        if not i.lines:
            yield about
        for held in i.lines:
            yield about | _about(held.container) | {
                "opened": _yes(held.opened), "count_method": held.method,
                "quantity_mg": plain(held.quantity_mg), "quantity_ml": plain(held.quantity_ml),
            }  # fmt: skip
    due = section.next_inventory
    yield head | {"section": INVENTORY, "row": "next inventory due"} | (
        {
            "date": due.due_on.isoformat(), "kind": due.last_kind,
            "status": "overdue" if due.overdue else "due",
            "resolution_note": f"2 years after the {due.last_kind.lower()} of {due.last_on}",
        }
        if due is not None
        else {"status": "no inventory recorded"}
    )  # fmt: skip


def csv_rows(record: DispensingRecord) -> Iterable[dict[str, str]]:
    """The record as CSV rows (CSV_COLUMNS): the ledger section, then the counts."""
    substance = f"{record.substance} (Schedule {record.schedule}, DEA {record.dea_drug_code})"
    head = {
        "site": record.site_name, "site_address": record.site_address,
        "site_dea_number": record.dea_number or "not recorded", "substance": substance,
        "time_zone": record.time_zone,
    }  # fmt: skip
    yield from _ledger_rows(record, head)
    yield from _count_rows(record.counts, head)


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
