"""The infusion day in the controlled-substance ledger (issue 12, items 2 and 6): the start
draws the dose from a numbered container, the end records what the pump delivered, the
remainder is wasted with a witness at the chair, and the record is signed only once the visit's
ledger is closed. Every refusal saves nothing: no entry, no balance change, no record."""

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.forms.models import model_to_dict
from django.test import Client

from sustain.accounts.enums import AuditAction
from sustain.accounts.models import AuditEvent
from sustain.clinic import story
from sustain.infusion import chairside
from sustain.infusion.enums import EventKind, Stage
from sustain.infusion.models import ChairsideRecord, InfusionRecord
from sustain.infusion.services import StepRefused
from sustain.ledger import services as ledger
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import ContainerBalance, LedgerEntry
from sustain.ledger.visits import open_visits, visit_ledger
from sustain.scheduling.models import Appointment
from sustain_core.errors import ClinicalValueError, OutOfRange
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import make_user
from tests.sustain.second_factor import signed_in

pytestmark = pytest.mark.db

WRITES = (AuditAction.CREATE, AuditAction.UPDATE, AuditAction.DELETE)
PASSWORD = "not-used-in-tests"  # noqa: S105 - every persona's (tests/sustain/conftest.make_user)


@pytest.fixture
def nia(north):
    """A second nurse at North: the witness."""
    return make_user("nia", "nurse", north)


@pytest.fixture
def visit(visits):
    return visits[0]


def minutes(visit: Appointment, m: int) -> dt.datetime:
    return visit.starts_at + dt.timedelta(minutes=m)


def saved(visit: Appointment) -> tuple:
    """Everything the chair's ledger steps could change."""
    record = ChairsideRecord.objects.filter(appointment=visit).first()
    return (
        LedgerEntry.objects.count(),
        sorted(ContainerBalance.objects.values_list("pk", "balance_mg", "balance_ml")),
        InfusionRecord.objects.count(),
        model_to_dict(record) if record else None,
        Appointment.objects.get(pk=visit.pk).status,
        # Writes only: a refused API call still audits who read the record (and is refused).
        AuditEvent.objects.filter(action__in=WRITES).count(),
    )


def ready(visit, ben) -> ChairsideRecord:
    return story.check_in_and_ready(visit, ben, at=visit.starts_at)


def started(visit, ben, container=None) -> ChairsideRecord:
    record = ready(visit, ben)
    chairside.start_infusion(
        record=record, container=container or build.vial(visit.site), by=ben,
        now=minutes(visit, 15),
    )  # fmt: skip
    record.refresh_from_db()
    return record


def stopped(visit, ben) -> ChairsideRecord:
    record = started(visit, ben)
    chairside.add_event(
        record=record, kind=EventKind.STOP, detail="Asked to stop", by=ben, now=minutes(visit, 35)
    )
    record.refresh_from_db()
    return record


def kinds(visit) -> list[tuple[str, Decimal]]:
    return [
        (e.kind, e.quantity_mg)
        for e in LedgerEntry.objects.filter(appointment=visit).order_by("seq")
    ]


# -- start ----------------------------------------------------------------------------------------


def test_the_start_draws_the_dose_from_the_container_chosen(visit, ben, stocked):
    vial = stocked[1]
    record = started(visit, ben, vial)
    given = InfusionRecord.objects.get()
    assert (given.dose_mg, given.vial_mg_per_ml, record.lot) == (
        Decimal("35"), Decimal("50"), vial.lot.lot_number,
    )  # fmt: skip
    assert (given.draw.kind, given.draw.container, given.draw.quantity_mg) == (
        EntryKind.DRAW, vial, Decimal("35"),
    )  # fmt: skip
    assert ContainerBalance.objects.get(pk=vial.pk).balance_mg == Decimal("465")
    (line,) = visit_ledger(visit).lines
    assert (line.container, line.drawn_mg, line.open_mg) == (vial, Decimal("35"), Decimal("35"))


