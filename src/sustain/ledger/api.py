"""The controlled-substance ledger's API (mounted by sustain.api under /api/v1/ledger/...):
receive stock, draw for a visit, waste with a witness, transfer, adjust, and read a site's
balance and a container (issue 12, item 8). Each write calls the one service the pages call,
at the time the request arrives. Ids only in URLs and queries, never patient data.

Every write needs an Idempotency-Key header (sustain.accounts.idempotency): the same key with
the same request replays the first answer, with another request it answers 422, so a retry
after a lost answer never draws or wastes twice. Answers, in the one error shape
{"error": {"code": ..., "message": ...}}: 409 a write that breaks a ledger rule, its code
naming the rule (DESCRIPTION); 400 a value refused on its own (blank text, an amount not
positive or finer than 0.01 mg, a count out of bounds; the code names the field), or a
missing Idempotency-Key; 422 a request that does not match its schema (an amount sent as a
JSON number rather than a decimal string); 403 a role that may not do it; 404 another site's
object. A refusal saves nothing.
"""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from pydantic import BeforeValidator, PlainSerializer, SecretStr, WithJsonSchema

from sustain.accounts.access import get_site_for_user, require_permission
from sustain.accounts.enums import DataCategory
from sustain.accounts.idempotency import once
from sustain.accounts.models import User
from sustain.ledger import queries, services
from sustain.ledger.enums import Rule
from sustain.ledger.models import Container, LedgerEntry, Product, Supplier
from sustain.scheduling import queries as scheduling_queries
from sustain.scheduling.api import ErrorOut
from sustain_core.errors import ClinicalValueError, WitnessNotAllowed
from sustain_core.numbers import plain

DESCRIPTION = (
    "The controlled-substance ledger. A write that breaks one of the ledger's rules answers "
    "409 and saves nothing; the error's code names the rule:\n\n"
    + "\n".join(f"- `{rule.value}`: {rule.label}" for rule in Rule)
    + "\n\nEvery write needs an Idempotency-Key header. Amounts are decimal strings, in and "
    'out ("35.5"), never JSON numbers, which can lose digits.'
)
router = Router(tags=["ledger"])

ERRORS: dict[int, Any] = dict.fromkeys((400, 403, 404, 409, 422), ErrorOut)
RECEIVE = "ledger.receive_stock"
DRAW = "ledger.draw_stock"
WASTE = "ledger.waste_stock"
TRANSFER = "ledger.transfer_stock"
ADJUST = "ledger.adjust_stock"

# Numbers go out as text written by the one formatter (sustain_core.numbers.plain): exact,
# never in scientific notation ("50", not "5E+1").
Amount = Annotated[Decimal, PlainSerializer(plain, return_type=str)]


def _decimal_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError('send the amount as a decimal string, e.g. "35.5"')
    return value


# An amount comes in as a string: a JSON number is read as a float first, which would round
# 1.00000000000000000001 to 1 silently.
DecimalText = Annotated[
    Decimal,
    BeforeValidator(_decimal_text),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["35.5"]}),
]


# --- What the ledger shows -------------------------------------------------------------------


class ContainerOut(Schema):
    id: int
    lot_id: int
    lot_number: str
    number: int = Field(description="The container's number within its lot, given on receipt")
    expires_on: dt.date = Field(description="The lot is usable through this day")
    product_id: int
    strength_mg_per_ml: int
    container_volume_ml: Amount
    location_id: int
    location: str
    site_id: int
    balance_mg: Amount
    balance_ml: Amount


class EntryOut(Schema):
    id: int
    seq: int = Field(description="Its place in the ledger's hash chain")
    kind: str
    occurred_on: dt.date = Field(description="The actual date, in the site's zone")
    recorded_at: dt.datetime
    container_id: int
    location_id: int | None = Field(description="Where a receipt or transfer put the container")
    visit_id: int | None
    quantity_mg: Amount = Field(description="The amount the entry is about")
    quantity_ml: Amount
    change_mg: Amount = Field(description="Its signed effect on the container's balance")
    change_ml: Amount
    by: str
    witness: str
    reason: str
    supplier_id: int | None
    invoice_number: str
    needs_review: bool
    reverses_id: int | None


