"""The cohort outcomes page, CSV and PDF on the hand-computed cohort (tests/core/cohort_cases).

Depression protocol only (course F follows Murrough's MADRS protocol): A, B, C, D and H are
classified at the end of induction; A, B, C and H respond (4 of 5), B and H remit (2 of 5).
Relapse among responders: 7 (relapse), 25 (censored), 28 (censored), 29 (relapse) days.
"""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from sustain.accounts.models import AuditEvent, Site, User
from tests.sustain.reports import cohort_db

pytestmark = pytest.mark.api

URL = "/outcomes/"
PERIOD = {"start": "2026-03-01", "end": "2026-05-30", "window": "end"}


@pytest.fixture
def cohort(north: Site, ada: User, ben: User) -> None:
    cohort_db.build(north, prescriber=ada, nurse=ben)


def params(north: Site, **extra: str) -> dict[str, str]:
    return {"site": str(north.pk), "protocol": "depression-induction", **PERIOD, **extra}


def events(user: User) -> list[tuple[str, str, str]]:
    return list(
        AuditEvent.objects.filter(actor=user, category="course")
        .order_by("pk")
        .values_list("action", "outcome", "reason")
    )


def test_prescriber_sees_the_outcomes_beside_the_studies(cohort, north, ada, login) -> None:
    response = login(ada).get(URL, params(north))
    page = response.content.decode()
    assert response.status_code == 200
    for text in (
        "<td>4 of 5</td><td>80.0 %</td><td>0.376–0.964</td>",
        "<td>2 of 5</td><td>40.0 %</td><td>0.118–0.769",
        "Courses started (first infusion in the period)</th><td>7</td>",
        "Patients started</th><td>7</td>",
        "Completed the induction</th><td>6</td>",
        "Left out: induction not completed</th><td>1</td>",
        "Left out: no score in the window</th><td>1</td>",
        "Median 4.5 infusions",  # 2, 2, 3, 6, 6, 6
        "4 responders, 2 relapses. Median 29 days (95 % interval 7 to 29)",
        "different instrument: MADRS vs PHQ-9",  # Murrough beside this clinic's PHQ-9
    ):
        assert text in page, text
    # 3 adverse events in the 42 infusions of the depression courses: 7.1 per 100.
    assert "7.1 (3 in 42 infusions: mild 1, moderate 1, severe 1; serious 0)" in page
    # 1 no-show of 43 visits due (42 given and E's missed one).
    assert "1 of 43 visits due" in page
    # 42 visits × 60 min of 65 weekdays × 10 h × 2 chairs = 2520 / 78000 = 3.2 %.
    assert "3.2 % (2520 chair minutes used of 78000 open" in page
    assert "<svg" in page and "Murrough median 18 d" in page
    assert cohort_db.FAMILY not in page and "ZedA" not in page
    assert events(ada) == [("read", "success", "cohort outcomes page")]


def test_every_protocol_warns_that_the_instruments_differ(cohort, north, ben, login) -> None:
    page = login(ben).get(URL, params(north, protocol="")).content.decode()
    assert "different instruments (MADRS, PHQ-9)" in page
    assert "Courses started (first infusion in the period)</th><td>8</td>" in page
    assert "Left out: baseline not classifiable</th><td>1</td>" in page


def test_mcinnes_window_and_censoring_at_the_first_booster(cohort, north, alex, login) -> None:
    page = login(alex).get(URL, params(north, window="mcinnes", censor="on")).content.decode()
    assert "<td>3 of 5</td><td>60.0 %</td>" in page  # A, B, D respond 14–31 days after
    assert "<td>1 of 5</td><td>20.0 %</td>" in page
    assert "3 responders, 1 relapse." in page  # A, B, D; D censored at its last score


@pytest.mark.parametrize("role_user", ["sam", "ivy", "nora"])
def test_roles_without_the_permission_are_refused(cohort, north, login, request, role_user) -> None:
    user = request.getfixturevalue(role_user)
    for url in (URL, URL + "outcomes.csv", URL + "outcomes.pdf"):
        assert login(user).get(url, params(north)).status_code == 403


def test_another_sites_staff_see_no_such_site(cohort, north, carl, login) -> None:
    assert login(carl).get(URL, params(north)).status_code == 404
    assert login(carl).get(URL + "outcomes.csv", params(north)).status_code == 404


