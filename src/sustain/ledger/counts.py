"""Counts and reconciliation, theft and loss, inventories (issue 12, item 4).

- **A count is blind and confirmed**: the counter enters what each container at a location
  holds, in mL or mg, without the ledger's balance being shown or returned first (the count
  sheet, `count_sheet`, lists containers only); a second person, another active nurse or
  prescriber of the site who is not the counter, re-enters their password to confirm it. Only
  then is each container compared with its ledger balance at the count's moment. A count
  covers every container holding stock at the location: one left out, or one that is not
  there, is refused. Counts are append-only records.
- **A difference opens a Discrepancy**, open until a clinic administrator closes it (not a
  prescriber: prescribers draw and count, and whoever closes a discrepancy should not be one
  of the people whose handling it questions). Resolutions: found (a later count of the
  location in which the container matches the ledger), a documentation error (the adjusting
  or correcting entry of that container, recorded since the count, whose change is exactly
  the difference), or a loss or theft, which `report_theft_loss` closes with its report.
- **Theft or significant loss** (21 CFR 1301.76(b), clinical-facts.md §8e): written notice to
  the DEA Field Division within 1 business day of discovery, and DEA Form 106 within 45 days
  of discovery [DEA-FR2023] [PharmHealthLaw-106]. Business days skip Saturdays, Sundays and US
  federal holidays (observed days included, from the `holidays` package).
- **Inventories** (21 CFR 1304.11, §8c): an initial inventory, then one within 2 years of the
  previous [LegalClarity-biennial] [MD-COMAR]; exact counts for unopened containers, an
  estimate allowed for an opened Schedule III container [CFR1971-304.17] (unconfirmed). A late
  biennial inventory is recorded (refusing it would help no one) and shown as late.

Every write is one transaction, audited (category ledger); a refusal is a ClinicalValueError
naming the rule and saves nothing.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import holidays
from django.db import transaction
from django.db.models import DecimalField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Round

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Membership, Site, User
from sustain.ledger.enums import (
    BusinessTime,
    CountMethod,
    EntryKind,
    InventoryKind,
    Resolution,
    Rule,
    TheftLossKind,
)
from sustain.ledger.models import (
    PUNCTURING,
    Container,
    ContainerBalance,
    Count,
    CountLine,
    Discrepancy,
    Inventory,
    InventoryLine,
    LedgerEntry,
    Location,
    TheftLossReport,
)
from sustain.ledger.services import MAX_ENTRY_MG, _day, _require, _require_member, _show, _text
from sustain_core.errors import ClinicalValueError, LedgerRefused, OutOfRange, WitnessNotAllowed

ZERO = Decimal(0)
# Counted amounts: mg to 0.01 mg, mL to 0.01 mL (what a counter reads off a syringe or vial;
# either converts exactly to the other at 10, 50 or 100 mg/mL). The record's precision.
PLACES = {"mg": 2, "ml": 2}
UNITS = ("mg", "ml")
# 21 CFR 1301.76(b) as amended by 88 FR 40707 [DEA-FR2023].
FORM_106_DAYS = 45
# 21 CFR 1304.11(c): at least every 2 years [MD-COMAR] [VetCompliance-biennial].
INVENTORY_YEARS = 2
# A county name and a police department "name and telephone number" (Form 106 items 6, 8).
COUNTY_LENGTH = 80
POLICE_LENGTH = 200
REFERENCE_LENGTH = 60
MAX_VALUE_USD = Decimal(1_000_000)  # a bound against typing errors


@dataclass(frozen=True)
class Amount:
    """What the counter found in one container, in mg or mL ("mg" or "ml")."""

    container_id: int
    amount: Decimal
    unit: str
    method: str = CountMethod.EXACT  # inventories only


@dataclass(frozen=True)
class Holding:
    """A container at a location at a moment, with what the ledger held (never shown to a
    counter before their count is in)."""

    container: Container
    held_mg: Decimal
    held_ml: Decimal
    opened: bool


# -- business days ------------------------------------------------------------------------------


@cache
def _us_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("US", years=year))


def is_business_day(day: dt.date) -> bool:
    """Monday to Friday and not a US federal holiday (nor the weekday one is observed on)."""
    return day.weekday() < 5 and day not in _us_holidays(day.year)


def next_business_day(day: dt.date) -> dt.date:
    """The first business day after `day`: the theft/loss notice's due day for a discovery
    on `day` ("within 1 business day of discovery" [DEA-FR2023]). A Friday gives the Monday,
    or the Tuesday when that Monday is a federal holiday."""
    day += dt.timedelta(days=1)
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    return day


def add_years(day: dt.date, years: int) -> dt.date:
    """The same date `years` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# -- what is at a location --------------------------------------------------------------------


