"""The dispensing record (issue 12, item 5): every field 21 CFR 1304.22(c) names, running
balances computed by hand, the CSV's columns, the PDF, the query count, and
`sustain ledger-report`.

North's ledger in these tests (see conftest): three 500 mg vials (50 mg/mL, 10 mL) of lot K123
received Friday 27 November (entries 1-3). On Monday 30 November Ben draws 35 mg for Pat's
visit from vial #1 (entry 4) and wastes 5 mg of it, witnessed by Nia (entry 5); Alex takes
2.5 mg from vial #2 (entry 6) and corrects that adjustment (entry 7).
"""

import csv
import datetime as dt
import io
import sys
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from sustain import cli
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import AuditEvent
from sustain.ledger import chain, report
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import LedgerEntry
from sustain_core.errors import ClinicalValueError
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import make_user
from tests.sustain.ledger.conftest import FRIDAY, MONDAY, PAT_ADDRESS

pytestmark = pytest.mark.db

TUESDAY = MONDAY + dt.timedelta(days=1)
LATER = dt.datetime(2026, 12, 2, 15, tzinfo=dt.UTC)  # the day after TUESDAY, when it is run
D = Decimal


def record(site, start=FRIDAY, end=MONDAY, *, show_patients=True):
    return report.build_record(
        site=site, start=start, end=end, show_patients=show_patients, today=TUESDAY
    )


def balances(ledger) -> list[tuple[int, str, Decimal, Decimal, Decimal, Decimal]]:
    return [
        (line.seq, line.kind, line.change_mg, line.change_ml, line.balance_mg, line.balance_ml)
        for line in ledger.lines
    ]


# -- the fields of 1304.22(c) ------------------------------------------------------------------


def test_record_heads_with_the_site_its_registration_and_the_substance(
    north, monday_ledger, registered
):
    registered.address = "200 Main Street\nPoughkeepsie, NY 12601"
    registered.save()
    got = record(north)
    assert (got.site_name, got.site_address, got.dea_number) == (
        "North Clinic", "200 Main Street\nPoughkeepsie, NY 12601", "BN1234563",
    )  # fmt: skip
    assert (got.substance, got.schedule, got.dea_drug_code) == (
        "Ketamine hydrochloride", "III", "7285",
    )  # fmt: skip
    assert [p.label for p in got.products] == [
        "Ketamine hydrochloride injection, 50 mg/mL, 10 mL per vial"
    ]
    assert got.products[0].ndc == "42023-0113-10"


def test_a_blank_site_address_is_said_not_invented(north, monday_ledger):
    assert record(north).site_address == "address not recorded"


def test_receipt_has_date_number_lot_containers_supplier_and_invoice(north, monday_ledger):
    (receipt,) = record(north).receipts
    assert (
        receipt.on, receipt.containers, receipt.container_numbers, receipt.lot_number,
        receipt.expires_on, receipt.quantity_mg, receipt.quantity_ml, receipt.supplier,
        receipt.supplier_address, receipt.supplier_dea_number, receipt.invoice_number, receipt.by,
    ) == (
        FRIDAY, 3, (1, 2, 3), "K123", dt.date(2027, 6, 30), D("1500"), D("30"), "Henry Schein",
        "135 Duryea Road, Melville, NY 11747", "PH0000001", "INV-2026-0042", "alex",
    )  # fmt: skip


def test_administration_names_the_patient_address_date_quantity_and_who(
    north, monday_ledger, pat_address
):
    (given,) = record(north).administrations
    line = given.line
    assert (
        line.on, line.patient, line.patient_address, line.quantity_mg, line.quantity_ml,
        line.by, line.container.label, line.seq,
    ) == (MONDAY, "Pat Quinn", PAT_ADDRESS, D("35"), D("0.7"), "ben", "lot K123 #1", 4)  # fmt: skip
    # No administration entry yet: the draw stands in, and says so.
    assert given.drawn_only is True


def test_a_patient_without_an_address_reads_address_not_recorded(north, monday_ledger):
    (given,) = record(north).administrations
    assert given.line.patient_address == "address not recorded"


