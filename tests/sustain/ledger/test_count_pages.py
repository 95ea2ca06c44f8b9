"""The count pages and the count API (issue 12, items 4, 6, 8): blindness before submission,
roles, another site's objects as 404, a refused count as 409 with nothing saved."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sustain.accounts.models import IdempotencyRecord
from sustain.ledger import counts
from sustain.ledger.counts import Amount
from sustain.ledger.models import Count, CountLine, Discrepancy, Inventory
from tests.sustain import clinic_builders as build
from tests.sustain.ledger.conftest import MONDAY, PASSWORD

pytestmark = pytest.mark.api

EVENING = dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.UTC)  # 18:00 in New York


@pytest.fixture(autouse=True)
def _monday_evening():
    with time_machine.travel(EVENING, tick=False):
        yield


def post_count(client, safe, lines, confirmer="nia", password=PASSWORD, key=None):
    body = {"lines": lines, "confirmed_by": confirmer, "confirmed_password": password}
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        f"/api/v1/ledger/locations/{safe.pk}/counts", json.dumps(body),
        content_type="application/json", **headers,
    )  # fmt: skip


def lines(vials, ml="10"):
    return [{"container_id": c.pk, "amount": ml, "unit": "ml"} for c in vials]


def test_count_sheet_api_names_containers_without_balances(vials, safe, login, ben):
    answer = login(ben).get(f"/api/v1/ledger/locations/{safe.pk}/count-sheet")
    assert answer.status_code == 200
    body = answer.json()
    assert [c["number"] for c in body["containers"]] == [1, 2, 3]
    text = answer.content.decode()
    assert "500" not in text
    assert "balance" not in text
    assert "expected" not in text


def test_count_api_compares_only_after_submission(vials, safe, login, ben, nia):
    short = [*lines(vials[:2]), {"container_id": vials[2].pk, "amount": "480", "unit": "mg"}]
    answer = post_count(login(ben), safe, short, confirmer=nia.pk)
    assert answer.status_code == 201
    body = answer.json()
    assert [(x["expected_mg"], x["difference_mg"]) for x in body["lines"]] == [
        ("500.00", "0.00"), ("500.00", "0.00"), ("500.00", "-20.00"),
    ]  # fmt: skip
    (d,) = Discrepancy.objects.all()
    assert body["discrepancies"] == [d.pk]
    listed = login(ben).get("/api/v1/ledger/discrepancies").json()
    assert [(x["id"], x["difference_mg"]) for x in listed] == [(d.pk, "-20.00")]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("left_out", "count_incomplete"),
        ("self", "witness_is_self"),
        ("password", "witness_password"),
    ],
)
def test_a_refused_count_is_a_409_and_saves_nothing(vials, safe, login, ben, nia, change, code):
    body = lines(vials)
    confirmer, password = nia.pk, PASSWORD
    if change == "left_out":
        body = body[1:]
    elif change == "self":
        confirmer = ben.pk
    else:
        password = "guess"  # noqa: S105 - a wrong password, on purpose
    answer = post_count(login(ben), safe, body, confirmer=confirmer, password=password, key="k1")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == code
    assert (Count.objects.count(), CountLine.objects.count()) == (0, 0)
    assert IdempotencyRecord.objects.count() == 0


def test_count_api_idempotency_key_applies_once(vials, safe, login, ben, nia):
    client = login(ben)
    first = post_count(client, safe, lines(vials), confirmer=nia.pk, key="count-1")
    again = post_count(client, safe, lines(vials), confirmer=nia.pk, key="count-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert Count.objects.count() == 1


@pytest.mark.parametrize(("who", "status"), [("alex", 403), ("ivy", 403), ("carl", 404)])
def test_count_api_roles_and_sites(vials, safe, login, nia, who, status, request):
    answer = post_count(login(request.getfixturevalue(who)), safe, lines(vials), confirmer=nia.pk)
    assert answer.status_code == status
    assert Count.objects.count() == 0


def test_discrepancies_api_of_another_site_is_404(vials, login, carl, north):
    assert login(carl).get(f"/api/v1/ledger/discrepancies?site_id={north.pk}").status_code == 404


# -- pages ------------------------------------------------------------------------------------


def test_count_page_is_blind_then_shows_the_comparison(vials, safe, login, ben, nia):
    client = login(ben)
    page = client.get(reverse("ledger:count_new"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "lot K123 #3" in text
    # The form's random tokens may hold any digits; everything else must not show a balance.
    assert "500" not in re.sub(r'<input type="hidden"[^>]*>', "", text)
    form = {
        "site": safe.site_id, "location": safe.pk, "unit": "ml", "confirmed_by": "nia",
        "confirmed_password": PASSWORD,
        **{f"amount_{c.pk}": "10" for c in vials[:2]}, f"amount_{vials[2].pk}": "9.5",
    }  # fmt: skip
    done = client.post(reverse("ledger:count_new"), form)
    count = Count.objects.get()
    assert done.status_code == 302
    assert done.url == reverse("ledger:count_detail", args=[count.pk])
    shown = client.get(done.url).content.decode()
    assert "discrepancy opened" in shown
    assert "-25" in shown


def test_count_page_refusal_saves_nothing_and_says_why(vials, safe, login, ben):
    form = {"location": safe.pk, "unit": "ml", "confirmed_by": "ben",
            "confirmed_password": PASSWORD, **{f"amount_{c.pk}": "10" for c in vials}}  # fmt: skip
    page = login(ben).post(reverse("ledger:count_new"), form)
    assert page.status_code == 200
    assert "a second person confirms the count" in page.content.decode().lower()
    assert Count.objects.count() == 0


def test_end_of_day_hides_balances_from_a_counter_until_counted(vials, safe, login, ben, nia):
    client = login(ben)
    before = client.get(reverse("ledger:end_of_day")).content.decode()
    assert "not counted" in before
    assert "1500" not in before
    assert "once every location is counted" in before
    counts.submit_count(
        location=safe, amounts=[Amount(c.pk, Decimal("10"), "ml") for c in vials],
        confirmed_by=nia, confirmed_password=PASSWORD, by=ben, now=build.at(safe.site, MONDAY, 18),
    )  # fmt: skip
    after = client.get(reverse("ledger:end_of_day")).content.decode()
    assert "1500" in after
    assert "not counted" not in after


@pytest.mark.parametrize(
    ("who", "status"),
    [("ada", 200), ("ben", 200), ("alex", 200), ("ivy", 200), ("sam", 403), ("nora", 403)],
)
def test_end_of_day_per_role(vials, login, who, status, request):
    page = login(request.getfixturevalue(who)).get(reverse("ledger:end_of_day"))
    assert page.status_code == status
    if who in ("alex", "ivy"):  # they do not count: the balance is theirs to see
        assert "1500" in page.content.decode()


@pytest.mark.parametrize(
    ("name", "who", "status"),
    [
        ("ledger:count_new", "ben", 200), ("ledger:count_new", "alex", 403),
        ("ledger:count_new", "ivy", 403), ("ledger:discrepancies", "ivy", 200),
        ("ledger:theft_loss_list", "ivy", 200), ("ledger:theft_loss_new", "alex", 200),
        ("ledger:theft_loss_new", "ben", 403), ("ledger:theft_loss_new", "ivy", 403),
        ("ledger:inventories", "ivy", 200), ("ledger:inventory_new", "alex", 200),
        ("ledger:inventory_new", "ada", 403), ("ledger:inventory_new", "ivy", 403),
    ],
)  # fmt: skip
def test_pages_per_role(vials, login, name, who, status, request):
    assert login(request.getfixturevalue(who)).get(reverse(name)).status_code == status


@pytest.fixture
def short(vials, safe, ben, nia):
    counts.submit_count(
        location=safe, amounts=[*[Amount(c.pk, Decimal("10"), "ml") for c in vials[:2]],
                                Amount(vials[2].pk, Decimal("9.6"), "ml")],
        confirmed_by=nia, confirmed_password=PASSWORD, by=ben, now=build.at(safe.site, MONDAY, 17),
    )  # fmt: skip
    return Discrepancy.objects.get()


def test_resolve_page_closes_as_found_with_a_recount(short, vials, safe, login, alex, ben, nia):
    recount = counts.submit_count(
        location=safe, amounts=[Amount(c.pk, Decimal("10"), "ml") for c in vials],
        confirmed_by=ben, confirmed_password=PASSWORD, by=nia,
        now=build.at(safe.site, MONDAY, 17, 30),
    )  # fmt: skip
    url = reverse("ledger:discrepancy_resolve", args=[short.pk])
    assert login(ben).post(url, {"resolution": "found", "note": "x"}).status_code == 403
    done = login(alex).post(url, {"resolution": "found", "note": "behind the tray",
                                  "recount": recount.pk, "confirm": "on"})  # fmt: skip
    assert done.status_code == 302
    short.refresh_from_db()
    assert (short.resolution, short.recount) == ("found", recount)


def test_resolve_page_refusal_is_shown_and_saves_nothing(short, login, alex):
    url = reverse("ledger:discrepancy_resolve", args=[short.pk])
    page = login(alex).post(url, {"resolution": "found", "note": "x", "confirm": "on"})
    assert page.status_code == 400
    assert "name the recount" in page.content.decode().lower()
    short.refresh_from_db()
    assert short.is_open


def test_theft_page_reports_with_deadlines_and_filings(short, login, alex, north):
    client = login(alex)
    made = client.post(reverse("ledger:theft_loss_new"), {
        "site": north.pk, "discrepancy": [short.pk], "kind": "employee_pilferage",
        "discovered_at": "2026-11-27T17:00", "county": "Kings", "police_notified": "on",
        "police_department": "NYPD, 718-555-0177", "purchase_value_usd": "12.50",
        "confirm": "on",
    })  # fmt: skip
    assert made.status_code == 302
    report = short.__class__.objects.get().report
    assert (report.notice_due_on, report.form_106_due_on) == (
        dt.date(2026, 11, 30),
        dt.date(2027, 1, 11),
    )
    page = client.get(made.url).content.decode()
    assert "Monday 30 November 2026" in page
    filed = client.post(reverse("ledger:theft_loss_file", args=[report.pk, "notice"]),
                        {"at": "2026-11-30T09:00", "confirm": "on"})  # fmt: skip
    assert filed.status_code == 302
    report.refresh_from_db()
    assert report.notice_sent_at == build.at(north, MONDAY, 9)


UNTICKED = "tick the box to confirm this; nothing was changed"


def test_closing_reporting_and_filing_wait_for_their_confirmation(short, login, alex, north):
    """Each is final (a closed discrepancy, a report and its DEA clock, a filing date): without
    the box ticked it is refused, naming what to confirm, and nothing changes."""
    client = login(alex)
    resolve = reverse("ledger:discrepancy_resolve", args=[short.pk])
    page = client.post(resolve, {"resolution": "documentation_error", "note": "typo"})
    assert page.status_code == 400
    assert "I confirm the discrepancy is closed: it cannot be reopened" in page.content.decode()
    assert UNTICKED in page.content.decode()
    short.refresh_from_db()
    assert short.is_open

    report = {
        "site": north.pk, "discrepancy": [short.pk], "kind": "employee_pilferage",
        "discovered_at": "2026-11-27T17:00", "county": "Kings", "purchase_value_usd": "12.50",
    }  # fmt: skip
    page = client.post(reverse("ledger:theft_loss_new"), report).content.decode()
    assert "I confirm the report: it closes the discrepancies chosen" in page and UNTICKED in page
    short.refresh_from_db()
    assert short.is_open and short.report is None
    made = client.post(reverse("ledger:theft_loss_new"), report | {"confirm": "on"})
    assert made.status_code == 302
    theft = short.__class__.objects.get().report

    notice = reverse("ledger:theft_loss_file", args=[theft.pk, "notice"])
    shown = client.post(notice, {"at": "2026-11-30T09:00"}, follow=True).content.decode()
    assert "I confirm the date: it is recorded once and not changed: " + UNTICKED in shown
    theft.refresh_from_db()
    assert theft.notice_sent_at is None
    client.post(notice, {"at": "2026-11-30T09:00", "confirm": "on"})
    theft.refresh_from_db()
    assert theft.notice_sent_at == build.at(north, MONDAY, 9)


def test_another_sites_objects_are_404(short, login, carl):
    client = login(carl)
    assert client.get(reverse("ledger:discrepancy_resolve", args=[short.pk])).status_code in (
        403,
        404,
    )
    assert client.get(reverse("ledger:count_detail", args=[short.count_id])).status_code == 404
    assert client.get(f"{reverse('ledger:discrepancies')}?site={short.site_id}").status_code == 404


def test_inventory_page_records_and_shows_the_next_due(vials, login, alex, north):
    form = {
        "site": north.pk, "kind": "initial", "taken_on": "2026-11-30", "time_of_day": "close",
        "taken_by": "alex", "unit": "ml", **{f"amount_{c.pk}": "10" for c in vials},
    }  # fmt: skip
    unconfirmed = login(alex).post(reverse("ledger:inventory_new"), form, follow=True)
    assert (
        "I confirm the amounts: an inventory is recorded once and a later one cannot predate it: "
        "tick the box to confirm this; nothing was changed"
    ) in unconfirmed.content.decode()
    assert not Inventory.objects.exists()
    done = login(alex).post(reverse("ledger:inventory_new"), form | {"confirm": "on"})
    assert done.status_code == 302
    page = login(alex).get(done.url).content.decode()
    assert "30 November 2028" in page
    inventory = Inventory.objects.get()
    assert (inventory.kind, inventory.taken_by, inventory.lines.count()) == ("initial", alex, 3)


def test_count_page_keeps_what_was_typed_after_a_refusal(vials, safe, login, ben):
    form = {"location": safe.pk, "unit": "mg", "confirmed_by": "nia",
            "confirmed_password": "wrong",
            **{f"amount_{c.pk}": "123.5" for c in vials}}  # fmt: skip
    text = login(ben).post(reverse("ledger:count_new"), form).content.decode()
    assert text.count('value="123.5"') == 3
    assert '<option value="mg" selected>' in text
    assert Count.objects.count() == 0


def test_inventory_page_lists_what_was_held_on_the_day_chosen(vials, login, alex, north):
    client = login(alex)
    before = client.get(reverse("ledger:inventory_new"), {"taken_on": "2026-11-26"})
    assert "Nothing on hand: a zero inventory." in before.content.decode()
    after = client.get(reverse("ledger:inventory_new"), {"taken_on": "2026-11-27"})
    assert after.content.decode().count('name="amount_') == 3
    plain = client.get(reverse("ledger:inventory_new")).content.decode()
    assert "This field is required" not in plain


def shortages(safe, vials, ben, nia, n):
    for minute in range(n):
        counts.submit_count(
            location=safe, amounts=[Amount(c.pk, Decimal("9"), "ml") for c in vials],
            confirmed_by=nia, confirmed_password=PASSWORD, by=ben,
            now=build.at(safe.site, MONDAY, 17, minute),
        )  # fmt: skip


@pytest.mark.parametrize(
    "url", [reverse("ledger:end_of_day"), reverse("ledger:discrepancies"),
            "/api/v1/ledger/discrepancies"],
)  # fmt: skip
def test_lists_take_the_same_queries_for_1_and_3_counts(vials, safe, login, ben, nia, alex, url):
    client = login(alex)
    shortages(safe, vials, ben, nia, 1)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    shortages(safe, vials, ben, nia, 2)
    with CaptureQueriesContext(connection) as three:
        assert client.get(url).status_code == 200
    assert Discrepancy.objects.count() == 9
    assert len(three) == len(one)


def test_end_of_day_lists_the_visits_whose_ledger_is_not_closed(monday_ledger, login, alex):
    page = login(alex).get(reverse("ledger:end_of_day")).content.decode()
    start = page.index("Visits whose ledger is not closed")
    section = page[start : page.index("</section>", start)]
    assert "08:00, infusion 1" in section
    assert "ledger open: 30 mg drawn, not yet given" in section
    assert monday_ledger.patient.given_name not in section  # the visit by time and chair only


def test_end_of_day_says_so_when_every_visit_is_closed(vials, login, alex):
    page = login(alex).get(reverse("ledger:end_of_day")).content.decode()
    assert "None: every milligram drawn today is given or wasted." in page