def test_a_10_mg_per_ml_vial_plans_the_dose_for_its_strength(visit, ben, alex):
    (vial,) = story.stock(visit.site, alex, on=dt.date(2026, 11, 23), strength_mg_per_ml=10,
                          containers=1)  # fmt: skip
    started(visit, ben, vial)
    given = InfusionRecord.objects.get()
    # 3.5 mL on the 5 mL syringe's 0.2 mL marks: halfway goes to the lower mark, 3.4 mL.
    assert (given.vial_mg_per_ml, given.drug_volume_ml, given.dose_mg) == (
        Decimal("10"), Decimal("3.4"), Decimal("34"),
    )  # fmt: skip
    assert ContainerBalance.objects.get(pk=vial.pk).balance_ml == Decimal("16.6")


@pytest.mark.parametrize("problem", ["expired", "too little", "another site"])
def test_a_start_the_ledger_refuses_saves_nothing(visit, ben, alex, south, problem):
    if problem == "expired":
        (vial,) = story.stock(
            visit.site, alex, on=dt.date(2026, 11, 23), containers=1, lot="OLD-1",
            expires_on=dt.date(2026, 11, 29),
        )  # fmt: skip
        message = "lot OLD-1 expired on 2026-11-29; an expired lot cannot be drawn"
    elif problem == "too little":
        vial = build.vial(visit.site)
        ledger.adjust_balance(
            container=vial, change_mg=Decimal(-470), reason="Spilled", by=alex,
            now=build.at(visit.site, dt.date(2026, 11, 27), 9),
        )  # fmt: skip
        message = (
            f"container {vial} holds 30 mg; taking 35 mg would make its balance negative, and a "
            "balance never goes below zero"
        )
    else:
        (vial,) = story.stock(south, make_user("sal", "clinic_admin", south),
                              on=dt.date(2026, 11, 23), containers=1)  # fmt: skip
        message = f"container {vial} is at South Clinic; draw for a visit at North Clinic from "
        message += "that site's stock"
    record = ready(visit, ben)
    before = saved(visit)
    with pytest.raises(StepRefused) as refused:
        chairside.start_infusion(record=record, container=vial, by=ben, now=minutes(visit, 15))
    assert refused.value.message == message
    assert saved(visit) == before


# -- end: what the pump delivered -----------------------------------------------------------------


def test_an_infusion_run_to_its_end_administers_the_whole_dose(visit, ben):
    record = started(visit, ben)
    chairside.end_infusion(record=record, by=ben, now=minutes(visit, 55))
    assert kinds(visit) == [(EntryKind.DRAW, Decimal("35")), (EntryKind.ADMINISTER, Decimal("35"))]
    assert visit_ledger(visit).closed


def test_a_stopped_infusion_records_the_mg_delivered(visit, ben):
    record = stopped(visit, ben)
    chairside.end_infusion(
        record=record, by=ben, now=minutes(visit, 40), delivered_mg=Decimal("17.5")
    )
    assert kinds(visit) == [
        (EntryKind.DRAW, Decimal("35")), (EntryKind.ADMINISTER, Decimal("17.5")),
    ]  # fmt: skip
    assert (visit_ledger(visit).open_mg, visit_ledger(visit).closed) == (Decimal("17.5"), False)
    day = visit.starts_at.astimezone(visit.site.tz).date()
    assert open_visits(visit.site, day)[visit.pk].note == "ledger open: 17.5 mg to waste"


@pytest.mark.parametrize(
    ("delivered", "error", "message"),
    [
        (None, ClinicalValueError, "the infusion was stopped: enter the mg the pump delivered"),
        ("35.01", OutOfRange, "35.01 mg is more than the 35 mg drawn for this infusion"),
        ("0", OutOfRange, "the amount must be more than 0 mg; got 0 mg"),
        ("-3", OutOfRange, "the amount must be more than 0 mg; got -3 mg"),
        ("12.345", OutOfRange, "record the amount to 0.01 mg at most; got 12.345 mg"),
    ],
    ids=["missing", "more-than-drawn", "zero", "negative", "over-precise"],
)
def test_a_stopped_infusions_delivered_mg_is_refused_never_clamped(
    visit, ben, delivered, error, message
):
    record = stopped(visit, ben)
    before = saved(visit)
    with pytest.raises(error) as refused:
        chairside.end_infusion(
            record=record, by=ben, now=minutes(visit, 40),
            delivered_mg=None if delivered is None else Decimal(delivered),
        )  # fmt: skip
    assert (refused.value.field, refused.value.message) == ("delivered_mg", message)
    assert saved(visit) == before