def _held(at: dt.datetime, field: str) -> Subquery:
    total = (
        LedgerEntry.objects.filter(container=OuterRef("pk"), recorded_at__lte=at)
        .values("container")
        .annotate(total=Round(Sum(field), 4))  # SQLite sums in floating point
        .values("total")
    )
    return Subquery(total, output_field=DecimalField(max_digits=12, decimal_places=4))


def holdings(locations: Iterable[Location], at: dt.datetime) -> list[Holding]:
    """Every container that was at one of `locations` at `at` and held stock then, by lot and
    number, from the ledger's entries recorded up to `at` (where a receipt or transfer last put
    it, the sum of its changes, whether it had been opened or drawn from)."""
    location_ids = [location.pk for location in locations]
    placed = (
        LedgerEntry.objects.filter(
            container=OuterRef("pk"), location__isnull=False, recorded_at__lte=at
        )
        .order_by("-recorded_at", "-seq")
        .values("location_id")[:1]
    )
    punctured = LedgerEntry.objects.filter(
        container=OuterRef("pk"),
        kind__in=PUNCTURING,
        reversed_by__isnull=True,
        recorded_at__lte=at,
    )
    candidates = LedgerEntry.objects.filter(
        location_id__in=location_ids, recorded_at__lte=at
    ).values("container_id")
    rows = (
        Container.objects.filter(pk__in=candidates)
        .annotate(
            place=Subquery(placed),
            held_mg=_held(at, "change_mg"),
            held_ml=_held(at, "change_ml"),
            opened=Q(pk__in=punctured.values("container_id")),
        )
        .filter(place__in=location_ids, held_mg__gt=0)
        .select_related("lot__product", "location")
        .order_by("lot__product__strength_mg_per_ml", "lot__lot_number", "number")
    )
    return [
        Holding(
            container=row,
            held_mg=Decimal(row.held_mg),
            held_ml=Decimal(row.held_ml),
            opened=bool(row.opened),
        )
        for row in rows
    ]


def count_sheet(location: Location, at: dt.datetime) -> list[Container]:
    """The containers a count of `location` at `at` must cover, without their balances: what
    the counter sees before counting."""
    return [h.container for h in holdings([location], at)]


# -- amounts ----------------------------------------------------------------------------------


def _measured(
    value: object, unit: str, container: Container, field: str
) -> tuple[Decimal, Decimal]:
    """A counted amount as (mg, mL): a number at least 0 in mg or mL to 0.01, else refused
    (never rounded)."""
    if unit not in UNITS:
        raise ClinicalValueError(field, f"count in mg or in mL; got {unit!r}")
    label = "mL" if unit == "ml" else "mg"
    if not isinstance(value, Decimal) or not value.is_finite():
        raise OutOfRange(field, f"enter what container {container} holds in {label} as a number")
    if value < 0:
        raise OutOfRange(field, f"container {container} cannot hold less than 0 {label}")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -PLACES[unit]:
        raise OutOfRange(field, f"record the amount to 0.01 {label} at most; got {value} {label}")
    strength = container.lot.product.strength_mg_per_ml
    mg, ml = (value * strength, value) if unit == "ml" else (value, value / strength)
    if mg > MAX_ENTRY_MG:
        raise OutOfRange(field, f"a container holds at most {MAX_ENTRY_MG} mg here")
    return mg, ml


