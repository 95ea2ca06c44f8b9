"""The dispensing record's counts and discrepancies, and its other disposals (issue 12, item 5):
counts with each container counted against the ledger, discrepancies with their resolutions,
theft/loss reports with their deadlines, inventories and the next one due; the DEA Form 41
fields of a destruction, a return's supplier, a transfer between sites at each end with running
balances computed by hand; the CSV's sections, the page, the PDF; a constant number of queries.

North's stock (see conftest): three 500 mg vials (50 mg/mL, 10 mL) of lot K123 received Friday
27 November (entries 1-3), so a vial holds 10 mL = 500 mg; 0.1 mL is 5 mg.
"""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from sustain.accounts.models import Membership
from sustain.ledger import counts, report, services
from sustain.ledger.counts import Amount
from sustain.ledger.enums import CountMethod, EntryKind, Resolution
from sustain.ledger.models import Discrepancy, LedgerEntry, Location, SiteRegistration
from tests.sustain import clinic_builders as build
from tests.sustain.ledger.conftest import FRIDAY, MONDAY, PASSWORD

pytestmark = pytest.mark.db

TUESDAY = MONDAY + dt.timedelta(days=1)
THURSDAY = MONDAY + dt.timedelta(days=3)
TODAY = dt.date(2026, 12, 10)
D = Decimal


def record(site, start=MONDAY, end=TUESDAY, *, today=TODAY, show_patients=True):
    return report.build_record(
        site=site, start=start, end=end, show_patients=show_patients, today=today
    )


def ml(vials, *amounts: str) -> list[Amount]:
    return [Amount(v.pk, D(a), "ml") for v, a in zip(vials, amounts, strict=True)]


def count(safe, amounts, ben, nia, day, hour):
    return counts.submit_count(
        location=safe, amounts=amounts, confirmed_by=nia, confirmed_password=PASSWORD, by=ben,
        now=build.at(safe.site, day, hour),
    )  # fmt: skip


def balances(ledger) -> list[tuple[int, str, str, Decimal, Decimal, Decimal, Decimal]]:
    return [
        (line.seq, line.kind, line.direction, line.change_mg, line.change_ml, line.balance_mg,
         line.balance_ml)
        for line in ledger.lines
    ]  # fmt: skip


# -- counts, discrepancies, theft and loss, inventories -----------------------------------------


