"""CSV exports of the list pages (issue 13, item 8): each export's rows are the page's rows
with its filters (every page of them), one audit event names the count, times are in UTC in
"_utc" columns, a role never gets a column it may not see, and no cell runs as a formula."""

import csv
import datetime as dt
import io

import pytest
from django.db.models import Q

from sustain.accounts.enums import AuditAction
from sustain.accounts.exports import cell
from sustain.accounts.models import AuditEvent
from sustain.care import queries
from sustain.care import services as care
from sustain.care.enums import Timepoint
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import TODAY

pytestmark = pytest.mark.api


def read(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def exports() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditAction.EXPORT))


@pytest.fixture
def quinns(north, sam, pat):
    """Pat Quinn (the fixture), Quincy Quill and Zed =Quick: three of them match "qui"."""
    return [
        pat,
        build.register(north, sam, "Quincy", "Quill", on=TODAY),
        build.register(north, sam, "Zed", "=Quick(A1)", on=TODAY),
        build.register(north, sam, "Una", "Other", on=TODAY),
    ]


def test_cell_neutralises_formulas_and_writes_utc():
    for text in ("=SUM(A1)", "+1", "-2+3", "@cmd", "\tx", "\rx"):
        assert cell(text) == "'" + text
    assert cell("Quinn") == "Quinn"
    assert cell(-5) == "-5"  # a number is not a formula
    new_york = dt.timezone(dt.timedelta(hours=-5))
    assert cell(dt.datetime(2026, 11, 30, 8, 0, tzinfo=new_york)) == "2026-11-30T13:00:00Z"
    assert cell(dt.date(2026, 11, 30)) == "2026-11-30"
    assert cell(None) == ""
    with pytest.raises(ValueError, match="aware"):
        cell(dt.datetime(2026, 11, 30, 8, 0))  # noqa: DTZ001 - the refusal under test


def test_patient_export_is_every_page_of_the_search_in_its_order(login, monkeypatch, ben, quinns):
    monkeypatch.setattr(queries, "PATIENTS_PER_PAGE", 2)
    client = login(ben)
    shown = []
    for page in (1, 2):
        response = client.post("/", {"q": "qui", "sort": "-name", "page": page})
        shown += [p.pk for p in response.context["patients"]]
    before = AuditEvent.objects.latest("id").id
    rows = read(client.post("/patients/export.csv", {"q": "qui", "sort": "-name"}))
    assert [int(r["patient_id"]) for r in rows] == shown
    assert len(shown) == 3
    assert [r["family_name"] for r in rows] == ["Quinn", "Quill", "'=Quick(A1)"]
    assert list(rows[0]) == [
        "patient_id", "family_name", "given_name", "date_of_birth", "condition", "course",
        "site", "open_alerts",
    ]  # fmt: skip
    assert rows[0]["date_of_birth"] == "1980-05-17"
    (event,) = AuditEvent.objects.filter(id__gt=before)  # the export, and no other read
    assert (event.action, event.category, event.actor_username, event.reason) == (
        "export", "demographics", "ben", "patients csv: 3 rows",
    )  # fmt: skip


def test_a_role_that_does_not_see_alerts_gets_no_alert_column(login, sam, quinns):
    rows = read(login(sam).post("/patients/export.csv", {"q": ""}))
    assert "open_alerts" not in rows[0]
    assert len(rows) == 4


@pytest.mark.parametrize("user", ["ivy", "nora"])
def test_patient_export_refused_to_roles_without_the_list(request, login, quinns, user):
    assert login(request.getfixturevalue(user)).post("/patients/export.csv").status_code == 403
    assert exports() == []


def test_patient_export_refuses_a_term_that_is_no_date(login, ben, quinns):
    response = login(ben).post("/patients/export.csv", {"q": "2026-02-30"})
    assert response.status_code == 400
    assert "2026-02-30 is not a date" in response.content.decode()
    assert exports() == []


def test_patient_export_is_scoped_to_the_users_sites(login, carl, quinns):
    assert read(login(carl).post("/patients/export.csv", {"q": ""})) == []


def test_patient_export_is_a_post(login, ben):
    assert login(ben).get("/patients/export.csv").status_code == 405