def _lines(
    amounts: Sequence[Amount], held: list[Holding], where: str
) -> list[tuple[Holding, Amount]]:
    """Pair each amount with its container's holding; refuse a container not there, one
    named twice, or one left out."""
    by_id = {h.container.pk: h for h in held}
    seen: set[int] = set()
    paired = []
    for amount in amounts:
        if amount.container_id in seen:
            raise LedgerRefused(
                "lines",
                f"container id {amount.container_id} is counted twice",
                rule=Rule.COUNT_INCOMPLETE,
            )
        seen.add(amount.container_id)
        holding = by_id.get(amount.container_id)
        if holding is None:
            raise LedgerRefused(
                "lines",
                f"container id {amount.container_id} is not among the containers at {where}; "
                "count only what is there",
                rule=Rule.COUNT_INCOMPLETE,
            )
        paired.append((holding, amount))
    missing = [str(h.container) for h in held if h.container.pk not in seen]
    if missing:
        raise LedgerRefused(
            "lines",
            f"a count covers every container at {where}; not counted: {', '.join(missing)}",
            rule=Rule.COUNT_INCOMPLETE,
        )
    return paired


def _check_confirmer(confirmer: User, password: str, *, site: Site, by: User) -> None:
    if confirmer.pk == by.pk:
        raise WitnessNotAllowed(
            "confirmed_by",
            "a second person confirms the count, not you",
            rule=Rule.WITNESS_IS_SELF,
        )
    if not confirmer.is_active:
        raise WitnessNotAllowed(
            "confirmed_by", f"{confirmer.get_username()}'s account is not active"
        )
    if not Membership.objects.filter(user=confirmer, site=site).exists():
        raise WitnessNotAllowed(
            "confirmed_by", f"{confirmer.get_username()} is not on the staff of {site.name}"
        )
    if not confirmer.has_perm("ledger.count_stock"):
        raise WitnessNotAllowed("confirmed_by", "the count is confirmed by a nurse or a prescriber")
    if not confirmer.check_password(password):
        raise WitnessNotAllowed(
            "confirmed_password",
            "the confirmer's password is not correct",
            rule=Rule.WITNESS_PASSWORD,
        )


def _audit(obj: Count | Discrepancy | TheftLossReport | Inventory, by: User, site: Site) -> None:
    record_event(
        actor=by, action=AuditAction.CREATE, category=DataCategory.LEDGER, site=site, obj=obj
    )


# -- counts -----------------------------------------------------------------------------------