def test_a_running_infusion_takes_no_delivered_mg(visit, ben):
    record = started(visit, ben)
    before = saved(visit)
    with pytest.raises(ClinicalValueError) as refused:
        chairside.end_infusion(
            record=record, by=ben, now=minutes(visit, 55), delivered_mg=Decimal("20")
        )
    assert refused.value.field == "delivered_mg"
    assert saved(visit) == before


def test_undoing_the_end_reverses_the_administration_with_a_correction(visit, ben):
    record = started(visit, ben)
    chairside.end_infusion(record=record, by=ben, now=minutes(visit, 55))
    chairside.undo(record=record, reason="Pump still running", by=ben, now=minutes(visit, 56))
    administered = LedgerEntry.objects.get(kind=EntryKind.ADMINISTER)
    correction = LedgerEntry.objects.get(kind=EntryKind.CORRECTION)
    assert (correction.reverses, correction.actor, correction.change_mg, correction.reason) == (
        administered, ben, Decimal(0), "end of the infusion undone: Pump still running",
    )  # fmt: skip
    assert visit_ledger(visit).lines[0].administered_mg == 0
    chairside.end_infusion(record=record, by=ben, now=minutes(visit, 58))
    assert (visit_ledger(visit).lines[0].administered_mg, visit_ledger(visit).closed) == (
        Decimal("35"), True,
    )  # fmt: skip


def test_the_chair_reverses_only_an_administration(visit, ben):
    started(visit, ben)
    draw = LedgerEntry.objects.get(kind=EntryKind.DRAW)
    before = saved(visit)
    with pytest.raises(ClinicalValueError, match="only an administration is reversed"):
        ledger.reverse_administration(entry=draw, reason="Oops", by=ben, now=minutes(visit, 20))
    assert saved(visit) == before


# -- waste and signature --------------------------------------------------------------------------


def test_the_record_is_signed_only_once_the_remainder_is_wasted_with_a_witness(
    visit, ben, nia, ada
):
    end = minutes(visit, 15 + visit.infusion_minutes)
    story.uneventful_infusion(
        visit, ben, None, stop_at_minute=20, until=end + dt.timedelta(minutes=62)
    )
    record = ChairsideRecord.objects.get(appointment=visit)
    assert record.stage == Stage.DISCHARGED
    before = saved(visit)
    with pytest.raises(StepRefused) as refused:
        chairside.sign(record=record, by=ben, now=end + dt.timedelta(minutes=63))
    assert refused.value.message == (
        "17.5 mg drawn for this visit is neither given nor wasted: waste it with a witness"
    )
    assert saved(visit) == before

    for witness, password, why in (
        (ben, PASSWORD, "the witness must be a second person, not you"),
        (nia, "wrong", "the witness's password is not correct"),
    ):
        with pytest.raises(StepRefused) as refused:
            chairside.waste_remainder(
                record=record, witness=witness, witness_password=password, by=ben,
                now=end + dt.timedelta(minutes=64),
            )  # fmt: skip
        assert refused.value.message == why
        assert saved(visit) == before

    chairside.waste_remainder(
        record=record, witness=nia, witness_password=PASSWORD, by=ben,
        now=end + dt.timedelta(minutes=64),
    )  # fmt: skip
    (line,) = visit_ledger(visit).lines
    assert (line.drawn_mg, line.administered_mg, line.wasted_mg, line.witnesses) == (
        Decimal("35"), Decimal("17.5"), Decimal("17.5"), ["nia"],
    )  # fmt: skip
    chairside.sign(record=record, by=ben, now=end + dt.timedelta(minutes=65))
    assert ChairsideRecord.objects.get(pk=record.pk).stage == Stage.SIGNED