def test_administer_entries_are_used_when_a_visit_has_them(north, monday_ledger, ben):
    """Appended through the chain as the administer service will (it is not in this branch)."""
    draw = LedgerEntry.objects.get(kind=EntryKind.DRAW)
    chain.append(
        LedgerEntry(
            kind=EntryKind.ADMINISTER, site=north, container=draw.container,
            appointment=draw.appointment, quantity_mg=D("30"), quantity_ml=D("0.6"),
            change_mg=D("0"), change_ml=D("0"), actor=ben, occurred_on=MONDAY,
            recorded_at=build.at(north, MONDAY, 9, 40),
        )
    )  # fmt: skip
    (given,) = record(north).administrations
    assert (given.line.kind, given.line.quantity_mg, given.drawn_only) == (
        EntryKind.ADMINISTER, D("30"), False,
    )  # fmt: skip


def test_other_disposals_have_date_manner_quantity_and_witness(north, monday_ledger):
    got = [
        (d.seq, d.on, d.manner, d.quantity_mg, d.quantity_ml, d.by, d.witnesses, d.corrected_by)
        for d in record(north).disposals
    ]
    assert got == [
        (5, MONDAY, "Wasted", D("5"), D("0.1"), "ben", "nia", None),
        (6, MONDAY, "Adjusted: spilled at the safe", D("2.5"), D("0.05"), "alex", "", 7),
        (7, MONDAY, "Correction: counted again: nothing spilled", D("2.5"), D("0.05"), "alex",
         "", None),
    ]  # fmt: skip


# -- running balances, by hand ------------------------------------------------------------------


def test_running_balance_per_container_from_the_receipt(north, monday_ledger):
    first, second, third = record(north).containers
    assert (first.opening_mg, first.opening_ml) == (0, 0)
    assert balances(first) == [
        (1, EntryKind.RECEIVE, D("500"), D("10"), D("500"), D("10")),
        (4, EntryKind.DRAW, D("-35"), D("-0.7"), D("465"), D("9.3")),
        (5, EntryKind.WASTE, D("0"), D("0"), D("465"), D("9.3")),
    ]
    assert (first.closing_mg, first.closing_ml) == (D("465"), D("9.3"))
    assert balances(second) == [
        (2, EntryKind.RECEIVE, D("500"), D("10"), D("500"), D("10")),
        (6, EntryKind.ADJUST, D("-2.5"), D("-0.05"), D("497.5"), D("9.95")),
        (7, EntryKind.CORRECTION, D("2.5"), D("0.05"), D("500"), D("10")),
    ]
    assert balances(third) == [(3, EntryKind.RECEIVE, D("500"), D("10"), D("500"), D("10"))]


def test_opening_balance_is_every_entry_before_the_range(north, monday_ledger):
    first, second, third = record(north, MONDAY, MONDAY).containers
    assert [(c.opening_mg, c.opening_ml) for c in (first, second, third)] == [
        (D("500"), D("10"))
    ] * 3
    assert [line.seq for line in first.lines] == [4, 5]
    assert (third.lines, third.closing_mg, third.closing_ml) == ((), D("500"), D("10"))


def test_a_range_after_the_movements_carries_the_closing_balances(north, monday_ledger):
    got = record(north, TUESDAY, TUESDAY + dt.timedelta(days=1))
    assert [(c.container.label, c.opening_mg, c.opening_ml, c.lines) for c in got.containers] == [
        ("lot K123 #1", D("465"), D("9.3"), ()),
        ("lot K123 #2", D("500"), D("10"), ()),
        ("lot K123 #3", D("500"), D("10"), ()),
    ]
    assert (got.receipts, got.administrations, got.disposals) == ((), (), ())


def test_a_range_before_any_stock_is_empty(north, monday_ledger):
    got = record(north, dt.date(2026, 11, 1), dt.date(2026, 11, 26))
    assert (got.containers, got.products, got.receipts) == ((), (), ())


def test_another_sites_ledger_is_not_in_the_record(south, monday_ledger):
    assert record(south).containers == ()


def test_a_range_ending_before_it_starts_is_refused(north):
    with pytest.raises(ClinicalValueError) as refused:
        record(north, MONDAY, FRIDAY)
    assert refused.value.message == "the range ends on 2026-11-27, before it starts on 2026-11-30"


# -- who sees patients ---------------------------------------------------------------------------


def test_without_patients_a_reference_stands_and_no_name_is_loaded(north, monday_ledger, pat):
    with CaptureQueriesContext(connection) as queries:
        got = record(north, show_patients=False)
    (given,) = got.administrations
    assert (given.line.patient, given.line.patient_address) == (
        f"patient ref {pat.pk}", "not shown to your role",
    )  # fmt: skip
    assert not [q for q in queries.captured_queries if "care_patient" in q["sql"]]