@transaction.atomic
def submit_count(
    *,
    location: Location,
    amounts: Sequence[Amount],
    confirmed_by: User,
    confirmed_password: str,
    by: User,
    now: dt.datetime,
) -> Count:
    """Record a blind count of every container at `location` at `now`, confirmed by a second
    person, then compare each container with the ledger's balance at `now` and open a
    Discrepancy for each difference. Refused: a role that does not count, a site the counter
    is not on, a confirmer who is the counter, inactive, of another site, without a clinical
    role or with a wrong password, a container left out, named twice or not at the location,
    an amount that is not a number of mg or mL at least 0 to 0.01."""
    _require(by, "ledger.count_stock", "a nurse or a prescriber")
    site = location.site
    _require_member(by, site)
    _check_confirmer(confirmed_by, confirmed_password, site=site, by=by)
    # Lock the balances of the location's containers first (PostgreSQL; SQLite serializes
    # writers already): a draw from one of them waits until the count is in, so the balance
    # compared is the one at the count. Balance rows in id order, then the audit head: the
    # ledger's lock order.
    list(
        ContainerBalance.objects.select_for_update(of=("self",))
        .filter(container__location=location)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    held = holdings([location], now)
    paired = _lines(amounts, held, location.name)
    measured = [
        (holding, *_measured(a.amount, a.unit, holding.container, "lines")) for holding, a in paired
    ]
    count = Count.objects.create(
        site=site, location=location, counted_at=now, occurred_on=_day(site, now), counted_by=by,
        confirmed_by=confirmed_by,
    )  # fmt: skip
    for holding, mg, ml in measured:
        line = CountLine.objects.create(
            count=count, container=holding.container, counted_mg=mg, counted_ml=ml,
            expected_mg=holding.held_mg, expected_ml=holding.held_ml,
        )  # fmt: skip
        if mg != holding.held_mg:
            Discrepancy.objects.create(
                line=line, count=count, container=holding.container, site=site,
                expected_mg=holding.held_mg, counted_mg=mg, difference_mg=mg - holding.held_mg,
                difference_ml=ml - holding.held_ml,
            )  # fmt: skip
    _audit(count, by, site)
    return count


def counted_today(site: Site, day: dt.date) -> dict[int, list[Count]]:
    """Each location of the site (by id) with its counts on `day`, newest first."""
    counts: dict[int, list[Count]] = {loc.pk: [] for loc in site.storage_locations.all()}
    for count in (
        Count.objects.filter(site=site, occurred_on=day)
        .select_related("counted_by", "confirmed_by")
        .order_by("-counted_at")
    ):
        counts.setdefault(count.location_id, []).append(count)
    return counts


# -- discrepancies ------------------------------------------------------------------------------


def open_discrepancies(sites: Iterable[Site]) -> QuerySet[Discrepancy]:
    return Discrepancy.objects.filter(site__in=list(sites), resolution="").select_related(
        "count__location", "container__lot__product", "site"
    )


def _close(discrepancy: Discrepancy, by: User, now: dt.datetime, **fields: object) -> None:
    closed = Discrepancy.objects.filter(pk=discrepancy.pk, resolution="").update(
        resolved_by=by, resolved_at=now, **fields
    )
    if not closed:  # closed by someone else meanwhile
        raise ClinicalValueError("discrepancy", "this discrepancy is already closed")


def _check_recount(discrepancy: Discrepancy, recount: Count | None) -> Count:
    if recount is None:
        raise ClinicalValueError("recount", "name the recount in which the container matched")
    count = discrepancy.count
    if recount.location_id != count.location_id or recount.counted_at <= count.counted_at:
        raise ClinicalValueError("recount", "the recount is a later count of the same location")
    line = CountLine.objects.filter(count=recount, container=discrepancy.container).first()
    if line is None or line.counted_mg != line.expected_mg:
        raise ClinicalValueError(
            "recount",
            f"container {discrepancy.container} did not match the ledger in that recount",
        )
    return recount


def _check_correction(discrepancy: Discrepancy, entry: LedgerEntry | None) -> LedgerEntry:
    if entry is None:
        raise ClinicalValueError("correcting_entry", "name the entry that corrects the record")
    if entry.kind not in (EntryKind.ADJUST, EntryKind.CORRECTION):
        raise ClinicalValueError(
            "correcting_entry", f"entry {entry.seq} is not an adjustment or a correction"
        )
    if entry.container_id != discrepancy.container_id:
        raise ClinicalValueError(
            "correcting_entry",
            f"entry {entry.seq} is about another container than {discrepancy.container}",
        )
    if entry.recorded_at < discrepancy.count.counted_at:
        raise ClinicalValueError(
            "correcting_entry",
            f"entry {entry.seq} was recorded before the count, so the count already included it",
        )
    if entry.change_mg != discrepancy.difference_mg:
        raise ClinicalValueError(
            "correcting_entry",
            f"entry {entry.seq} changes the balance by {_show(entry.change_mg)} mg; the "
            f"count differed by {_show(discrepancy.difference_mg)} mg",
        )
    return entry


@transaction.atomic
def resolve_discrepancy(
    *,
    discrepancy: Discrepancy,
    resolution: str,
    note: str,
    by: User,
    now: dt.datetime,
    recount: Count | None = None,
    correcting_entry: LedgerEntry | None = None,
) -> Discrepancy:
    """Close an open discrepancy as found or as a documentation error, with a note. Found
    names a count of the same location after the discrepancy's count in which the container
    matched the ledger; a documentation error names the adjusting or correcting entry of the
    container, recorded since the count, whose change is the difference. Refused: anyone but
    a clinic administrator of the site, a closed discrepancy, a loss or theft (the theft/loss
    report closes those), no note, or a recount or entry that does not show it."""
    _require(by, "ledger.resolve_discrepancy", "a clinic administrator")
    discrepancy = Discrepancy.objects.select_related("count", "container", "site").get(
        pk=discrepancy.pk
    )
    _require_member(by, discrepancy.site)
    if not discrepancy.is_open:
        raise ClinicalValueError("discrepancy", "this discrepancy is already closed")
    note = _text(note, "note", 300, "what was found")
    fields: dict[str, object] = {"resolution": resolution, "resolution_note": note}
    if resolution == Resolution.FOUND:
        fields["recount"] = _check_recount(discrepancy, recount)
    elif resolution == Resolution.DOCUMENTATION_ERROR:
        fields["correcting_entry"] = _check_correction(discrepancy, correcting_entry)
    elif resolution == Resolution.LOSS_THEFT:
        raise ClinicalValueError(
            "resolution", "report the loss or theft; the report closes the discrepancy"
        )
    else:
        raise ClinicalValueError("resolution", "choose found or documentation error")
    _close(discrepancy, by, now, **fields)
    discrepancy.refresh_from_db()
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.LEDGER,
        site=discrepancy.site, obj=discrepancy,
    )  # fmt: skip
    return discrepancy