@pytest.fixture
def counted(vials, safe, visit, alex, ben, nia):
    """Friday: count A (18:00) finds vial #1 1 mg short and #2 1 mg over; count B (19:00)
    matches; #2's discrepancy is closed as found by B (20:00), #1's is left open.
    Monday: the initial inventory at the opening; Ben draws 35 mg from #1 (entry 4); count C
    (18:00) finds #3 20 mg short, a documentation error Alex corrects with an adjustment of
    -20 mg (entry 5, 18:30; closed 18:45). Tuesday: count D (18:00) finds #2 30 mg short,
    reported as employee pilferage discovered at 18:30 (notice due Wednesday 2 December, sent
    late on Thursday 3 December; Form 106 due 14 January 2027, not filed); the biennial
    inventory at the close, #1 (opened) estimated."""
    site = safe.site
    a = count(safe, [Amount(vials[0].pk, D("499"), "mg"), Amount(vials[1].pk, D("501"), "mg"),
                     *ml(vials[2:], "10")], ben, nia, FRIDAY, 18)  # fmt: skip
    b = count(safe, ml(vials, "10", "10", "10"), ben, nia, FRIDAY, 19)
    over = Discrepancy.objects.get(count=a, container=vials[1])
    counts.resolve_discrepancy(
        discrepancy=over, resolution=Resolution.FOUND, note="miscounted", by=alex,
        now=build.at(site, FRIDAY, 20), recount=b,
    )  # fmt: skip
    initial = counts.record_inventory(
        site=site, kind="initial", taken_on=MONDAY, time_of_day="opening", taken_by=ben,
        amounts=ml(vials, "10", "10", "10"), by=alex, now=build.at(site, MONDAY, 7),
    )  # fmt: skip
    services.draw_for_visit(
        container=vials[0], appointment=visit, dose_mg=D("35"), by=ben,
        now=build.at(site, MONDAY, 8, 30),
    )  # fmt: skip
    c = count(safe, ml(vials, "9.3", "10", "9.6"), ben, nia, MONDAY, 18)
    adjusted = services.adjust_balance(
        container=vials[2], change_mg=D("-20"), reason="label misread at receipt", by=alex,
        now=build.at(site, MONDAY, 18, 30),
    )  # fmt: skip
    counts.resolve_discrepancy(
        discrepancy=Discrepancy.objects.get(count=c), resolution=Resolution.DOCUMENTATION_ERROR,
        note="the vial was short from the start", by=alex, now=build.at(site, MONDAY, 18, 45),
        correcting_entry=adjusted,
    )  # fmt: skip
    d = count(safe, ml(vials, "9.3", "9.4", "9.6"), ben, nia, TUESDAY, 18)
    theft = counts.report_theft_loss(
        site=site, discrepancies=[Discrepancy.objects.get(count=d)], kind="employee_pilferage",
        explanation="", discovered_at=build.at(site, TUESDAY, 18, 30), occurred_on=None,
        county="Albany", police_notified=False, police_department="", police_report_number="",
        purchase_value_usd=D("12.50"), by=alex, now=build.at(site, TUESDAY, 19),
    )  # fmt: skip
    counts.record_notice(
        report=theft, sent_at=build.at(site, THURSDAY, 10), by=alex,
        now=build.at(site, THURSDAY, 11),
    )  # fmt: skip
    biennial = counts.record_inventory(
        site=site, kind="biennial", taken_on=TUESDAY, time_of_day="close", taken_by=nia,
        amounts=[Amount(vials[0].pk, D("9.3"), "ml", CountMethod.ESTIMATED),
                 *ml(vials[1:], "9.4", "9.6")],
        by=alex, now=build.at(site, TUESDAY, 20),
    )  # fmt: skip
    return {"a": a, "b": b, "c": c, "d": d, "theft": theft, "initial": initial,
            "biennial": biennial}  # fmt: skip


def test_counts_of_the_range_with_each_container_against_the_ledger(north, counted):
    got = record(north).counts
    assert [(c.count_id, c.on, c.at, c.location, c.counted_by, c.confirmed_by, c.differences)
            for c in got.counts] == [
        (counted["c"].pk, MONDAY, "2026-11-30 18:00", "Safe", "ben", "nia", 1),
        (counted["d"].pk, TUESDAY, "2026-12-01 18:00", "Safe", "ben", "nia", 1),
    ]  # fmt: skip
    tuesday = got.counts[1]
    assert [
        (x.container.label, x.counted_mg, x.counted_ml, x.ledger_mg, x.ledger_ml,
         x.difference_mg, x.difference_ml)
        for x in tuesday.lines
    ] == [
        ("lot K123 #1", D("465"), D("9.3"), D("465"), D("9.3"), 0, 0),
        ("lot K123 #2", D("470"), D("9.4"), D("500"), D("10"), D("-30"), D("-0.6")),
        ("lot K123 #3", D("480"), D("9.6"), D("480"), D("9.6"), 0, 0),
    ]  # fmt: skip