class ContainerDetailOut(ContainerOut):
    entries: list[EntryOut]


class WrittenOut(Schema):
    """The entry written and the container as it is after it."""

    entry: EntryOut
    container: ContainerOut


class ReceiptOut(Schema):
    containers: list[ContainerOut] = Field(description="The containers received, numbered")


class HeldOut(Schema):
    mg: Amount
    ml: Amount
    containers: int


class LotHeldOut(HeldOut):
    lot_id: int
    lot_number: str
    product_id: int
    strength_mg_per_ml: int
    expires_on: dt.date


class LocationHeldOut(HeldOut):
    location_id: int
    location: str


class BalanceOut(Schema):
    site_id: int
    containers: list[ContainerOut] = Field(description="Each container holding any stock")
    lots: list[LotHeldOut]
    locations: list[LocationHeldOut]
    total: HeldOut


def _container(container: Container) -> ContainerOut:
    lot, balance = container.lot, container.balance
    return ContainerOut(
        id=container.pk, lot_id=lot.pk, lot_number=lot.lot_number, number=container.number,
        expires_on=lot.expires_on, product_id=lot.product_id,
        strength_mg_per_ml=lot.product.strength_mg_per_ml,
        container_volume_ml=lot.product.container_volume_ml, location_id=container.location_id,
        location=container.location.name, site_id=container.location.site_id,
        balance_mg=balance.balance_mg, balance_ml=balance.balance_ml,
    )  # fmt: skip


def _entry(entry: LedgerEntry, by: str, witness: str) -> EntryOut:
    return EntryOut(
        id=entry.pk, seq=entry.seq, kind=entry.kind, occurred_on=entry.occurred_on,
        recorded_at=entry.recorded_at, container_id=entry.container_id,
        location_id=entry.location_id, visit_id=entry.appointment_id,
        quantity_mg=entry.quantity_mg, quantity_ml=entry.quantity_ml,
        change_mg=entry.change_mg, change_ml=entry.change_ml, by=by, witness=witness,
        reason=entry.reason, supplier_id=entry.supplier_id,
        invoice_number=entry.invoice_number, needs_review=entry.needs_review,
        reverses_id=entry.reverses_id,
    )  # fmt: skip


@router.get("/ledger/balance", response={200: BalanceOut, 403: ErrorOut, 404: ErrorOut})
def ledger_balance(request: HttpRequest, site: int) -> BalanceOut:
    """The site's balance in mg and mL: each container holding any stock (an emptied one is
    left out), and the totals per lot, per location and for the site."""
    user = _user(request)
    require_permission(user, queries.VIEW, category=DataCategory.LEDGER)
    held = queries.site_balance(get_site_for_user(user, site))
    return BalanceOut(
        site_id=site,
        containers=[_container(c) for c in held.containers],
        lots=[
            LotHeldOut(
                lot_id=lot.pk,
                lot_number=lot.lot_number,
                product_id=lot.product_id,
                strength_mg_per_ml=lot.product.strength_mg_per_ml,
                expires_on=lot.expires_on,
                mg=h.mg,
                ml=h.ml,
                containers=h.containers,
            )
            for lot, h in held.lots
        ],
        locations=[
            LocationHeldOut(
                location_id=location.pk,
                location=location.name,
                mg=h.mg,
                ml=h.ml,
                containers=h.containers,
            )
            for location, h in held.locations
        ],
        total=HeldOut(mg=held.total.mg, ml=held.total.ml, containers=held.total.containers),
    )