# -- theft and loss ---------------------------------------------------------------------------


def _check_shortages(rows: list[Discrepancy], site: Site) -> None:
    for row in rows:
        if row.site_id != site.pk:
            raise ClinicalValueError("discrepancies", "a discrepancy is at another site")
        if not row.is_open:
            raise ClinicalValueError(
                "discrepancies", f"the discrepancy of container {row.container} is closed"
            )
        if row.difference_mg > 0:
            raise ClinicalValueError(
                "discrepancies",
                f"container {row.container} held more than the ledger; that is not a loss",
            )


def _police(notified: bool, department: str, report_number: str) -> tuple[str, str]:
    department, report_number = department.strip(), report_number.strip()
    if notified:
        department = _text(
            department, "police_department", POLICE_LENGTH,
            "the police department's name and telephone number",
        )  # fmt: skip
    elif department:
        raise ClinicalValueError("police_department", "the police were not notified")
    if len(report_number) > REFERENCE_LENGTH:
        raise ClinicalValueError("police_report_number", "at most 60 characters")
    return department, report_number


def _check_value(value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise OutOfRange("purchase_value_usd", "enter the purchase value in dollars")
    if not ZERO <= value <= MAX_VALUE_USD or value != round(value, 2):
        raise OutOfRange(
            "purchase_value_usd",
            f"the purchase value is dollars and cents, from 0 to {MAX_VALUE_USD}",
        )


@transaction.atomic
def report_theft_loss(
    *,
    site: Site,
    discrepancies: Sequence[Discrepancy],
    kind: str,
    explanation: str,
    discovered_at: dt.datetime,
    occurred_on: dt.date | None,
    county: str,
    police_notified: bool,
    police_department: str,
    police_report_number: str,
    purchase_value_usd: Decimal,
    by: User,
    now: dt.datetime,
) -> TheftLossReport:
    """Report a theft or loss of the containers short in `discrepancies` and close them with
    it. The notice to the DEA Field Division is due the next business day after the day of
    discovery, Form 106 45 days after it [DEA-FR2023]. Refused: anyone but a clinic
    administrator of the site, no discrepancy, one of another site, closed already or not a
    shortage, a type Form 106 does not list, "other" without an explanation, police notified
    without the department named, a discovery after now or a theft after its discovery, a
    negative or absurd purchase value."""
    _require(by, "ledger.report_theft_loss", "a clinic administrator")
    _require_member(by, site)
    if not discrepancies:
        raise ClinicalValueError(
            "discrepancies", "name the discrepancies the loss or theft explains"
        )
    rows = list(
        Discrepancy.objects.select_for_update()
        .filter(pk__in=[d.pk for d in discrepancies])
        .select_related("container")
        .order_by("pk")
    )
    _check_shortages(rows, site)
    if kind not in TheftLossKind.values:
        raise ClinicalValueError("kind", "choose the type of theft or loss")
    explanation = explanation.strip()
    if kind == TheftLossKind.OTHER and not explanation:
        raise ClinicalValueError("explanation", "explain the theft or loss")
    if len(explanation) > 2000:
        raise ClinicalValueError("explanation", "the explanation is at most 2000 characters")
    if discovered_at > now:
        raise ClinicalValueError("discovered_at", "the discovery cannot be after now")
    discovered_on = _day(site, discovered_at)
    if occurred_on is not None and occurred_on > discovered_on:
        raise ClinicalValueError(
            "occurred_on", "the theft or loss cannot be after the day it was discovered"
        )
    county = _text(county, "county", COUNTY_LENGTH, "the county the site is in")
    police_department, police_report_number = _police(
        police_notified, police_department, police_report_number
    )
    _check_value(purchase_value_usd)
    # Form 106 item 9: the thefts and losses of the 24 months before this one.
    earlier = TheftLossReport.objects.filter(
        site=site,
        discovered_at__gte=discovered_at - dt.timedelta(days=730),
        discovered_at__lte=discovered_at,
    ).count()
    report = TheftLossReport.objects.create(
        site=site, kind=kind, explanation=explanation, discovered_at=discovered_at,
        occurred_on=occurred_on, county=county, police_notified=police_notified,
        police_department=police_department, police_report_number=police_report_number,
        purchase_value_usd=purchase_value_usd, earlier_reports_24_months=earlier,
        notice_due_on=next_business_day(discovered_on),
        form_106_due_on=discovered_on + dt.timedelta(days=FORM_106_DAYS), recorded_by=by,
        recorded_at=now,
    )  # fmt: skip
    for row in rows:
        _close(row, by, now, resolution=Resolution.LOSS_THEFT, report=report,
               resolution_note=f"Theft or loss report {report.pk}")  # fmt: skip
    _audit(report, by, site)
    return report


def _check_filed_at(report: TheftLossReport, at: dt.datetime, now: dt.datetime, field: str) -> None:
    if at > now:
        raise ClinicalValueError(field, "a filing cannot be dated after now")
    if at < report.discovered_at:
        raise ClinicalValueError(field, "a filing cannot be dated before the discovery")


@transaction.atomic
def record_notice(
    *, report: TheftLossReport, sent_at: dt.datetime, by: User, now: dt.datetime
) -> TheftLossReport:
    """Record when the written notice went to the DEA Field Division (once). Refused: anyone
    but a clinic administrator of the site, a time after now or before the discovery, a
    notice already recorded."""
    _require(by, "ledger.report_theft_loss", "a clinic administrator")
    _require_member(by, report.site)
    _check_filed_at(report, sent_at, now, "sent_at")
    if not TheftLossReport.objects.filter(pk=report.pk, notice_sent_at__isnull=True).update(
        notice_sent_at=sent_at, notice_sent_by=by
    ):
        raise ClinicalValueError("sent_at", "the notice is already recorded")
    report.refresh_from_db()
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.LEDGER, site=report.site,
        obj=report,
    )  # fmt: skip
    return report