def test_discrepancies_opened_in_the_range_or_still_open_with_their_resolutions(north, counted):
    """Friday's #2 (closed on Friday) is left out; Friday's #1, still open, is in."""
    got = record(north).counts.discrepancies
    assert [
        (d.count_id, d.on, d.container.label, d.ledger_mg, d.counted_mg, d.difference_mg,
         d.difference_ml, d.status, d.resolution_detail, d.note, d.resolved_by, d.resolved_at)
        for d in got
    ] == [
        (counted["a"].pk, FRIDAY, "lot K123 #1", D("500"), D("499"), D("-1"), D("-0.02"),
         "Open", "", "", "", ""),
        (counted["c"].pk, MONDAY, "lot K123 #3", D("500"), D("480"), D("-20"), D("-0.4"),
         "Documentation error, corrected in the ledger", "correcting entry #5 (Adjusted)",
         "the vial was short from the start", "alex", "2026-11-30 18:45"),
        (counted["d"].pk, TUESDAY, "lot K123 #2", D("500"), D("470"), D("-30"), D("-0.6"),
         "Loss or theft, reported to the DEA",
         f"theft or loss report {counted['theft'].pk}",
         f"Theft or loss report {counted['theft'].pk}", "alex", "2026-12-01 19:00"),
    ]  # fmt: skip
    # Over Friday, #2's discrepancy was open and closed as found by count B.
    friday = record(north, FRIDAY, FRIDAY).counts.discrepancies
    assert [(d.container.label, d.status, d.resolution_detail) for d in friday] == [
        ("lot K123 #1", "Open", ""),
        ("lot K123 #2", "Found: a recount matches the ledger",
         f"recount: count {counted['b'].pk} of 2026-11-27"),
    ]  # fmt: skip


def test_a_discrepancy_closed_in_the_range_is_in_it(north, counted, alex):
    """Opened before the range and closed during it: open at a moment of the range."""
    (opened,) = Discrepancy.objects.filter(resolution="")
    counts.resolve_discrepancy(
        discrepancy=opened, resolution=Resolution.FOUND, note="found on recount", by=alex,
        now=build.at(north, dt.date(2026, 12, 3), 9), recount=counted["b"],
    )  # fmt: skip
    labels = [
        (d.on, d.status) for d in record(north, dt.date(2026, 12, 2), TODAY).counts.discrepancies
    ]
    assert labels == [(FRIDAY, "Found: a recount matches the ledger")]
    assert record(north, dt.date(2026, 12, 4), TODAY).counts.discrepancies == ()


def test_theft_loss_report_with_its_deadlines_and_late_filings(north, counted):
    (theft,) = record(north).counts.theft_loss
    assert (
        theft.report_id, theft.kind, theft.discovered_at, theft.occurred_on, theft.what,
        theft.notice_due_on, theft.notice_sent_at, theft.notice_overdue,
        theft.form_106_due_on, theft.form_106_filed_at, theft.form_106_overdue,
    ) == (
        counted["theft"].pk, "Employee pilferage", "2026-12-01 18:30", None,
        "lot K123 #2: 30 mg (0.6 mL)", dt.date(2026, 12, 2), "2026-12-03 10:00", True,
        dt.date(2027, 1, 15), "", False,
    )  # fmt: skip
    (later,) = record(north, today=dt.date(2027, 1, 16)).counts.theft_loss
    assert later.form_106_overdue is True
    # Discovered after the range: not in it. Discovered before it with Form 106 still to file:
    # in it.
    assert record(north, MONDAY, MONDAY).counts.theft_loss == ()
    assert [t.report_id for t in record(north, THURSDAY, TODAY).counts.theft_loss] == [
        counted["theft"].pk
    ]


def test_inventories_exact_or_estimated_and_the_next_one_due(north, counted):
    got = record(north).counts
    assert [
        (i.kind, i.taken_on, i.time_of_day, i.taken_by, i.recorded_by) for i in got.inventories
    ] == [
        ("Initial inventory", MONDAY, "Opening of business", "ben", "alex"),
        ("Biennial inventory", TUESDAY, "Close of business", "nia", "alex"),
    ]  # fmt: skip
    assert [
        (x.container.label, x.opened, x.method, x.quantity_mg, x.quantity_ml)
        for x in got.inventories[1].lines
    ] == [
        ("lot K123 #1", True, "Estimated count", D("465"), D("9.3")),
        ("lot K123 #2", False, "Exact count", D("470"), D("9.4")),
        ("lot K123 #3", False, "Exact count", D("480"), D("9.6")),
    ]  # fmt: skip
    due = got.next_inventory
    assert (due.last_kind, due.last_on, due.due_on, due.overdue) == (
        "Biennial inventory", TUESDAY, dt.date(2028, 12, 1), False,
    )  # fmt: skip
    # The next one due as of a range's end: Monday's initial inventory for Monday alone;
    # overdue for a range ending after it; none before the first inventory.
    assert record(north, MONDAY, MONDAY).counts.next_inventory.due_on == dt.date(2028, 11, 30)
    assert record(north, TODAY, dt.date(2028, 12, 2)).counts.next_inventory.overdue is True
    assert record(north, FRIDAY, FRIDAY).counts.next_inventory is None