def test_alert_export_rows_are_the_alert_list(login, ben, sam, pat):
    at = build.at(pat.site, TODAY, 10, 30)
    care.record_assessment(
        patient=pat, instrument="phq9", answers=build.phq9(17, item9=1),
        timepoint=Timepoint.BASELINE, by=ben, completed_at=at, now=at,
    )  # fmt: skip
    client = login(ben)
    shown = [a.pk for a in client.get("/alerts/").context["alerts"]]
    rows = read(client.get("/alerts/export.csv"))
    assert [int(r["alert_id"]) for r in rows] == shown
    assert len(shown) == 1
    assert rows[0]["raised_at_utc"] == "2026-11-23T15:30:00Z"  # 10:30 in New York
    assert (rows[0]["family_name"], rows[0]["questionnaire"], rows[0]["score"]) == (
        "Quinn", "PHQ-9", "17",
    )  # fmt: skip
    assert exports()[-1].reason == "alerts csv: 1 row"
    assert login(sam).get("/alerts/export.csv").status_code == 403


@pytest.fixture
def booked(north, ada, ben, sam):
    rae = build.register(north, sam, "Rae", "=Review", on=TODAY)
    course = build.ready_for_series(
        rae, prescriber=ada, nurse=ben, now=build.at(north, TODAY, 10), phq9_total=20,
        gad7_total=12,
    )  # fmt: skip
    return build.book_series(
        course, sam, first=build.at(north, dt.date(2026, 11, 30), 8),
        now=build.at(north, TODAY, 11),
    )  # fmt: skip


def test_visit_export_of_a_day_and_a_week_are_the_boards(login, sam, north, booked):
    client = login(sam)
    day = client.get(f"/schedule/?site={north.pk}&day=2026-11-30")
    on_board = [v.pk for _, visits in day.context["rows"] for v, *_ in visits]
    response = client.get(f"/schedule/visits.csv?site={north.pk}&day=2026-11-30")
    assert response["Content-Disposition"] == (
        f'attachment; filename="visits-{north.pk}-2026-11-30.csv"'
    )
    rows = read(response)
    assert exports()[-1].reason == "visits day csv: 1 row"
    assert [int(r["visit_id"]) for r in rows] == on_board == [booked[0].pk]
    first = booked[0]
    assert rows[0]["starts_at_utc"] == first.starts_at.astimezone(dt.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert (rows[0]["day"], rows[0]["family_name"], rows[0]["status"]) == (
        "2026-11-30", "'=Review", "Booked",
    )  # fmt: skip
    week = client.get(f"/schedule/week/?site={north.pk}&day=2026-12-02")
    in_week = {v.pk for _, per_day in week.context["rows"] for vs in per_day for v in vs}
    rows = read(client.get(f"/schedule/visits.csv?site={north.pk}&day=2026-12-02&week=1"))
    assert {int(r["visit_id"]) for r in rows} == in_week
    assert len(rows) == len(in_week) > 1
    assert rows == sorted(rows, key=lambda r: r["day"])
    event = exports()[-1]
    assert (event.site_id, event.category, event.reason) == (
        north.pk, "schedule", f"visits week csv: {len(rows)} rows",
    )  # fmt: skip


def test_visit_export_shows_no_other_sites_visits(login, carl, north, booked):
    rows = read(login(carl).get(f"/schedule/visits.csv?site={north.pk}&day=2026-11-30"))
    assert rows == []  # Carl's own site, South, where nothing is booked


def test_audit_export_is_the_users_trail_newest_first(login, ivy, ada, pat):
    client = login(ivy)
    visible = AuditEvent.objects.filter(Q(site__isnull=False) | Q(actor=ivy))  # North only
    expected = list(visible.order_by("-seq").values_list("seq", flat=True))
    assert len(expected) > 1
    rows = read(client.get("/accounts/audit/export.csv"))
    assert [int(r["seq"]) for r in rows] == expected
    assert rows[0]["recorded_at_utc"].endswith("Z")
    assert exports()[-1].reason == f"audit csv: {len(expected)} rows"
    assert login(ada).get("/accounts/audit/export.csv").status_code == 403
