"""Finding a patient (issue 13, item 1): the patient list searched by a part of the name or
the date of birth, 50 a page, sorted by name or date of birth, only the user's sites' patients;
the search sent by POST, so no name or date of birth is ever in a URL. Registration refuses a
possible duplicate until confirmed, and saves nothing when it refuses."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from sustain.accounts.models import AuditEvent, Site, User
from sustain.care import services
from sustain.care.models import Patient
from sustain.care.queries import PATIENTS_PER_PAGE
from tests.sustain.conftest import TODAY

pytestmark = pytest.mark.api


def register(site: Site, by: User, given: str, family: str, born: dt.date, **kwargs) -> Patient:
    return services.register_patient(
        by=by, site=site, given_name=given, family_name=family, date_of_birth=born,
        sex="unknown", phone="", email="", primary_condition="depression",
        weight_kg=Decimal("70.0"), today=TODAY, now=timezone.now(), **kwargs,
    )  # fmt: skip


@pytest.fixture
def people(north, south, sam, carl) -> None:
    register(north, sam, "Rowan", "Tester", dt.date(1985, 4, 12))
    register(north, sam, "Ann", "Rowland", dt.date(1990, 6, 1))
    register(north, sam, "Robin", "Ellis", dt.date(1985, 4, 13))
    register(south, carl, "Rowan", "Southerly", dt.date(1985, 4, 12))


def listed(response) -> list[str]:
    return [str(patient) for patient in response.context["patients"]]


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("row", ["Rowland, Ann", "Tester, Rowan"]),
        ("ROWAN", ["Tester, Rowan"]),
        ("rowan tester", ["Tester, Rowan"]),
        ("tester rowland", []),
        ("1985-04-12", ["Tester, Rowan"]),
        ("1985-04-13 ellis", ["Ellis, Robin"]),
        ("", ["Ellis, Robin", "Rowland, Ann", "Tester, Rowan"]),
    ],
)
def test_the_list_finds_a_part_of_a_name_or_a_birth_date_at_the_users_sites(
    login, people, sam, q, found
):
    response = login(sam).post("/", {"q": q})
    assert response.status_code == 200
    assert listed(response) == found  # never South's Rowan Southerly


def test_another_sites_user_finds_only_their_own(login, people, carl):
    assert listed(login(carl).post("/", {"q": "rowan"})) == ["Southerly, Rowan"]


def test_a_term_in_the_url_is_ignored_the_search_is_posted(login, people, sam):
    """A GET's query string lands in server logs: the search is a POST form and a `q` in the
    URL finds nothing (the whole list is shown)."""
    response = login(sam).get("/", {"q": "rowan"})
    assert len(listed(response)) == 3
    assert 'method="post" id="patient-search"' in response.content.decode()


def test_a_search_is_audited_once(login, people, sam):
    client = login(sam)
    before = AuditEvent.objects.filter(action="read", category="demographics").count()
    client.post("/", {"q": "rowan"})
    after = AuditEvent.objects.filter(action="read", category="demographics").count()
    assert after == before + 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"q": "1985-02-30"}, "q", "1985-02-30 is not a date (YYYY-MM-DD)"),
        ({"sort": "pk"}, "sort", "Select a valid choice."),
        ({"page": "two"}, "page", "Enter a whole number."),
        ({"page": "0"}, "page", "greater than or equal to 1"),
    ],
)
def test_bad_search_input_is_named_and_the_first_page_shown(
    login, people, sam, data, field, message
):
    response = login(sam).post("/", data)
    assert response.status_code == 400
    assert message in response.context["form"].errors[field][0]
    assert len(listed(response)) == 3


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("name", ["Ellis, Robin", "Rowland, Ann", "Tester, Rowan"]),
        ("-name", ["Tester, Rowan", "Rowland, Ann", "Ellis, Robin"]),
        ("born", ["Tester, Rowan", "Ellis, Robin", "Rowland, Ann"]),
        ("-born", ["Rowland, Ann", "Ellis, Robin", "Tester, Rowan"]),
    ],
)
def test_the_list_sorts_by_name_or_date_of_birth(login, people, sam, sort, order):
    assert listed(login(sam).post("/", {"sort": sort})) == order


def test_the_list_shows_50_a_page(login, north, sam):
    for n in range(PATIENTS_PER_PAGE + 2):
        register(north, sam, f"G{n:03d}", "Paged", dt.date(1950, 1, 1) + dt.timedelta(days=n))
    register(north, sam, "Other", "Person", dt.date(1960, 1, 1))
    client = login(sam)
    first = client.post("/", {"q": "paged"})
    assert listed(first) == [f"Paged, G{n:03d}" for n in range(50)]
    assert "Page 1 of 2 (52 patients)" in first.content.decode()
    second = client.post("/", {"q": "paged", "page": "2"})
    assert listed(second) == ["Paged, G050", "Paged, G051"]
    # A page past the end shows the last one; sorted, the page follows the order.
    assert listed(client.post("/", {"q": "paged", "page": "9"})) == listed(second)
    youngest = client.post("/", {"q": "paged", "sort": "-born", "page": "2"})
    assert listed(youngest) == ["Paged, G001", "Paged, G000"]
    assert len(listed(client.get("/"))) == 50


@pytest.mark.parametrize(("user", "status"), [("sam", 200), ("ivy", 403), ("nora", 403)])
def test_only_roles_that_see_patients_search(login, people, sam, ivy, nora, user, status):
    users = {"sam": sam, "ivy": ivy, "nora": nora}
    assert login(users[user]).post("/", {"q": "rowan"}).status_code == status


# -- the duplicate check at registration ----------------------------------------------------

FORM = {
    "given_name": "Rowan",
    "family_name": "Tester",
    "date_of_birth": "1985-04-12",
    "sex": "unknown",
    "phone": "",
    "email": "",
    "primary_condition": "depression",
    "weight_kg": "70.0",
}


@pytest.mark.parametrize(
    ("changes", "duplicates"),
    [
        ({}, ["Tester, Rowan"]),
        ({"given_name": "ROWAN", "family_name": " tester "}, ["Tester, Rowan"]),
        ({"given_name": "Rhea"}, ["Tester, Rowan"]),  # the same family, born the same day
        ({"date_of_birth": "1985-04-13"}, ["Tester, Rowan"]),  # the same name, a day apart
        ({"date_of_birth": "1985-04-11"}, ["Tester, Rowan"]),
    ],
)
def test_a_possible_duplicate_is_refused_until_confirmed(
    login, people, north, sam, changes, duplicates
):
    client = login(sam)
    count, created = Patient.objects.count(), AuditEvent.objects.filter(action="create").count()
    refused = client.post("/patients/new/", FORM | changes | {"site": north.pk})
    assert refused.status_code == 400
    assert [str(p) for p in refused.context["duplicates"]] == duplicates
    assert "may be the same person" in refused.context["form"].errors["confirm_duplicate"][0]
    page = refused.content.decode()
    assert "Possibly already registered" in page
    assert 'type="checkbox" name="confirm_duplicate"' in page
    assert Patient.objects.count() == count
    assert AuditEvent.objects.filter(action="create").count() == created

    confirmed = client.post(
        "/patients/new/", FORM | changes | {"site": north.pk, "confirm_duplicate": "on"}
    )
    patient = Patient.objects.latest("pk")
    assert confirmed.status_code == 302
    assert confirmed.url == f"/patients/{patient.pk}/"
    assert Patient.objects.count() == count + 1
    assert AuditEvent.objects.filter(action="create", patient_id=patient.pk).exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"date_of_birth": "1985-04-14"},  # the same name, two days apart
        {"given_name": "Rhea", "date_of_birth": "1985-04-13"},  # another name, another day
        {"family_name": "Testa"},
    ],
)
def test_someone_else_is_registered_without_asking(login, people, north, sam, changes):
    client = login(sam)
    form = client.get("/patients/new/").content.decode()
    assert 'type="hidden" name="confirm_duplicate"' in form  # not asked before it is needed
    response = client.post("/patients/new/", FORM | changes | {"site": north.pk})
    assert response.status_code == 302
    assert Patient.objects.filter(site=north).count() == 4


def test_another_sites_patient_is_no_duplicate(login, people, south, carl):
    """South has Rowan Southerly; Rowan Tester, born the same day, is North's only."""
    response = login(carl).post("/patients/new/", FORM | {"site": south.pk})
    assert response.status_code == 302
    assert Patient.objects.filter(site=south).count() == 2


def test_the_service_refuses_a_duplicate_and_saves_nothing(people, north, sam):
    count = Patient.objects.count()
    with pytest.raises(services.PossibleDuplicates, match="1 patient") as refused:
        register(north, sam, "rowan", "TESTER", dt.date(1985, 4, 12))
    assert [str(p) for p in refused.value.patients] == ["Tester, Rowan"]
    assert Patient.objects.count() == count
    again = register(north, sam, "Rowan", "Tester", dt.date(1985, 4, 12), confirm_duplicate=True)
    assert Patient.objects.filter(family_name="Tester").count() == 2
    assert again.pk is not None