@transaction.atomic
def record_form_106(
    *, report: TheftLossReport, filed_at: dt.datetime, reference: str, by: User, now: dt.datetime
) -> TheftLossReport:
    """Record when DEA Form 106 was filed, with its confirmation reference (once). Refused as
    record_notice, and without a reference."""
    _require(by, "ledger.report_theft_loss", "a clinic administrator")
    _require_member(by, report.site)
    _check_filed_at(report, filed_at, now, "filed_at")
    reference = _text(reference, "reference", REFERENCE_LENGTH, "the Form 106 confirmation")
    if not TheftLossReport.objects.filter(pk=report.pk, form_106_filed_at__isnull=True).update(
        form_106_filed_at=filed_at, form_106_filed_by=by, form_106_reference=reference
    ):
        raise ClinicalValueError("filed_at", "Form 106 is already recorded as filed")
    report.refresh_from_db()
    record_event(
        actor=by, action=AuditAction.UPDATE, category=DataCategory.LEDGER, site=report.site,
        obj=report,
    )  # fmt: skip
    return report


# -- inventories --------------------------------------------------------------------------------


def inventory_moment(site: Site, taken_on: dt.date, time_of_day: str) -> dt.datetime:
    """The moment an inventory describes: the start of the day (opening of business) or its
    last instant (close)."""
    start = dt.datetime.combine(taken_on, dt.time.min, tzinfo=site.tz)
    if time_of_day == BusinessTime.OPENING:
        return start
    return dt.datetime.combine(
        taken_on + dt.timedelta(days=1), dt.time.min, tzinfo=site.tz
    ) - dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class InventoryStatus:
    last: Inventory | None
    due_on: dt.date | None  # None: no initial inventory yet
    overdue: bool