def test_waste_is_refused_before_the_end_and_when_nothing_is_left(visit, ben, nia):
    record = stopped(visit, ben)
    before = saved(visit)
    with pytest.raises(StepRefused, match="after the infusion ends and before signing"):
        chairside.waste_remainder(
            record=record, witness=nia, witness_password=PASSWORD, by=ben, now=minutes(visit, 36)
        )
    assert saved(visit) == before
    chairside.resume(record=record, reason="Settled", by=make_user("dee", "prescriber", visit.site),
                     now=minutes(visit, 37))  # fmt: skip
    chairside.end_infusion(record=record, by=ben, now=minutes(visit, 57))
    before = saved(visit)
    with pytest.raises(StepRefused, match="nothing drawn for this visit is left to waste"):
        chairside.waste_remainder(
            record=record, witness=nia, witness_password=PASSWORD, by=ben, now=minutes(visit, 58)
        )
    assert saved(visit) == before


# -- pages and API --------------------------------------------------------------------------------


def test_the_page_starts_from_a_vial_of_the_sites_usable_stock(visit, ben, alex, login, stocked):
    (old,) = story.stock(
        visit.site, alex, on=dt.date(2026, 11, 23), containers=1, lot="OLD-1",
        expires_on=dt.date(2026, 11, 29),
    )  # fmt: skip
    empty = stocked[2]
    ledger.adjust_balance(
        container=empty, change_mg=Decimal(-500), reason="Broken", by=alex,
        now=build.at(visit.site, dt.date(2026, 11, 27), 9),
    )  # fmt: skip
    ready(visit, ben)
    with time_machine.travel(minutes(visit, 15), tick=False):
        client = login(ben)
        page = client.get(f"/visits/{visit.pk}/infusion/")
        offered = list(page.context["start_form"].fields["container"].queryset)
        assert offered == stocked[:2]  # neither the expired lot nor the empty vial
        assert f"lot {stocked[0].lot.lot_number} #1 · 50 mg/mL · 500 mg left" in (
            page.content.decode()
        )
        before = saved(visit)
        client.post(f"/visits/{visit.pk}/infusion/start/", {"container": old.pk, "confirm": "on"})
        assert saved(visit) == before
        client.post(
            f"/visits/{visit.pk}/infusion/start/", {"container": stocked[1].pk, "confirm": "on"}
        )
    assert InfusionRecord.objects.get().draw.container == stocked[1]


def test_the_page_plans_the_dose_for_each_strength_in_stock(visit, ben, alex, login, stocked):
    """The volume to draw depends on the vial: with 50 and 10 mg/mL stock the page shows the
    plan for each, so the nurse never reads a 50 mg/mL volume for a 10 mg/mL vial."""
    story.stock(visit.site, alex, on=dt.date(2026, 11, 23), strength_mg_per_ml=10, containers=1)
    ready(visit, ben)
    with time_machine.travel(minutes(visit, 15), tick=False):
        page = login(ben).get(f"/visits/{visit.pk}/infusion/")
    strengths = [strength for strength, _ in page.context["view"].plans]
    assert strengths == [Decimal(10), Decimal(50)]  # the form's order: the earliest expiry first
    text = page.content.decode()
    assert "From a 10 mg/mL vial" in text
    assert "From a 50 mg/mL vial" in text
    preparations = [plan.preparation for _, plan in page.context["view"].plans]
    # Each syringe's marks round its own volume: 3.4 mL of 10 mg/mL, 0.70 mL of 50 mg/mL.
    assert [(p.vial_mg_per_ml, p.drawn_ml) for p in preparations] == [
        (Decimal(10), Decimal("3.4")), (Decimal(50), Decimal("0.70")),
    ]  # fmt: skip
    assert "3.4 mL" in text


