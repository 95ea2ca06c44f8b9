"""Counts, discrepancies, theft and loss, inventories (issue 12, item 4): each rule and each
refusal, which names its rule and saves nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from sustain.accounts.enums import DataCategory
from sustain.accounts.models import AuditEvent
from sustain.ledger import counts, services
from sustain.ledger.counts import Amount
from sustain.ledger.enums import CountMethod, Resolution
from sustain.ledger.models import (
    Count,
    CountLine,
    Discrepancy,
    Inventory,
    InventoryLine,
    Location,
    TheftLossReport,
)
from sustain_core.errors import ClinicalValueError, OutOfRange, WitnessNotAllowed
from tests.sustain import clinic_builders as build
from tests.sustain.ledger.conftest import FRIDAY, MONDAY, PASSWORD, receive

pytestmark = pytest.mark.db


def evening(site, day=MONDAY):
    return build.at(site, day, 18)


def snapshot():
    return (
        Count.objects.count(),
        CountLine.objects.count(),
        sorted(Discrepancy.objects.values_list("pk", "resolution")),
        TheftLossReport.objects.count(),
        Inventory.objects.count(),
        AuditEvent.objects.filter(category=DataCategory.LEDGER).count(),
    )


def full(vials, ml: str = "10"):
    return [Amount(c.pk, Decimal(ml), "ml") for c in vials]


def count(safe, amounts, by, confirmer, *, at=None, password=PASSWORD):
    return counts.submit_count(
        location=safe, amounts=amounts, confirmed_by=confirmer, confirmed_password=password,
        by=by, now=at or evening(safe.site),
    )  # fmt: skip


# -- business days ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("discovered", "due"),
    [
        (dt.date(2026, 12, 4), dt.date(2026, 12, 7)),  # Friday -> Monday
        (dt.date(2026, 12, 5), dt.date(2026, 12, 7)),  # Saturday -> Monday
        (dt.date(2026, 12, 7), dt.date(2026, 12, 8)),  # Monday -> Tuesday
        (dt.date(2026, 11, 25), dt.date(2026, 11, 27)),  # before Thanksgiving -> Friday
        (dt.date(2026, 9, 4), dt.date(2026, 9, 8)),  # Friday before Labor Day -> Tuesday
        (dt.date(2026, 7, 2), dt.date(2026, 7, 6)),  # Independence Day observed Friday 3 July
        (dt.date(2026, 12, 24), dt.date(2026, 12, 28)),  # Christmas Friday -> Monday
    ],
)
def test_notice_is_due_the_next_business_day(discovered, due):
    assert counts.next_business_day(discovered) == due


# -- counts -----------------------------------------------------------------------------------


def test_a_matching_count_opens_no_discrepancy(vials, safe, ben, nia):
    result = count(safe, full(vials), ben, nia)
    lines = list(result.lines.order_by("container__number"))
    assert [(x.counted_mg, x.expected_mg, x.counted_ml) for x in lines] == [
        (Decimal("500"), Decimal("500"), Decimal("10"))
    ] * 3
    assert (result.counted_by, result.confirmed_by, result.occurred_on) == (ben, nia, MONDAY)
    assert Discrepancy.objects.count() == 0
    assert (
        AuditEvent.objects.filter(category=DataCategory.LEDGER, object_type="ledger.Count").count()
        == 1
    )


def test_a_difference_opens_a_discrepancy_in_mg_and_ml(vials, safe, ben, nia):
    amounts = [*full(vials[:2]), Amount(vials[2].pk, Decimal("480"), "mg")]
    result = count(safe, amounts, ben, nia)
    (d,) = Discrepancy.objects.all()
    assert (d.count, d.container, d.expected_mg, d.counted_mg) == (
        result, vials[2], Decimal("500"), Decimal("480"),
    )  # fmt: skip
    assert (d.difference_mg, d.difference_ml) == (Decimal("-20"), Decimal("-0.4"))
    assert d.is_open


def test_an_uneven_difference_is_exact_on_both_databases(vials, safe, ben, nia):
    amounts = [*full(vials[:2]), Amount(vials[2].pk, Decimal("465.13"), "mg")]
    count(safe, amounts, ben, nia)
    d = Discrepancy.objects.get()
    assert (d.difference_mg, d.difference_ml) == (Decimal("-34.87"), Decimal("-0.6974"))


def test_count_compares_with_the_balance_at_the_count(vials, safe, ben, nia, visit):
    services.draw_for_visit(
        container=vials[0], appointment=visit, dose_mg=Decimal("35"), by=ben,
        now=build.at(safe.site, MONDAY, 8, 30),
    )  # fmt: skip
    amounts = [Amount(vials[0].pk, Decimal("9.3"), "ml"), *full(vials[1:])]
    count(safe, amounts, ben, nia)
    assert Discrepancy.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ("left_out", "lines"),
        ("twice", "lines"),
        ("elsewhere", "lines"),
        ("negative", "lines"),
        ("too_precise", "lines"),
        ("bad_unit", "lines"),
    ],
)
def test_count_refusals_save_nothing(vials, safe, ben, nia, alex, supplier, vial_50, change, field):
    cart = Location.objects.create(site=safe.site, name="Cart")
    (elsewhere,) = receive(cart, supplier, vial_50, alex, containers=1, lot="K9")
    amounts = full(vials)
    if change == "left_out":
        amounts = amounts[:2]
    elif change == "twice":
        amounts = [*amounts, amounts[0]]
    elif change == "elsewhere":
        amounts = [*amounts, Amount(elsewhere.pk, Decimal("10"), "ml")]
    elif change == "negative":
        amounts[0] = Amount(vials[0].pk, Decimal("-1"), "ml")
    elif change == "too_precise":
        amounts[0] = Amount(vials[0].pk, Decimal("9.999"), "ml")
    else:
        amounts[0] = Amount(vials[0].pk, Decimal("10"), "vials")
    before = snapshot()
    with pytest.raises(ClinicalValueError) as refused:
        count(safe, amounts, ben, nia)
    assert refused.value.field == field
    assert snapshot() == before


def test_count_names_what_was_left_out(vials, safe, ben, nia):
    with pytest.raises(ClinicalValueError, match="not counted: lot K123 #3"):
        count(safe, full(vials[:2]), ben, nia)


@pytest.mark.parametrize("who", ["self", "wrong_password", "auditor", "other_site", "inactive"])
def test_count_confirmer_refusals_save_nothing(vials, safe, ben, nia, ivy, carl, who):
    confirmer, password = {
        "self": (ben, PASSWORD), "wrong_password": (nia, "guess"), "auditor": (ivy, PASSWORD),
        "other_site": (carl, PASSWORD), "inactive": (nia, PASSWORD),
    }[who]  # fmt: skip
    if who == "inactive":
        nia.is_active = False
        nia.save(update_fields=["is_active"])
    before = snapshot()
    with pytest.raises(WitnessNotAllowed):
        count(safe, full(vials), ben, confirmer, password=password)
    assert snapshot() == before


@pytest.mark.parametrize("who", ["alex", "ivy", "sam", "nora"])
def test_only_nurses_and_prescribers_count(vials, safe, nia, who, request):
    before = snapshot()
    with pytest.raises(ClinicalValueError, match="only a nurse or a prescriber"):
        count(safe, full(vials), request.getfixturevalue(who), nia)
    assert snapshot() == before


def test_a_prescriber_counts_and_a_prescriber_confirms(vials, safe, ada, nia):
    assert count(safe, full(vials), ada, nia).counted_by == ada


def test_count_sheet_lists_containers_without_balances(vials, safe):
    assert counts.count_sheet(safe, evening(safe.site)) == vials


def test_counts_are_never_changed(vials, safe, ben, nia):
    result = count(safe, full(vials), ben, nia)
    with pytest.raises(PermissionError):
        result.save()
    with pytest.raises(PermissionError):
        Count.objects.all().delete()
    with pytest.raises(PermissionError):
        CountLine.objects.update(counted_mg=0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_trigger_refuses_raw_changes_of_counts_on_postgresql(vials, safe, ben, nia, alex):
    count(safe, full(vials), ben, nia)
    inventory(safe.site, full(vials), alex)
    for sql in (
        "UPDATE ledger_countline SET counted_mg = 1",
        "DELETE FROM ledger_countline",
        "UPDATE ledger_count SET counted_by_id = confirmed_by_id",
        "DELETE FROM ledger_count",
        "UPDATE ledger_inventory SET taken_on = '2020-01-01'",
        "DELETE FROM ledger_inventoryline",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            connection.cursor().execute(sql)
    assert CountLine.objects.count() == 3


# -- resolutions ------------------------------------------------------------------------------


@pytest.fixture
def short(vials, safe, ben, nia):
    """Vial 3 counted 20 mg (0.4 mL) short on Monday evening."""
    amounts = [*full(vials[:2]), Amount(vials[2].pk, Decimal("9.6"), "ml")]
    count(safe, amounts, ben, nia)
    return Discrepancy.objects.get()


def resolve(d, by, resolution, **kwargs):
    return counts.resolve_discrepancy(
        discrepancy=d, resolution=resolution, note=kwargs.pop("note", "checked"), by=by,
        now=kwargs.pop("now", build.at(d.site, MONDAY, 19)), **kwargs,
    )  # fmt: skip


def test_found_when_a_later_recount_matches(short, vials, safe, ben, nia, alex):
    recount = count(safe, full(vials), nia, ben, at=build.at(safe.site, MONDAY, 18, 30))
    closed = resolve(short, alex, Resolution.FOUND, recount=recount)
    assert (closed.resolution, closed.recount, closed.resolved_by, closed.is_open) == (
        Resolution.FOUND, recount, alex, False,
    )  # fmt: skip


def test_found_refused_when_the_recount_is_short_too(short, vials, safe, ben, nia, alex):
    amounts = [*full(vials[:2]), Amount(vials[2].pk, Decimal("9.6"), "ml")]
    recount = count(safe, amounts, nia, ben, at=build.at(safe.site, MONDAY, 18, 30))
    before = snapshot()
    with pytest.raises(ClinicalValueError, match="did not match the ledger"):
        resolve(short, alex, Resolution.FOUND, recount=recount)
    assert snapshot() == before


def test_documentation_error_names_the_adjustment_of_the_difference(short, vials, alex):
    wrong = services.adjust_balance(
        container=vials[2], change_mg=Decimal("-10"), reason="half the gap",
        by=alex, now=build.at(short.site, MONDAY, 18, 40),
    )  # fmt: skip
    with pytest.raises(ClinicalValueError, match="the count differed by -20 mg"):
        resolve(short, alex, Resolution.DOCUMENTATION_ERROR, correcting_entry=wrong)
    other = services.adjust_balance(
        container=vials[1], change_mg=Decimal("-20"), reason="wrong vial",
        by=alex, now=build.at(short.site, MONDAY, 18, 41),
    )  # fmt: skip
    with pytest.raises(ClinicalValueError, match="another container"):
        resolve(short, alex, Resolution.DOCUMENTATION_ERROR, correcting_entry=other)
    right = services.adjust_balance(
        container=vials[2], change_mg=Decimal("-10"), reason="the rest of the gap",
        by=alex, now=build.at(short.site, MONDAY, 18, 42),
    )  # fmt: skip
    with pytest.raises(ClinicalValueError, match="the count differed by -20 mg"):
        resolve(short, alex, Resolution.DOCUMENTATION_ERROR, correcting_entry=right)
    whole = services.correct_entry(
        entry=wrong, reason="undo", by=alex, now=build.at(short.site, MONDAY, 18, 43)
    )
    assert whole.change_mg == Decimal("10")
    fix = services.adjust_balance(
        container=vials[2], change_mg=Decimal("-20"), reason="a draw recorded as 15 mg was 35",
        by=alex, now=build.at(short.site, MONDAY, 18, 44),
    )  # fmt: skip
    closed = resolve(short, alex, Resolution.DOCUMENTATION_ERROR, correcting_entry=fix)
    assert (closed.resolution, closed.correcting_entry) == (Resolution.DOCUMENTATION_ERROR, fix)


def test_documentation_error_refuses_an_entry_before_the_count(vials, safe, ben, nia, alex):
    early = services.adjust_balance(
        container=vials[2], change_mg=Decimal("-20"), reason="early",
        by=alex, now=build.at(safe.site, MONDAY, 17),
    )  # fmt: skip
    amounts = [*full(vials[:2]), Amount(vials[2].pk, Decimal("9.2"), "ml")]
    count(safe, amounts, ben, nia)
    d = Discrepancy.objects.get()
    with pytest.raises(ClinicalValueError, match="recorded before the count"):
        resolve(d, alex, Resolution.DOCUMENTATION_ERROR, correcting_entry=early)


@pytest.mark.parametrize("who", ["ben", "ada", "ivy"])
def test_only_an_administrator_closes_a_discrepancy(short, who, request):
    before = snapshot()
    with pytest.raises(ClinicalValueError, match="only a clinic administrator"):
        resolve(short, request.getfixturevalue(who), Resolution.FOUND)
    assert snapshot() == before


def test_loss_is_closed_only_by_its_report_and_a_note_is_required(short, alex):
    with pytest.raises(ClinicalValueError, match="report the loss or theft"):
        resolve(short, alex, Resolution.LOSS_THEFT)
    with pytest.raises(ClinicalValueError, match="enter what was found"):
        resolve(short, alex, Resolution.FOUND, note="  ")
    assert Discrepancy.objects.get().is_open


# -- theft and loss ---------------------------------------------------------------------------


def report(site, discrepancies, by, **kwargs):
    fields = {
        "kind": "employee_pilferage", "explanation": "", "occurred_on": None,
        "discovered_at": build.at(site, dt.date(2026, 12, 4), 18),  # a Friday
        "county": "Kings", "police_notified": True,
        "police_department": "NYPD 77th Precinct, 718-555-0177", "police_report_number": "",
        "purchase_value_usd": Decimal("12.50"),
    }  # fmt: skip
    now = kwargs.pop("now", build.at(site, dt.date(2026, 12, 4), 19))
    fields.update(kwargs)
    return counts.report_theft_loss(
        site=site, discrepancies=discrepancies, by=by, now=now, **fields
    )


def test_theft_report_closes_the_discrepancy_with_its_deadlines(short, alex):
    made = report(short.site, [short], alex)
    assert (made.notice_due_on, made.form_106_due_on) == (
        dt.date(2026, 12, 7), dt.date(2027, 1, 18),
    )  # fmt: skip
    closed = Discrepancy.objects.get()
    assert (closed.resolution, closed.report) == (Resolution.LOSS_THEFT, made)
    assert made.notice_overdue(dt.date(2026, 12, 7)) is False
    assert made.notice_overdue(dt.date(2026, 12, 8)) is True
    assert made.form_106_overdue(dt.date(2027, 1, 19)) is True
    counts.record_notice(report=made, sent_at=build.at(short.site, dt.date(2026, 12, 7), 9),
                         by=alex, now=build.at(short.site, dt.date(2026, 12, 7), 10))  # fmt: skip
    made.refresh_from_db()
    assert made.notice_overdue(dt.date(2027, 1, 1)) is False
    with pytest.raises(ClinicalValueError, match="already recorded"):
        counts.record_notice(
            report=made, sent_at=build.at(short.site, dt.date(2026, 12, 7), 9), by=alex,
            now=build.at(short.site, dt.date(2026, 12, 7), 10),
        )  # fmt: skip
    counts.record_form_106(
        report=made, filed_at=build.at(short.site, dt.date(2026, 12, 9), 9), reference="TLR-1",
        by=alex, now=build.at(short.site, dt.date(2026, 12, 9), 10),
    )  # fmt: skip
    made.refresh_from_db()
    assert made.form_106_reference == "TLR-1"
    assert made.form_106_overdue(dt.date(2027, 2, 1)) is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "other"}, "explanation"),
        ({"kind": "lost_in_transit"}, "kind"),
        ({"police_department": ""}, "police_department"),
        ({"county": ""}, "county"),
        ({"purchase_value_usd": Decimal("-1")}, "purchase_value_usd"),
        ({"purchase_value_usd": Decimal("1.005")}, "purchase_value_usd"),
        ({"occurred_on": dt.date(2026, 12, 5)}, "occurred_on"),
        ({"now": dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)}, "discovered_at"),
    ],
)
def test_theft_report_refusals_save_nothing(short, alex, change, field):
    before = snapshot()
    with pytest.raises(ClinicalValueError) as refused:
        report(short.site, [short], alex, **change)
    assert refused.value.field == field
    assert snapshot() == before


def test_an_overage_is_not_a_loss(vials, safe, ben, nia, alex):
    amounts = [*full(vials[:2]), Amount(vials[2].pk, Decimal("501"), "mg")]
    count(safe, amounts, ben, nia)
    with pytest.raises(ClinicalValueError, match="not a loss"):
        report(safe.site, list(Discrepancy.objects.all()), alex)


@pytest.mark.parametrize("who", ["ben", "ivy"])
def test_only_an_administrator_reports_theft(short, who, request):
    with pytest.raises(ClinicalValueError, match="only a clinic administrator"):
        report(short.site, [short], request.getfixturevalue(who))
    assert TheftLossReport.objects.count() == 0


# -- inventories ------------------------------------------------------------------------------


def inventory(site, amounts, by, *, kind="initial", on=FRIDAY, time="close", taken_by=None):
    return counts.record_inventory(
        site=site, kind=kind, taken_on=on, time_of_day=time, taken_by=taken_by or by,
        amounts=amounts, by=by, now=build.at(site, MONDAY, 9),
    )  # fmt: skip


def test_initial_inventory_then_biennial_within_two_years(vials, safe, alex, ben, visit):
    first = inventory(safe.site, full(vials), alex)
    assert [(x.opened, x.method, x.quantity_mg) for x in first.lines.all()] == [
        (False, CountMethod.EXACT, Decimal("500"))
    ] * 3
    status = counts.inventory_status(safe.site, MONDAY)
    assert (status.last, status.due_on, status.overdue) == (first, dt.date(2028, 11, 27), False)
    assert counts.inventory_status(safe.site, dt.date(2028, 11, 28)).overdue is True
    services.draw_for_visit(
        container=vials[0], appointment=visit, dose_mg=Decimal("35"), by=ben,
        now=build.at(safe.site, MONDAY, 8, 30),
    )  # fmt: skip
    amounts = [Amount(vials[0].pk, Decimal("9.3"), "ml", CountMethod.ESTIMATED), *full(vials[1:])]
    second = counts.record_inventory(
        site=safe.site, kind="biennial", taken_on=MONDAY, time_of_day="close", taken_by=ben,
        amounts=amounts, by=alex, now=build.at(safe.site, MONDAY, 19),
    )  # fmt: skip
    line = second.lines.get(container=vials[0])
    assert (line.opened, line.method) == (True, CountMethod.ESTIMATED)


def test_a_zero_inventory_when_nothing_is_held(north, alex, safe):
    made = inventory(north, [], alex)
    assert made.lines.count() == 0


@pytest.mark.parametrize(
    ("case", "field"),
    [("estimate_unopened", "lines"), ("second_initial", "kind"), ("biennial_first", "kind"),
     ("future", "taken_on"), ("taker_elsewhere", "taken_by"), ("left_out", "lines")],
)  # fmt: skip
def test_inventory_refusals_save_nothing(vials, safe, alex, carl, case, field):
    amounts = full(vials)
    kwargs: dict = {}
    if case == "estimate_unopened":
        amounts[0] = Amount(vials[0].pk, Decimal("10"), "ml", CountMethod.ESTIMATED)
    elif case == "second_initial":
        inventory(safe.site, full(vials), alex)
    elif case == "biennial_first":
        kwargs["kind"] = "biennial"
    elif case == "future":
        kwargs["on"] = MONDAY + dt.timedelta(days=1)
    elif case == "taker_elsewhere":
        kwargs["taken_by"] = carl
    else:
        amounts = amounts[1:]
    before = (Inventory.objects.count(), InventoryLine.objects.count())
    with pytest.raises(ClinicalValueError) as refused:
        inventory(safe.site, amounts, alex, **kwargs)
    assert refused.value.field == field
    assert (Inventory.objects.count(), InventoryLine.objects.count()) == before


def test_only_an_administrator_records_an_inventory(vials, safe, ben):
    with pytest.raises(ClinicalValueError, match="only a clinic administrator"):
        inventory(safe.site, full(vials), ben)


def test_mg_too_precise_is_refused_not_rounded(vials, safe, ben, nia):
    amounts = [Amount(vials[0].pk, Decimal("499.999"), "mg"), *full(vials[1:])]
    with pytest.raises(OutOfRange, match=r"0\.01 mg"):
        count(safe, amounts, ben, nia)


# -- the end of the day -----------------------------------------------------------------------


def test_end_of_day_shows_balances_open_containers_discrepancies_and_counts(
    vials, safe, ben, nia, visit, north
):
    cart = Location.objects.create(site=north, name="Cart")
    services.draw_for_visit(
        container=vials[0], appointment=visit, dose_mg=Decimal("35"), by=ben,
        now=build.at(north, MONDAY, 8, 30),
    )  # fmt: skip
    amounts = [Amount(vials[0].pk, Decimal("9.2"), "ml"), *full(vials[1:])]
    made = count(safe, amounts, ben, nia)
    page = counts.end_of_day(north, MONDAY)
    assert [(b.mg, b.ml, b.containers) for b in page.balances] == [
        (Decimal("1465"), Decimal("29.3"), 3)
    ]
    assert [(c, mg) for c, mg, _ in page.open_containers] == [(vials[0], Decimal("465"))]
    assert [d.counted_mg for d in page.discrepancies] == [Decimal("460")]
    assert page.counts == [(cart, []), (safe, [made])]
    assert page.all_counted is False


def test_form_106_counts_the_reports_of_the_24_months_before(short, vials, safe, ben, nia, alex):
    first = report(short.site, [short], alex)
    amounts = [*full(vials[:2]), Amount(vials[2].pk, Decimal("9.2"), "ml")]
    count(safe, amounts, ben, nia, at=build.at(safe.site, dt.date(2026, 12, 8), 18))
    later = Discrepancy.objects.get(resolution="")
    second = report(
        short.site, [later], alex, discovered_at=build.at(safe.site, dt.date(2026, 12, 8), 18),
        now=build.at(safe.site, dt.date(2026, 12, 8), 19),
    )  # fmt: skip
    assert (first.earlier_reports_24_months, second.earlier_reports_24_months) == (0, 1)
    assert second.notice_due_on == dt.date(2026, 12, 9)