def inventory_status(site: Site, today: dt.date) -> InventoryStatus:
    """The site's latest inventory and when the next is due (2 years after it)."""
    last = Inventory.objects.filter(site=site).order_by("-taken_on", "-pk").first()
    if last is None:
        return InventoryStatus(None, None, False)
    due = add_years(last.taken_on, INVENTORY_YEARS)
    return InventoryStatus(last, due, today > due)


@transaction.atomic
def record_inventory(
    *,
    site: Site,
    kind: str,
    taken_on: dt.date,
    time_of_day: str,
    taken_by: User,
    amounts: Sequence[Amount],
    by: User,
    now: dt.datetime,
) -> Inventory:
    """Record an inventory of every container holding stock at the site at the opening or
    close of business on `taken_on`: exact for an unopened container, exact or estimated for
    an opened one [CFR1971-304.17] (unconfirmed). A site holding nothing records a zero
    inventory. Refused: anyone but a clinic administrator of the site, a day after today, a
    second initial inventory, a biennial one with no inventory before it or not after the
    last, a taker who is not active staff of the site, an estimate for an unopened container,
    a container left out, named twice or not at the site."""
    _require(by, "ledger.record_inventory", "a clinic administrator")
    _require_member(by, site)
    if kind not in InventoryKind.values:
        raise ClinicalValueError("kind", "choose an initial or a biennial inventory")
    if time_of_day not in BusinessTime.values:
        raise ClinicalValueError("time_of_day", "choose the opening or the close of business")
    today = _day(site, now)
    if taken_on > today:
        raise ClinicalValueError("taken_on", f"the inventory is dated {taken_on}, after today")
    if not taken_by.is_active or not Membership.objects.filter(user=taken_by, site=site).exists():
        raise ClinicalValueError(
            "taken_by", f"{taken_by.get_username()} is not active staff of {site.name}"
        )
    # One inventory at a time per site (the site row), so two initial ones cannot both land.
    Site.objects.select_for_update().get(pk=site.pk)
    last = Inventory.objects.filter(site=site).order_by("-taken_on", "-pk").first()
    if kind == InventoryKind.INITIAL and last is not None:
        raise ClinicalValueError(
            "kind", f"{site.name} has an inventory already; the next one is biennial"
        )
    if kind == InventoryKind.BIENNIAL:
        if last is None:
            raise ClinicalValueError("kind", "take the initial inventory first")
        if taken_on <= last.taken_on:
            raise ClinicalValueError(
                "taken_on",
                f"the last inventory was taken on {last.taken_on}; date this one after it",
            )
    held = holdings(site.storage_locations.all(), inventory_moment(site, taken_on, time_of_day))
    paired = _lines(amounts, held, site.name)
    measured = []
    for holding, amount in paired:
        if amount.method not in CountMethod.values:
            raise ClinicalValueError("lines", "each count is exact or estimated")
        if amount.method == CountMethod.ESTIMATED and not holding.opened:
            raise ClinicalValueError(
                "lines",
                f"container {holding.container} is unopened: an unopened container is counted "
                "exactly (21 CFR 1304.11)",
            )
        measured.append(
            (
                holding,
                amount.method,
                *_measured(amount.amount, amount.unit, holding.container, "lines"),
            )
        )
    inventory = Inventory.objects.create(
        site=site, kind=kind, taken_on=taken_on, time_of_day=time_of_day, taken_by=taken_by,
        recorded_by=by, recorded_at=now,
    )  # fmt: skip
    for holding, method, mg, ml in measured:
        InventoryLine.objects.create(
            inventory=inventory, container=holding.container, opened=holding.opened,
            method=method, quantity_mg=mg, quantity_ml=ml,
        )  # fmt: skip
    _audit(inventory, by, site)
    return inventory