@router.get(
    "/ledger/containers/{container_id}",
    response={200: ContainerDetailOut, 403: ErrorOut, 404: ErrorOut},
)
def ledger_container(request: HttpRequest, container_id: int) -> ContainerDetailOut:
    """A container, its balance and every entry about it, oldest first (a visit by id only)."""
    container = queries.get_container_for_user(_user(request), container_id, queries.VIEW)
    shown = _container(container)
    entries = [
        _entry(e, e.actor.get_username(), e.witness.get_username() if e.witness else "")
        for e in queries.entries(container)
    ]
    return ContainerDetailOut(**shown.model_dump(), entries=entries)


# --- The writes ------------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]  # StaffSession: a staff User
    return user


def _once(
    request: HttpRequest,
    user: User,
    now: dt.datetime,
    answer: Callable[[], tuple[int, dict[str, Any]]],
    *,
    body: bytes | None = None,
) -> Status[Any]:
    """Run a write once per Idempotency-Key (required here: every ledger write is one a
    retry must not repeat)."""
    if not request.headers.get("Idempotency-Key"):
        raise ClinicalValueError(
            "Idempotency-Key", "send an Idempotency-Key header with every ledger write"
        )
    return Status(*once(request, user, answer, now=now, body_for_key=body))


def _written(
    request: HttpRequest,
    user: User,
    now: dt.datetime,
    write: Callable[[], LedgerEntry],
    *,
    body: bytes | None = None,
) -> Status[Any]:
    """One entry written (201): the entry and its container after it."""

    def answer() -> tuple[int, dict[str, Any]]:
        entry = write()
        (container,) = queries.containers([entry.container_id])
        witness = entry.witness.get_username() if entry.witness else ""
        shown = WrittenOut(
            entry=_entry(entry, user.get_username(), witness), container=_container(container)
        )
        return 201, shown.model_dump(mode="json")

    return _once(request, user, now, answer, body=body)


class ReceiptIn(Schema):
    location_id: int = Field(description="A storage location of the receiving site")
    supplier_id: int
    invoice_number: str
    product_id: int
    lot_number: str
    expires_on: dt.date
    containers: int = Field(description="How many full containers of the lot")
    received_on: dt.date = Field(description="The actual date of receipt, in the site's zone")


@router.post("/ledger/receipts", response={201: ReceiptOut, **ERRORS})
def ledger_receive(request: HttpRequest, payload: ReceiptIn) -> Status[Any]:
    """Receive stock (clinic administrators): the containers, each numbered within its lot, with
    their full balances. 409: site_not_registered, dated_after_today, expired_lot,
    lot_expiry_mismatch."""
    user = _user(request)
    location = queries.get_location_for_user(user, payload.location_id, RECEIVE)
    supplier = Supplier.objects.filter(pk=payload.supplier_id).first()
    product = Product.objects.filter(pk=payload.product_id).first()
    if supplier is None or product is None:
        raise Http404("No such supplier." if supplier is None else "No such product.")
    now = timezone.now()

    def answer() -> tuple[int, dict[str, Any]]:
        received = services.receive_stock(
            location=location, supplier=supplier, invoice_number=payload.invoice_number,
            product=product, lot_number=payload.lot_number, expires_on=payload.expires_on,
            containers=payload.containers, received_on=payload.received_on, by=user, now=now,
        )  # fmt: skip
        shown = queries.containers([c.pk for c in received])
        return 201, ReceiptOut(containers=[_container(c) for c in shown]).model_dump(mode="json")

    return _once(request, user, now, answer)


class DrawIn(Schema):
    container_id: int
    visit_id: int
    dose_mg: DecimalText = Field(description='The amount drawn, e.g. "35.5" (to 0.01 mg)')


@router.post("/ledger/draws", response={201: WrittenOut, **ERRORS})
def ledger_draw(request: HttpRequest, payload: DrawIn) -> Status[Any]:
    """Draw for a visit today (nurses and prescribers). 409: negative_balance, expired_lot,
    wrong_site, visit_cancelled, visit_not_today."""
    user = _user(request)
    container = queries.get_container_for_user(user, payload.container_id, DRAW)
    visit = scheduling_queries.get_appointment_for_user(user, payload.visit_id)
    now = timezone.now()
    return _written(
        request, user, now,
        lambda: services.draw_for_visit(
            container=container, appointment=visit, dose_mg=payload.dose_mg, by=user, now=now
        ),
    )  # fmt: skip