def test_another_sites_counts_are_not_in_its_record(south, counted):
    got = record(south).counts
    assert (got.counts, got.discrepancies, got.theft_loss, got.inventories) == ((), (), (), ())
    assert got.next_inventory is None


def test_the_number_of_queries_does_not_grow_with_the_rows(
    north, vials, counted, django_assert_num_queries
):
    with django_assert_num_queries(11):
        empty = record(north, dt.date(2026, 11, 1), dt.date(2026, 11, 2))
    with django_assert_num_queries(11):
        full = record(north, FRIDAY, TUESDAY, show_patients=False)
    assert (len(empty.counts.counts), len(full.counts.counts), len(full.counts.discrepancies)) == (
        0, 4, 4,
    )  # fmt: skip
    assert sum(len(i.lines) for i in full.counts.inventories) == 6


def test_csv_rows_of_each_section(north, counted):
    out = io.StringIO()
    report.write_csv(record(north), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    sections = [r["section"] for r in rows]
    assert sections == sorted(sections, key=["ledger", "count", "discrepancy", "theft or loss",
                                            "inventory"].index)  # fmt: skip
    assert [sections.count(s) for s in ("count", "discrepancy", "theft or loss", "inventory")] == [
        6, 3, 1, 7,
    ]  # fmt: skip
    short = next(r for r in rows if r["section"] == "count" and r["difference_mg"] == "-30")
    assert {k: short[k] for k in ("row", "date", "location", "time", "by", "confirmed_by",
                                  "container", "counted_mg", "ledger_mg", "difference_ml")} == {
        "row": f"count {counted['d'].pk}", "date": "2026-12-01", "location": "Safe",
        "time": "2026-12-01 18:00", "by": "ben", "confirmed_by": "nia",
        "container": "lot K123 #2", "counted_mg": "470", "ledger_mg": "500",
        "difference_ml": "-0.6",
    }  # fmt: skip
    error = next(
        r for r in rows if r["section"] == "discrepancy" and r["container"] == "lot K123 #3"
    )
    assert (error["status"], error["resolution"], error["resolved_by"]) == (
        "Documentation error, corrected in the ledger", "correcting entry #5 (Adjusted)", "alex",
    )  # fmt: skip
    theft = next(r for r in rows if r["section"] == "theft or loss")
    assert (theft["notice_due_on"], theft["notice_sent_at"], theft["notice_overdue"],
            theft["form_106_due_on"], theft["form_106_filed_at"], theft["form_106_overdue"]) == (
        "2026-12-02", "2026-12-03 10:00", "yes", "2027-01-15", "", "no",
    )  # fmt: skip
    estimated = next(r for r in rows if r["count_method"] == "Estimated count")
    assert (estimated["row"], estimated["kind"], estimated["opened"], estimated["quantity_ml"]) == (
        f"inventory {counted['biennial'].pk}", "Biennial inventory", "yes", "9.3",
    )  # fmt: skip
    assert (rows[-1]["row"], rows[-1]["date"], rows[-1]["status"]) == (
        "next inventory due", "2028-12-01", "due",
    )  # fmt: skip


def test_page_and_pdf_show_the_section(login, alex, north, counted):
    html = (
        login(alex)
        .get(f"/ledger/report/?site={north.pk}&start=2026-11-30&end=2026-12-01")
        .content.decode()
    )
    printed = report.render_html(record(north), printed_at=build.at(north, TODAY, 9), tz=north.tz)
    for page in (html, printed):
        for text in (f"Count {counted['d'].pk}", "counted by ben, confirmed by nia",
                     "correcting entry #5 (Adjusted)", "Employee pilferage",
                     "lot K123 #2: 30 mg (0.6 mL)", "Estimated count",
                     "Next inventory due 2028-12-01"):  # fmt: skip
            assert text in page
    assert '2026-12-03 10:00 <span class="flag">overdue</span>' in printed
    pdf = report.render_pdf(record(north), printed_at=build.at(north, TODAY, 9), tz=north.tz)
    assert pdf.startswith(b"%PDF-")


# -- Form 41, a return, a transfer between sites: running balances by hand -----------------------


@pytest.fixture
def south_safe(south, alex):
    """South Clinic, registered, with its safe; Alex is on its staff too."""
    Membership.objects.create(user=alex, site=south)
    SiteRegistration.objects.create(
        site=south, dea_number="BS1234563", registrant_name="South Clinic PC",
        address="9 Lake Street\nChicago, IL 60601",
    )  # fmt: skip
    return Location.objects.create(site=south, name="South safe")


@pytest.fixture
def moved(vials, registered, supplier, south_safe, visit, north, alex, ben, ada):
    """Monday: vial #1 moves to South (entry 4 out at North, 5 in at South); #2 goes back to
    Henry Schein (entry 6); Ben draws 35 mg of #3 for Pat (entry 7) and Alex destroys the
    remaining 465 mg, witnessed by Ben and Ada (entry 8). At South, Alex adjusts #1 by -2.5 mg
    (entry 9)."""
    services.transfer_container(
        container=vials[0], to=south_safe, by=alex, now=build.at(north, MONDAY, 9)
    )
    services.return_to_supplier(
        container=vials[1], supplier=supplier, reference="RA-7781", reason="Recalled lot",
        by=alex, now=build.at(north, MONDAY, 9, 10),
    )  # fmt: skip
    services.draw_for_visit(
        container=vials[2], appointment=visit, dose_mg=D("35"), by=ben,
        now=build.at(north, MONDAY, 9, 20),
    )  # fmt: skip
    services.destroy(
        containers=[vials[2]], method="Rendered non-retrievable (Rx Destroyer)",
        place="North Clinic, medication room", reason="Expired", witness=ben,
        witness_password=PASSWORD, second_witness=ada, second_witness_password=PASSWORD,
        by=alex, now=build.at(north, MONDAY, 10),
    )  # fmt: skip
    services.adjust_balance(
        container=vials[0], change_mg=D("-2.5"), reason="spilled", by=alex,
        now=build.at(south_safe.site, MONDAY, 11),
    )  # fmt: skip
    return vials


def test_each_sites_running_balances_are_its_own_half_of_a_transfer(north, south, moved):
    first, second, third = record(north, FRIDAY, MONDAY).containers
    assert balances(first) == [
        (1, EntryKind.RECEIVE, "", D("500"), D("10"), D("500"), D("10")),
        (4, EntryKind.TRANSFER, "out", D("-500"), D("-10"), D("0"), D("0")),
    ]
    assert balances(second) == [
        (2, EntryKind.RECEIVE, "", D("500"), D("10"), D("500"), D("10")),
        (6, EntryKind.RETURN, "", D("-500"), D("-10"), D("0"), D("0")),
    ]
    assert balances(third) == [
        (3, EntryKind.RECEIVE, "", D("500"), D("10"), D("500"), D("10")),
        (7, EntryKind.DRAW, "", D("-35"), D("-0.7"), D("465"), D("9.3")),
        (8, EntryKind.DESTROY, "", D("-465"), D("-9.3"), D("0"), D("0")),
    ]
    assert first.container.location == "moved to another registered location"
    (at_south,) = record(south, FRIDAY, MONDAY).containers
    assert (at_south.opening_mg, at_south.container.location) == (0, "South safe")
    assert balances(at_south) == [
        (5, EntryKind.TRANSFER, "in", D("500"), D("10"), D("500"), D("10")),
        (9, EntryKind.ADJUST, "", D("-2.5"), D("-0.05"), D("497.5"), D("9.95")),
    ]
    # The next day: North holds nothing; South opens with what it held.
    assert record(north, TUESDAY, TUESDAY).containers == ()
    (tuesday,) = record(south, TUESDAY, TUESDAY).containers
    assert (tuesday.opening_mg, tuesday.opening_ml, tuesday.lines) == (D("497.5"), D("9.95"), ())


def test_other_disposals_name_form_41_the_supplier_and_the_other_site(north, moved):
    got = record(north, FRIDAY, MONDAY)
    assert [(d.seq, d.manner, d.quantity_mg) for d in got.disposals] == [
        (4, "Transferred out to South Clinic PC (DEA BS1234563)", D("500")),
        (6, "Returned to Henry Schein (DEA PH0000001), reference RA-7781: Recalled lot", D("500")),
        (8, "Destroyed: Expired", D("465")),
    ]  # fmt: skip
    out, _, destroyed = got.disposals
    assert (out.direction, out.other_site.address) == ("out", "9 Lake Street\nChicago, IL 60601")
    form = destroyed.form_41
    assert (form.method, form.place, form.registrant, destroyed.witnesses) == (
        "Rendered non-retrievable (Rx Destroyer)", "North Clinic, medication room",
        "North Clinic, address not recorded, DEA BN1234563", "ben, ada",
    )  # fmt: skip
    html = report.render_html(got, printed_at=build.at(north, TUESDAY, 9), tz=north.tz)
    for text in ("DEA Form 41", "method Rendered non-retrievable (Rx Destroyer)",
                 "place North Clinic, medication room", "witnessed by ben, ada",
                 "reference RA-7781", "to South Clinic PC"):  # fmt: skip
        assert text in html


def test_a_transfer_in_is_received_from_the_other_registered_location(north, south, moved):
    (received,) = record(south, FRIDAY, MONDAY).receipts
    assert (
        received.on, received.container_numbers, received.quantity_mg, received.supplier,
        received.supplier_address, received.supplier_dea_number, received.invoice_number,
        received.from_site,
    ) == (MONDAY, (1,), D("500"), "North Clinic", "address not recorded", "BN1234563", "",
          True)  # fmt: skip
    assert [d.seq for d in record(south, FRIDAY, MONDAY).disposals] == [9]
    # Only North's own entries are in North's record, and South's in South's.
    assert LedgerEntry.objects.filter(site=south).count() == 2


def test_csv_of_a_destruction_and_a_transfer(north, moved):
    out = io.StringIO()
    report.write_csv(record(north, FRIDAY, MONDAY), out)
    rows = {r["entry"]: r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["entry"]}
    assert (rows["4"]["direction"], rows["4"]["other_site"], rows["4"]["other_site_dea_number"],
            rows["4"]["balance_mg"]) == ("out", "South Clinic PC", "BS1234563", "0")  # fmt: skip
    assert (rows["8"]["destruction_method"], rows["8"]["destruction_place"],
            rows["8"]["destruction_registrant"], rows["8"]["witnesses"]) == (
        "Rendered non-retrievable (Rx Destroyer)", "North Clinic, medication room",
        "North Clinic, address not recorded, DEA BN1234563", "ben, ada",
    )  # fmt: skip
    assert (rows["6"]["supplier"], rows["6"]["invoice"]) == ("Henry Schein", "RA-7781")


def test_a_move_within_the_site_names_the_location_and_keeps_the_balance(north, vials, alex):
    cart = Location.objects.create(site=north, name="Cart")
    services.transfer_container(
        container=vials[0], to=cart, by=alex, now=build.at(north, MONDAY, 9)
    )
    first = record(north, FRIDAY, MONDAY).containers[0]
    assert [(x.seq, x.manner, x.direction, x.change_mg, x.balance_mg) for x in first.lines] == [
        (1, "Received", "", D("500"), D("500")),
        (4, "Transferred to Cart", "", D("0"), D("500")),
    ]
    assert (first.container.location, record(north, FRIDAY, MONDAY).disposals) == ("Cart", ())