# -- the end of the day -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductBalance:
    product: str
    mg: Decimal
    ml: Decimal
    containers: int


@dataclass(frozen=True)
class EndOfDay:
    site: Site
    day: dt.date
    balances: list[ProductBalance]
    open_containers: list[tuple[Container, Decimal, Decimal]]
    discrepancies: list[Discrepancy]
    counts: list[tuple[Location, list[Count]]]

    @property
    def all_counted(self) -> bool:
        return all(counts for _, counts in self.counts)


def end_of_day(site: Site, day: dt.date) -> EndOfDay:
    """The site's balance per product (mg and mL), every open container (punctured and not
    empty) with what it holds, every unresolved discrepancy, and the day's counts per
    location. The caller decides who may see the balances (a counter only once counted)."""
    rows = (
        ContainerBalance.objects.filter(container__location__site=site, balance_mg__gt=0)
        .select_related("container__lot__product", "container__location")
        .order_by("container__lot__product__strength_mg_per_ml", "container__lot__lot_number",
                  "container__number")
    )  # fmt: skip
    punctured = set(
        LedgerEntry.objects.filter(
            site=site, kind__in=PUNCTURING, reversed_by__isnull=True
        ).values_list("container_id", flat=True)
    )
    totals: dict[str, list[Decimal]] = {}
    open_containers = []
    for row in rows:
        product = str(row.container.lot.product)
        mg, ml, n = totals.setdefault(product, [ZERO, ZERO, ZERO])
        totals[product] = [mg + row.balance_mg, ml + row.balance_ml, n + 1]
        if row.container_id in punctured:
            open_containers.append((row.container, row.balance_mg, row.balance_ml))
    balances = [ProductBalance(product, mg, ml, int(n)) for product, (mg, ml, n) in totals.items()]
    locations = {loc.pk: loc for loc in site.storage_locations.order_by("name")}
    today = counted_today(site, day)
    return EndOfDay(
        site=site,
        day=day,
        balances=balances,
        open_containers=open_containers,
        discrepancies=list(open_discrepancies([site]).order_by("count__counted_at", "pk")),
        counts=[(loc, today.get(pk, [])) for pk, loc in locations.items()],
    )
