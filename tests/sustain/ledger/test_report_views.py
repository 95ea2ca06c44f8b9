"""The dispensing record's pages (issue 12, item 5): on screen, CSV and PDF, for clinic
administrators and auditors only; another site is a 404; bad days are a 400 in plain words; the
URL carries no patient; each page is one audited export."""

import csv
import io

import pytest

from sustain.accounts.enums import AuditAction
from sustain.accounts.models import AuditEvent
from sustain.ledger import report
from tests.sustain.conftest import make_user

pytestmark = pytest.mark.api

DAYS = "start=2026-11-27&end=2026-11-30"
PAGES = ("/ledger/report/", "/ledger/report.csv", "/ledger/report.pdf")


def exports() -> int:
    return AuditEvent.objects.filter(action=AuditAction.EXPORT).count()


def test_administrator_sees_the_record_with_patients_named(
    login, alex, north, monday_ledger, pat_address
):
    response = login(alex).get(f"/ledger/report/?site={north.pk}&{DAYS}")
    html = response.content.decode()
    assert response.status_code == 200
    for text in ("BN1234563", "Pat Quinn", "12 Elm Street<br>Albany, NY 12207", "Henry Schein",
                 "drawn; no administration recorded", "Closing balance", "465"):  # fmt: skip
        assert text in html
    assert (
        f'href="/ledger/report.csv?site={north.pk}&amp;start=2026-11-27&amp;end=2026-11-30"' in html
    )
    assert exports() == 1


def test_auditor_sees_references_not_patients(login, ivy, north, pat, monday_ledger, pat_address):
    html = login(ivy).get(f"/ledger/report/?site={north.pk}&{DAYS}").content.decode()
    assert f"patient ref {pat.pk}" in html
    assert ("Quinn" in html, "Elm Street" in html) == (False, False)


def test_the_form_alone_audits_nothing(login, alex, north):
    response = login(alex).get("/ledger/report/")
    assert (response.status_code, response.context.get("record"), exports()) == (200, None, 0)


def test_csv_download(login, alex, north, monday_ledger):
    response = login(alex).get(f"/ledger/report.csv?site={north.pk}&{DAYS}")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    # The header, 13 ledger rows, and the next inventory due (none recorded).
    assert (response.status_code, response["Content-Type"], tuple(rows[0]), len(rows)) == (
        200, "text/csv; charset=utf-8", report.CSV_COLUMNS, 15,
    )  # fmt: skip
    assert response["Content-Disposition"] == (
        f'attachment; filename="dispensing-record-{north.pk}-2026-11-27-2026-11-30.csv"'
    )
    assert exports() == 1


def test_pdf_download(login, ivy, north, monday_ledger):
    response = login(ivy).get(f"/ledger/report.pdf?site={north.pk}&{DAYS}")
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    assert response.content.startswith(b"%PDF-")
    assert exports() == 1


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("persona", ["ada", "ben", "sam", "nora", "carl"])
def test_other_roles_are_refused(login, north, persona, page, request):
    user = request.getfixturevalue(persona)
    response = login(user).get(f"{page}?site={north.pk}&{DAYS}")
    assert (response.status_code, exports()) == (403, 0)


@pytest.mark.parametrize("page", PAGES)
def test_another_sites_administrator_finds_no_site(login, north, south, page):
    sid = make_user("sid", "clinic_admin", south)
    response = login(sid).get(f"{page}?site={north.pk}&{DAYS}")
    assert (response.status_code, exports()) == (404, 0)


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_is_sent_to_sign_in(client, north, page):
    response = client.get(f"{page}?site={north.pk}&{DAYS}")
    assert (response.status_code, response["Location"].split("?")[0]) == (302, "/accounts/login/")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-11-30&end=2026-11-27",
         "To: the range ends on 2026-11-27, before it starts on 2026-11-30"),
        ("start=30/11/2026&end=2026-11-30", "From: Enter a valid date."),
        ("end=2026-11-30", "From: This field is required."),
    ],
)  # fmt: skip
@pytest.mark.parametrize("page", ["/ledger/report.csv", "/ledger/report.pdf"])
def test_bad_days_are_a_plain_400(login, alex, north, page, query, message):
    response = login(alex).get(f"{page}?site={north.pk}&{query}")
    assert (response.status_code, response.content.decode(), exports()) == (400, message, 0)


def test_bad_days_on_the_page_show_on_the_form(login, alex, north):
    response = login(alex).get(f"/ledger/report/?site={north.pk}&start=2026-11-30&end=2026-11-27")
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "end": ["the range ends on 2026-11-27, before it starts on 2026-11-30"]
    }


@pytest.mark.parametrize("site", ["abc", "999", ""])
def test_a_site_that_is_not_one_is_not_found(login, alex, north, site):
    assert login(alex).get(f"/ledger/report.csv?site={site}&{DAYS}").status_code == 404