class WasteIn(Schema):
    visit_id: int
    container_id: int
    quantity_mg: DecimalText = Field(description='The amount wasted, e.g. "15" (to 0.01 mg)')
    witness: int | str = Field(
        description="The witness: a user id (a JSON number) or a username (a string)"
    )
    witness_password: SecretStr = Field(
        description="The witness re-enters it; never echoed, logged or stored"
    )


@router.post("/ledger/wastes", response={201: WrittenOut, **ERRORS})
def ledger_waste(request: HttpRequest, payload: WasteIn) -> Status[Any]:
    """Waste what is left of a visit's draw, witnessed by another nurse or prescriber of the
    site who re-enters their password (nurses and prescribers). 409: exceeds_drawn,
    witness_is_self, witness_is_drawer, witness_not_allowed, witness_password."""
    user = _user(request)
    # The role first (403), so a refusal tells nothing of the visit.
    container = queries.get_container_for_user(user, payload.container_id, WASTE)
    visit = scheduling_queries.get_appointment_for_user(user, payload.visit_id)
    match: dict[str, object] = (
        {"pk": payload.witness}
        if isinstance(payload.witness, int)
        else {"username": payload.witness}
    )
    # Only the site's staff: a name at another site reads like no one at all.
    witness = User.objects.filter(memberships__site=visit.site_id, **match).first()
    if witness is None:
        raise WitnessNotAllowed(
            "witness", f"{payload.witness} is not on the staff of {visit.site.name}"
        )
    now = timezone.now()
    # The request as the idempotency record knows it: everything but the password.
    body = payload.model_dump_json(exclude={"witness_password"}).encode()
    return _written(
        request, user, now,
        lambda: services.waste_for_visit(
            appointment=visit, container=container, quantity_mg=payload.quantity_mg,
            witness=witness, witness_password=payload.witness_password.get_secret_value(),
            by=user, now=now,
        ),
        body=body,
    )  # fmt: skip


class TransferIn(Schema):
    container_id: int
    location_id: int = Field(
        description="Another storage location of the container's site, or a location at "
        "another site (a sealed, full container only)"
    )


@router.post("/ledger/transfers", response={201: WrittenOut, **ERRORS})
def ledger_transfer(request: HttpRequest, payload: TransferIn) -> Status[Any]:
    """Move a container to another location of its site, or a sealed, full one to a location
    at another site (clinic administrators). 409: same_location, not_sealed,
    site_not_registered."""
    user = _user(request)
    container = queries.get_container_for_user(user, payload.container_id, TRANSFER)
    to = queries.get_location_for_user(user, payload.location_id, TRANSFER)
    now = timezone.now()
    return _written(
        request, user, now,
        lambda: services.transfer_container(container=container, to=to, by=user, now=now),
    )  # fmt: skip


class AdjustmentIn(Schema):
    container_id: int
    change_mg: DecimalText = Field(description='Added (e.g. "5") or taken away (e.g. "-5")')
    reason: str


@router.post("/ledger/adjustments", response={201: WrittenOut, **ERRORS})
def ledger_adjust(request: HttpRequest, payload: AdjustmentIn) -> Status[Any]:
    """Adjust a container's balance with a reason, flagged for review (clinic
    administrators). 409: negative_balance."""
    user = _user(request)
    container = queries.get_container_for_user(user, payload.container_id, ADJUST)
    now = timezone.now()
    return _written(
        request, user, now,
        lambda: services.adjust_balance(
            container=container, change_mg=payload.change_mg, reason=payload.reason, by=user,
            now=now,
        ),
    )  # fmt: skip