def test_the_page_ends_a_stopped_infusion_wastes_with_a_witness_and_the_board_shows_it(
    visit, ben, nia, ada, login
):
    record = stopped(visit, ben)
    day = visit.starts_at.astimezone(visit.site.tz).date()
    with time_machine.travel(minutes(visit, 40), tick=False):
        client = login(ben)
        client.post(f"/visits/{visit.pk}/infusion/end/", {"delivered_mg": "20"})
        board = client.get("/schedule/", {"day": f"{day:%Y-%m-%d}"}).content.decode()
        assert "Ledger open: 15 mg to waste" in board
        page = client.get(f"/visits/{visit.pk}/infusion/")
        witnesses = page.context["waste_form"].fields["witness"].queryset
        assert list(witnesses) == [ada, nia]  # the site's other clinical staff
        assert "15 mg drawn for this visit is neither given nor wasted" in page.content.decode()
        waste = {"witness": nia.pk, "witness_password": PASSWORD}
        unconfirmed = client.post(f"/visits/{visit.pk}/infusion/waste/", waste, follow=True)
        assert (
            "I confirm the remainder is wasted: this cannot be undone: tick the box to confirm "
            "this; nothing was changed"
        ) in unconfirmed.content.decode()
        assert kinds(visit)[-1] == (EntryKind.ADMINISTER, Decimal("20"))  # nothing wasted
        client.post(f"/visits/{visit.pk}/infusion/waste/", waste | {"confirm": "on"})
        assert (
            "Ledger open"
            not in client.get("/schedule/", {"day": f"{day:%Y-%m-%d}"}).content.decode()
        )
    record.refresh_from_db()
    assert (record.stage, kinds(visit)) == (
        Stage.RECOVERING,
        [(EntryKind.DRAW, Decimal("35")), (EntryKind.ADMINISTER, Decimal("20")),
         (EntryKind.WASTE, Decimal("15"))],
    )  # fmt: skip


def test_the_page_signs_and_cosigns_only_once_confirmed(visit, ben, nia, ada, login):
    """Signing and co-signing are final: without the box ticked each is refused, naming what to
    confirm, and the record stays as it was; ticked, it is signed, then co-signed and locked."""
    end = minutes(visit, 15 + visit.infusion_minutes)
    story.uneventful_infusion(visit, ben, None, until=end + dt.timedelta(minutes=62))
    record = ChairsideRecord.objects.get(appointment=visit)
    if visit_ledger(visit).open_mg:
        chairside.waste_remainder(
            record=record, witness=nia, witness_password=PASSWORD, by=ben,
            now=end + dt.timedelta(minutes=62),
        )  # fmt: skip
    url = f"/visits/{visit.pk}/infusion/"
    for user, step, statement, stage in (
        (ben, "sign", "I confirm the record is complete and correct", Stage.SIGNED),
        (ada, "cosign", "I confirm I have reviewed the record: co-signing locks it",
         Stage.COSIGNED),
    ):  # fmt: skip
        with time_machine.travel(end + dt.timedelta(minutes=65), tick=False):
            client = login(user)
            before = record.stage
            page = client.post(f"{url}{step}/", follow=True).content.decode()
            assert f"{statement}" in page and "tick the box to confirm this" in page
            record.refresh_from_db()
            assert record.stage == before
            client.post(f"{url}{step}/", {"confirm": "on"})
        record.refresh_from_db()
        assert record.stage == stage


def api(user, at, visit, step, body=None):
    with time_machine.travel(at, tick=False):
        client = Client()
        signed_in(user, client)
        return client.post(
            f"/api/v1/visits/{visit.pk}/infusion/{step}",
            "" if body is None else json.dumps(body), content_type="application/json",
        )  # fmt: skip


def test_the_api_ends_a_stopped_infusion_and_wastes_with_a_witness(visit, ben, nia):
    stopped(visit, ben)
    refused = api(ben, minutes(visit, 40), visit, "end", {"delivered_mg": "40"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "delivered_mg")
    answer = api(ben, minutes(visit, 40), visit, "end", {"delivered_mg": "20"})
    assert (answer.status_code, answer.json()["ledger_closed"]) == (200, False)
    before = saved(visit)
    drawer = api(ben, minutes(visit, 41), visit, "waste",
                 {"witness_id": ben.pk, "witness_password": PASSWORD})  # fmt: skip
    assert (drawer.status_code, drawer.json()["error"]) == (
        409, {"code": "witness", "message": "the witness must be a second person, not you"},
    )  # fmt: skip
    assert saved(visit) == before
    answer = api(ben, minutes(visit, 41), visit, "waste",
                 {"witness_id": nia.pk, "witness_password": PASSWORD})  # fmt: skip
    assert answer.status_code == 200
    assert answer.json()["ledger"][0] | {"container_id": 0} == {
        "container_id": 0, "lot": "K50-261123", "number": 1, "strength_mg_per_ml": 50,
        "drawn_mg": "35", "administered_mg": "20", "wasted_mg": "15", "open_mg": "0",
        "witnesses": ["nia"],
    }  # fmt: skip
    assert answer.json()["ledger_closed"] is True