def test_record_for_user_audits_one_export(north, monday_ledger, alex):
    before = AuditEvent.objects.count()
    report.record_for_user(user=alex, site=north, start=FRIDAY, end=MONDAY, output="csv", now=LATER)
    event = AuditEvent.objects.order_by("id").last()
    assert AuditEvent.objects.count() == before + 1
    assert (event.action, event.category, event.site, event.reason, event.patient_id) == (
        AuditAction.EXPORT, DataCategory.LEDGER, north, "dispensing record csv", None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("persona", "message"),
    [
        ("ben", "only a clinic administrator or an auditor may do this"),
        ("ada", "only a clinic administrator or an auditor may do this"),
        ("sam", "only a clinic administrator or an auditor may do this"),
        ("nora", "only a clinic administrator or an auditor may do this"),
    ],
)
def test_record_for_user_refuses_other_roles(north, persona, message, request):
    user = request.getfixturevalue(persona)
    before = AuditEvent.objects.count()
    with pytest.raises(ClinicalValueError) as refused:
        report.record_for_user(
            user=user, site=north, start=FRIDAY, end=MONDAY, output="page", now=LATER
        )
    assert (refused.value.message, AuditEvent.objects.count()) == (message, before)


def test_record_for_user_refuses_another_sites_administrator(north, south):
    sid = make_user("sid", "clinic_admin", south)
    with pytest.raises(ClinicalValueError) as refused:
        report.record_for_user(
            user=sid, site=north, start=FRIDAY, end=MONDAY, output="page", now=LATER
        )
    assert refused.value.message == "you are not on the staff of North Clinic"


# -- few queries ----------------------------------------------------------------------------------


def test_record_is_built_in_three_queries_however_many_entries(
    north, vials, monday_ledger, django_assert_num_queries
):
    with django_assert_num_queries(11):
        small = record(north, FRIDAY, FRIDAY)
    with django_assert_num_queries(11):
        full = record(north)
    assert (sum(len(c.lines) for c in small.containers), len(full.disposals)) == (3, 3)


# -- CSV and PDF ----------------------------------------------------------------------------------


def test_csv_has_its_columns_and_a_row_per_movement(north, monday_ledger, pat_address):
    out = io.StringIO()
    report.write_csv(record(north), out)
    everything = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(everything[0].keys()) == report.CSV_COLUMNS
    assert {r["time_zone"] for r in everything} == {"America/New_York"}  # times are labelled
    rows = [r for r in everything if r["section"] == "ledger"]
    # No count nor inventory in these days: the one row after the ledger says so.
    assert [(r["section"], r["row"], r["status"]) for r in everything[len(rows) :]] == [
        ("inventory", "next inventory due", "no inventory recorded")
    ]
    assert [(r["container"], r["row"], r["entry"], r["balance_mg"]) for r in rows] == [
        ("lot K123 #1", "opening balance", "", "0"),
        ("lot K123 #1", "entry", "1", "500"),
        ("lot K123 #1", "entry", "4", "465"),
        ("lot K123 #1", "entry", "5", "465"),
        ("lot K123 #1", "closing balance", "", "465"),
        ("lot K123 #2", "opening balance", "", "0"),
        ("lot K123 #2", "entry", "2", "500"),
        ("lot K123 #2", "entry", "6", "497.5"),
        ("lot K123 #2", "entry", "7", "500"),
        ("lot K123 #2", "closing balance", "", "500"),
        ("lot K123 #3", "opening balance", "", "0"),
        ("lot K123 #3", "entry", "3", "500"),
        ("lot K123 #3", "closing balance", "", "500"),
    ]
    draw = rows[2]
    assert {k: draw[k] for k in ("site_dea_number", "substance", "product", "date", "kind",
                                 "quantity_mg", "quantity_ml", "change_ml", "balance_ml",
                                 "patient", "patient_address", "by")} == {
        "site_dea_number": "BN1234563",
        "substance": "Ketamine hydrochloride (Schedule III, DEA 7285)",
        "product": "Ketamine hydrochloride injection, 50 mg/mL, 10 mL per vial",
        "date": "2026-11-30", "kind": "draw", "quantity_mg": "35", "quantity_ml": "0.7",
        "change_ml": "-0.7", "balance_ml": "9.3", "patient": "Pat Quinn",
        "patient_address": PAT_ADDRESS, "by": "ben",
    }  # fmt: skip
    receipt = rows[1]
    assert (receipt["supplier"], receipt["supplier_dea_number"], receipt["invoice"]) == (
        "Henry Schein", "PH0000001", "INV-2026-0042",
    )  # fmt: skip


