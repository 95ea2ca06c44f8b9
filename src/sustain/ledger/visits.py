"""What the ledger holds for a visit, and what the chair needs from it: the one reckoning of
a visit's draws (drawn = administered + wasted per container, or the visit's ledger is open:
issue 12, item 3), the visits of a day whose ledger is open (the day board), the containers
a nurse may draw from and the staff who may witness a waste.

Entries reversed by a correction do not count (a correction is never counted itself)."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet, Sum

from sustain.accounts.access import users_with_perm
from sustain.accounts.models import Site, User
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import VISIT_KINDS, Container, LedgerEntry
from sustain.scheduling.models import Appointment

ZERO = Decimal(0)


@dataclass
class VisitLine:
    """One container's part of a visit: mg drawn, given and wasted, and who witnessed."""

    container: Container
    drawn_mg: Decimal = ZERO
    administered_mg: Decimal = ZERO
    wasted_mg: Decimal = ZERO
    witnesses: list[str] = field(default_factory=list)

    @property
    def open_mg(self) -> Decimal:
        """Drawn and neither given nor wasted (never negative: the services refuse more)."""
        return self.drawn_mg - self.administered_mg - self.wasted_mg


@dataclass(frozen=True)
class VisitLedger:
    lines: list[VisitLine]

    @property
    def open_mg(self) -> Decimal:
        return sum((line.open_mg for line in self.lines), ZERO)

    @property
    def closed(self) -> bool:
        """Every mg drawn for the visit is given or wasted (a visit with no draw is closed)."""
        return all(line.open_mg == 0 for line in self.lines)


def _counted(entries: QuerySet[LedgerEntry]) -> QuerySet[LedgerEntry]:
    return entries.filter(kind__in=VISIT_KINDS, reversed_by__isnull=True)


def visit_ledger(appointment: Appointment) -> VisitLedger:
    """The visit's draws, administrations and wastes per container, in the order drawn (one
    query)."""
    lines: dict[int, VisitLine] = {}
    entries = _counted(LedgerEntry.objects.filter(appointment=appointment)).select_related(
        "container__lot__product", "witness"
    )
    for entry in entries.order_by("seq"):
        line = lines.setdefault(entry.container_id, VisitLine(entry.container))
        if entry.kind == EntryKind.DRAW:
            line.drawn_mg += entry.quantity_mg
        elif entry.kind == EntryKind.ADMINISTER:
            line.administered_mg += entry.quantity_mg
        else:
            line.wasted_mg += entry.quantity_mg
            if entry.witness is not None:
                line.witnesses.append(entry.witness.get_username())
    return VisitLedger(list(lines.values()))


@dataclass(frozen=True)
class OpenVisit:
    open_mg: Decimal  # drawn and neither given nor wasted
    administered_mg: Decimal

    @property
    def note(self) -> str:
        """The day board's words: "ledger open: 12.5 mg to waste" once the infusion's dose is
        recorded as given, "ledger open: 35 mg drawn, not yet given" before."""
        mg = format(self.open_mg.normalize(), "f")
        if self.administered_mg:
            return f"ledger open: {mg} mg to waste"
        return f"ledger open: {mg} mg drawn, not yet given"


def open_visits(site: Site, day: dt.date) -> dict[int, OpenVisit]:
    """The site's visits on `day` (its calendar day) whose ledger is open, by appointment id
    (one query)."""
    tz = site.tz
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    rows = (
        _counted(
            LedgerEntry.objects.filter(
                appointment__site=site,
                appointment__starts_at__gte=start,
                appointment__starts_at__lt=end,
            )
        )
        .values_list("appointment_id", "kind")
        .annotate(mg=Sum("quantity_mg"))
        .order_by()
    )
    totals: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for appointment_id, kind, mg in rows:
        totals[appointment_id][kind] += mg
    found = {
        visit: OpenVisit(
            open_mg=kinds[EntryKind.DRAW] - kinds[EntryKind.ADMINISTER] - kinds[EntryKind.WASTE],
            administered_mg=kinds[EntryKind.ADMINISTER],
        )
        for visit, kinds in totals.items()
    }
    return {visit: state for visit, state in found.items() if state.open_mg != 0}


def board_notes(site: Site, day: dt.date) -> dict[int, str]:
    """The day board's note for each visit of the day whose ledger is open."""
    return {visit: state.note for visit, state in open_visits(site, day).items()}


def usable_containers(site: Site, day: dt.date) -> QuerySet[Container]:
    """The site's containers a nurse may draw from on `day`: not empty, lot not expired."""
    return (
        Container.objects.filter(
            location__site=site, balance__balance_mg__gt=0, lot__expires_on__gte=day
        )
        .select_related("lot__product", "location", "balance")
        .order_by("lot__expires_on", "lot__lot_number", "number")
    )


def container_label(container: Container) -> str:
    """ "lot K123 #2 · 50 mg/mL · 450 mg left · expires 2027-06-30 · Safe" (with its balance
    and location selected)."""
    left = format(container.balance.balance_mg.normalize(), "f")
    return (
        f"lot {container.lot.lot_number} #{container.number} · "
        f"{container.lot.product.strength_mg_per_ml} mg/mL · {left} mg left · "
        f"expires {container.lot.expires_on:%Y-%m-%d} · {container.location.name}"
    )


def witness_choices(site: Site, by: User) -> QuerySet[User]:
    """Who may witness `by`'s waste at the site: its other active clinical staff (the waste
    service still refuses the one who drew and a wrong password)."""
    return users_with_perm("ledger.witness_waste", site).exclude(pk=by.pk).order_by("username")