def test_the_page_without_filters_shows_the_last_year(cohort, ada, login) -> None:
    response = login(ada).get(URL)
    assert response.status_code == 200
    assert "Cohort outcomes" in response.content.decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"start": "yesterday"}, "Enter a valid date."),
        ({"end": "2026-02-01"}, "the period ends on 2026-02-01, before it starts on 2026-03-01"),
        ({"start": "1990-01-01"}, "a period is at most ten years long"),
        ({"protocol": "no-such-protocol"}, "Select a valid choice."),
        ({"window": "forever"}, "Select a valid choice."),
        ({"start": "0001-01-01"}, ""),
    ],
)
def test_bad_filters_are_a_message_not_an_error(cohort, north, ada, login, change, message) -> None:
    client = login(ada)
    page = client.get(URL, params(north, **change))
    assert page.status_code == 400
    assert message in page.content.decode()
    download = client.get(URL + "outcomes.csv", params(north, **change))
    assert download.status_code == 400 and message in download.content.decode()
    assert client.get(URL, {**params(north), "site": "abc"}).status_code == 404


def test_csv_holds_the_same_figures_and_no_names(cohort, north, ada, login) -> None:
    response = login(ada).get(URL + "outcomes.csv", params(north))
    text = response.content.decode()
    rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(text))}
    assert response.status_code == 200
    assert rows["response at end of induction"][:5] == ["0.8000", "4", "5", "0.3755", "0.9638"]
    assert rows["remission at end of induction"][:5] == ["0.4000", "2", "5", "0.1176", "0.7693"]
    assert rows["median days to relapse among responders"][:5] == ["29", "2", "4", "7", "29"]
    assert rows["relapse-free at 7 days"][:5] == ["0.7500", "3", "4", "0.1279", "0.9605"]
    assert rows["patients started"][0] == "7"
    assert rows["median infusions to first response"][0] == "4.5"
    assert rows["adverse events per 100 infusions"][:3] == ["7.1", "3", "42"]
    assert rows["McInnes 2022 (community practice, 178 practices): response"][0] == "0.536"
    assert cohort_db.FAMILY not in text and "Zed" not in text
    assert events(ada) == [("export", "success", f"cohort outcomes csv: {len(rows) - 1} rows")]
    assert all(len(reason) <= 40 for *_, reason in events(ada))


def test_pdf_holds_the_same_figures_and_no_names(cohort, north, ada, login) -> None:
    response = login(ada).get(URL + "outcomes.pdf", params(north))
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "4 of 5" in text and "80.0 %" in text and "Median 29 days" in text
    assert cohort_db.FAMILY not in text and "Zed" not in text
    assert events(ada) == [("export", "success", "cohort outcomes pdf")]


def test_the_page_makes_a_fixed_number_of_queries(north, ada, ben, login) -> None:
    client = login(ada)
    cohort_db.build(north, prescriber=ada, nurse=ben)
    with CaptureQueriesContext(connection) as eight:
        assert client.get(URL, params(north)).status_code == 200
    cohort_db.build(north, prescriber=ada, nurse=ben, copy=2)
    with CaptureQueriesContext(connection) as sixteen:
        assert client.get(URL, params(north)).status_code == 200
    assert len(eight.captured_queries) == len(sixteen.captured_queries)


def test_small_cells_show_their_counts_and_say_the_interval_is_wide(north, ada, ben, login):
    cohort_db.build(north, prescriber=ada, nurse=ben, only="AD")
    page = login(ada).get(URL, params(north)).content.decode()
    warning = '<span class="warning">(fewer than 5 courses: the interval is wide)</span>'
    assert f"<td>1 of 2</td><td>50.0 %</td><td>0.095–0.905 {warning}</td>" in page
    assert f"<td>0 of 2</td><td>0.0 %</td><td>0.000–0.658 {warning}</td>" in page
    assert "1 responder, 1 relapse. Median 29 days" in page
    assert "(fewer than 5 responders: the curve is fragile)" in page


def test_a_period_without_courses_says_so(cohort, north, ada, login) -> None:
    response = login(ada).get(URL, params(north, start="2025-01-01", end="2025-12-31"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Courses started (first infusion in the period)</th><td>0</td>" in page
    assert page.count("no course classified yet") == 2
    assert "No course has responded yet." in page and "No responder to follow yet." in page
    assert "no infusion given" in page and "no visit due" in page
    assert "0.0 % (0 chair minutes used of" in page