def test_pdf_is_a_pdf_of_the_page_naming_the_registration_and_the_patient(
    north, monday_ledger, pat_address
):
    """pypdf is not a dependency: as the infusion record's tests do, the page the PDF is made
    from is read, and the PDF is checked to be one."""
    got = record(north)
    printed = build.at(north, TUESDAY, 9)
    html = report.render_html(got, printed_at=printed, tz=north.tz)
    pdf = report.render_pdf(got, printed_at=printed, tz=north.tz)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    for text in ("BN1234563", "Pat Quinn", "12 Elm Street<br>Albany, NY 12207", "PH0000001",
                 "Ketamine hydrochloride, Schedule III, DEA drug code 7285",
                 "Counts and discrepancies"):  # fmt: skip
        assert text in html


# -- sustain ledger-report ------------------------------------------------------------------------


def run(monkeypatch, capsys, *argv: str) -> tuple[int, str, str]:
    """The console script with these arguments: (exit status, stdout, stderr). Django closes
    the connections after a command run from the command line; the test's transaction keeps
    its own open."""
    monkeypatch.setattr(sys, "argv", ["sustain", "ledger-report", *argv])
    monkeypatch.setattr(connections, "close_all", lambda: None)
    try:
        cli.main()
        status = 0
    except SystemExit as exited:
        status = int(exited.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def args(site, *more: str, start: str = "2026-11-27", end: str = "2026-11-30", by: str = "alex"):
    return ("--site", str(site.pk), "--from", start, "--to", end, "--by", by, *more)


def test_command_prints_the_csv(north, monday_ledger, monkeypatch, capsys):
    status, out, err = run(monkeypatch, capsys, *args(north))
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["section"] == "ledger"]
    assert (status, err, len(rows), rows[-1]["row"], rows[-1]["balance_mg"]) == (
        0, "", 13, "closing balance", "500",
    )  # fmt: skip
    assert AuditEvent.objects.order_by("id").last().action == AuditAction.EXPORT


def test_command_writes_a_pdf_and_a_csv(north, monday_ledger, tmp_path, monkeypatch, capsys):
    pdf, table = tmp_path / "record.pdf", tmp_path / "record.csv"
    assert run(monkeypatch, capsys, *args(north, "--pdf", str(pdf)))[0] == 0
    assert run(monkeypatch, capsys, *args(north, "--csv", str(table)))[0] == 0
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert table.read_text().splitlines()[0] == ",".join(report.CSV_COLUMNS)


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        pytest.param(
            {"start": "30/11/2026"},
            "sustain ledger-report: argument --from: --from must be a date such as 2026-11-30; "
            "got '30/11/2026'",
            id="bad-date",
        ),
        pytest.param(
            {"start": "2026-12-01"},
            "sustain ledger-report: the range ends on 2026-11-30, before it starts on 2026-12-01",
            id="range-backwards",
        ),
        pytest.param(
            {"by": "ben"},
            "sustain ledger-report: only a clinic administrator or an auditor may do this",
            id="a-nurse",
        ),
        pytest.param(
            {"by": "nobody"},
            "sustain ledger-report: there is no active user 'nobody'",
            id="no-user",
        ),
        pytest.param({"site": "999"}, "sustain ledger-report: there is no site 999", id="no-site"),
        pytest.param(
            {"more": ("--pdf", "a.pdf", "--csv", "a.csv")},
            "sustain ledger-report: argument --csv: not allowed with argument --pdf",
            id="pdf-and-csv",
        ),
        pytest.param(
            {"more": ("--pdf", "/nonexistent-dir/a.pdf")},
            "sustain ledger-report: cannot write /nonexistent-dir/a.pdf: No such file or directory",
            id="unwritable",
        ),
    ],
)
def test_command_refuses_bad_input_in_one_line(
    north, monday_ledger, argv, line, monkeypatch, capsys
):
    before = AuditEvent.objects.count()
    more = argv.pop("more", ())
    site = argv.pop("site", None)
    given = args(north, *more, **argv)
    if site is not None:
        given = ("--site", site, *given[2:])
    status, out, err = run(monkeypatch, capsys, *given)
    assert (status, out, err.strip()) == (2, "", line)
    assert AuditEvent.objects.count() == before


def test_command_refusal_is_a_command_error_from_code(north):
    with pytest.raises(CommandError) as refused:
        call_command("ledger_report", *args(north, by="nobody"))
    assert (str(refused.value), refused.value.returncode) == (
        "there is no active user 'nobody'", 2,
    )  # fmt: skip
