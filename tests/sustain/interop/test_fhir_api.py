"""The read-only FHIR R4 API at /fhir/R4/ (issue 16, items 2 and 8; sustain.interop.fhir.views).

Served over the real catalog's Patient source, and a test-only Observation source (one
Observation per patient, their registration as a weight reading; care.view_assessment, as the
score Observations need) for a second type a scheduler may not read. Every answer is checked
against the pinned R4 JSON schema (FHIR-01)."""

import datetime as dt
import json
from urllib.parse import quote, urlencode, urlsplit

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sustain.accounts.enums import AuditOutcome, DataCategory
from sustain.accounts.models import AuditEvent, Site, User
from sustain.care.models import Patient
from sustain.interop.fhir import catalog, patients
from sustain.interop.fhir.registry import Json, Source, model_json
from tests.sustain.interop.fhir_checks import schema_errors

pytestmark = pytest.mark.api

FHIR = "application/fhir+json"
FORM = "application/x-www-form-urlencoded"


def _observation_rows(site_ids: frozenset[int]) -> QuerySet[Patient]:
    return Patient.objects.filter(site__in=site_ids).order_by("pk")


def _observation(patient: Patient) -> list[Json]:
    return [
        model_json(
            "Observation",
            {
                "resourceType": "Observation",
                "id": f"testobs-{patient.pk}",
                "status": "final" if patient.sex == "female" else "preliminary",
                "category": [{"coding": [{"system": "urn:sustain:test", "code": "weight"}]}],
                "code": {"coding": [{"system": "urn:sustain:test", "code": "registered"}]},
                "subject": {"reference": f"Patient/patient-{patient.pk}"},
                "effectiveDateTime": patient.created_at.isoformat(),
                "performer": [{"reference": f"Organization/site-{patient.site_id}"}],
            },
        )
    ]


OBSERVATIONS = Source(
    type="Observation",
    prefix="testobs",
    permission="care.view_assessment",
    category=DataCategory.QUESTIONNAIRE,
    rows=_observation_rows,
    build=_observation,
    patient="pk",
    date="created_at",
)


@pytest.fixture
def observations(monkeypatch):
    """The API's mechanics over two known sources: Patient and a test Observation (the real
    catalog is served end to end in test_fhir_end_to_end.py)."""
    monkeypatch.setattr(catalog, "SOURCES", (patients.PATIENTS, OBSERVATIONS))


def add_patients(site: Site, by: User, n: int, start: int = 0) -> list[Patient]:
    return [
        Patient.objects.create(
            site=site,
            given_name=f"Given{i}",
            family_name=f"Family{i}",
            date_of_birth=dt.date(1970, 1, 1) + dt.timedelta(days=i),
            sex="female" if i % 2 else "male",
            primary_condition="depression",
            created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=i),
            created_by=by,
            mrn=f"T{site.pk}-{i}",
        )
        for i in range(start, start + n)
    ]


def body(response) -> Json:
    assert response["Content-Type"] == FHIR, response.content[:200]
    data = json.loads(response.content)
    # The pinned R4 schema (v4.0.0's) lists FHIR versions up to 4.0.0; R4's is 4.0.1.
    known = "CapabilityStatement/None at fhirVersion: '4.0.1' is not one of"
    assert [e for e in schema_errors(data) if not e.startswith(known)] == []
    return data


def problem(response, status: int) -> str:
    """The OperationOutcome's message, after checking the status and the shape."""
    assert response.status_code == status, response.content[:300]
    data = body(response)
    assert data["resourceType"] == "OperationOutcome"
    assert b"Traceback" not in response.content
    return data["issue"][0]["diagnostics"]


def reads(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="read", **filters).order_by("id"))


# -- metadata ------------------------------------------------------------------------------------


def test_metadata_needs_no_sign_in_and_names_every_type(db, client, observations):
    data = body(client.get("/fhir/R4/metadata"))
    assert data["fhirVersion"] == "4.0.1"
    rest = data["rest"][0]
    types = {r["type"]: r for r in rest["resource"]}
    assert set(catalog.types()) <= set(types)
    patient = types["Patient"]
    assert {"read", "search-type"} == {i["code"] for i in patient["interaction"]}
    assert {"name", "family", "birthdate", "identifier", "_id"} <= {
        p["name"] for p in patient["searchParam"]
    }
    assert patient["operation"][0]["name"] == "everything"
    observation = {p["name"]: p["type"] for p in types["Observation"]["searchParam"]}
    assert observation | {"date": "date", "code": "token", "status": "token"} == observation
    assert "Observation:patient" in types["Observation"]["searchInclude"]
    oauth = rest["security"]["extension"][0]
    assert oauth["extension"][0]["valueUri"] == "http://testserver/fhir/R4/auth/token"
    assert rest["operation"][0]["name"] == "export"


# -- access ----------------------------------------------------------------------------------------


def test_a_scheduler_reads_patients_but_no_observation(login, sam, pat, observations):
    client = login(sam)
    data = body(client.get("/fhir/R4/Patient"))
    assert [e["resource"]["id"] for e in data["entry"]] == [f"patient-{pat.pk}"]
    assert "Your role may not read Observation" in problem(client.get("/fhir/R4/Observation"), 403)
    message = problem(client.get(f"/fhir/R4/Observation/testobs-{pat.pk}"), 403)
    assert "may not read" in message
    denied = reads(outcome=AuditOutcome.DENIED)
    assert [(e.actor, e.category, e.reason) for e in denied] == [
        (sam, DataCategory.QUESTIONNAIRE, "FHIR search Observation"),
        (sam, DataCategory.QUESTIONNAIRE, "FHIR read Observation"),
    ]


def test_a_prescriber_reads_the_observation_and_the_read_is_audited(login, ada, pat, observations):
    response = login(ada).get(f"/fhir/R4/Observation/testobs-{pat.pk}")
    assert response.status_code == 200
    assert body(response)["subject"]["reference"] == f"Patient/patient-{pat.pk}"
    event = reads(actor=ada)[-1]
    assert (event.category, event.patient_id, event.site_id, event.outcome) == (
        DataCategory.QUESTIONNAIRE, pat.pk, pat.site_id, AuditOutcome.SUCCESS
    )  # fmt: skip


def test_another_sites_patient_is_a_404_audited_as_denied(login, carl, pat):
    client = login(carl)
    message = problem(client.get(f"/fhir/R4/Patient/patient-{pat.pk}"), 404)
    assert "No Patient" in message
    assert problem(client.get(f"/fhir/R4/Patient/patient-{pat.pk + 1000}"), 404)
    denied = reads(actor=carl, outcome=AuditOutcome.DENIED)
    assert [e.patient_id for e in denied] == [pat.pk, None]
    assert problem(client.get(f"/fhir/R4/Patient/patient-{pat.pk}/$everything"), 404)
    assert reads(actor=carl, outcome=AuditOutcome.DENIED)[-1].patient_id == pat.pk
    assert body(client.get("/fhir/R4/Patient"))["total"] == 0
    assert body(client.get(f"/fhir/R4/Patient?_id=patient-{pat.pk}"))["total"] == 0


def test_read_by_id(login, ada, pat):
    data = body(login(ada).get(f"/fhir/R4/Patient/patient-{pat.pk}"))
    assert (data["id"], data["name"][0]["family"]) == (f"patient-{pat.pk}", "Quinn")
    event = reads(actor=ada)[-1]
    assert (event.category, event.patient_id, event.reason) == (
        DataCategory.DEMOGRAPHICS, pat.pk, "FHIR read Patient"
    )  # fmt: skip


def test_everything_is_the_patients_readable_record(login, ada, sam, pat, observations):
    data = body(login(ada).get(f"/fhir/R4/Patient/patient-{pat.pk}/$everything"))
    assert data["type"] == "searchset"
    assert {(e["resource"]["resourceType"], e["search"]["mode"]) for e in data["entry"]} == {
        ("Patient", "match"), ("Observation", "match")
    }  # fmt: skip
    assert all(e["fullUrl"].startswith("http://testserver/fhir/R4/") for e in data["entry"])
    event = reads(actor=ada)[-1]
    assert (event.category, event.patient_id, event.reason) == (
        DataCategory.PATIENT_RECORD, pat.pk, "FHIR Patient $everything"
    )  # fmt: skip
    scheduler = body(login(sam).get(f"/fhir/R4/Patient/patient-{pat.pk}/$everything"))
    assert [e["resource"]["resourceType"] for e in scheduler["entry"]] == ["Patient"]


# -- search ----------------------------------------------------------------------------------------


def test_paging_links_followed_to_the_end_give_every_row_once(login, ada, north, observations):
    made = add_patients(north, ada, 23)
    client = login(ada)
    url = "/fhir/R4/Observation?_count=5&date=ge2026-01-01"
    seen: list[str] = []
    pages = 0
    while url:
        data = body(client.get(url))
        assert data["total"] == 23
        seen += [e["resource"]["id"] for e in data["entry"]]
        links = {link["relation"]: link["url"] for link in data["link"]}
        assert "date=ge2026-01-01" in links["self"]
        assert ("previous" in links) == (pages > 0)
        url = links.get("next", "")
        url = url and f"{urlsplit(url).path}?{urlsplit(url).query}"
        pages += 1
    assert pages == 5
    assert sorted(seen) == sorted(f"testobs-{p.pk}" for p in made)
    assert len(set(seen)) == 23


def _second(patient: Patient) -> list[Json]:
    return [{**_observation(patient)[0], "id": f"second-{patient.pk}"}]


def test_paging_across_two_sources_of_a_type_gives_every_row_once(login, ada, north, monkeypatch):
    second = Source(
        type="Observation", prefix="second", permission="care.view_assessment",
        category=DataCategory.COURSE, rows=_observation_rows, build=_second, patient="pk",
        date="created_at",
    )  # fmt: skip
    monkeypatch.setattr(catalog, "SOURCES", (*catalog.SOURCES, OBSERVATIONS, second))
    made = add_patients(north, ada, 7)
    client = login(ada)
    for query in ("_count=3", "_count=3&status=final,preliminary"):
        url, seen = f"/fhir/R4/Observation?{query}", []
        while url:
            data = body(client.get(url))
            assert data["total"] == 14
            seen += [e["resource"]["id"] for e in data["entry"]]
            link = next((x["url"] for x in data["link"] if x["relation"] == "next"), "")
            url = link and f"{urlsplit(link).path}?{urlsplit(link).query}"
        expected = [f"{prefix}-{p.pk}" for prefix in ("testobs", "second") for p in made]
        assert seen == expected, query
    event = reads(actor=ada)[-1]
    assert event.category == DataCategory.PATIENT_RECORD  # two categories read


def test_paging_over_json_matches_gives_every_match_once(login, ada, north, observations):
    made = add_patients(north, ada, 12)
    client = login(ada)
    url = "/fhir/R4/Observation?status=final&_count=4"
    seen: list[str] = []
    while url:
        data = body(client.get(url))
        seen += [e["resource"]["id"] for e in data["entry"]]
        link = next((x["url"] for x in data["link"] if x["relation"] == "next"), "")
        url = link and f"{urlsplit(link).path}?{urlsplit(link).query}"
    assert seen == [f"testobs-{p.pk}" for p in made if p.sex == "female"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("date=2026-01-03", [2]),
        ("date=2026-01", list(range(6))),
        ("date=lt2026-01-03", [0, 1]),
        ("date=le2026-01-03", [0, 1, 2]),
        ("date=gt2026-01-03", [3, 4, 5]),
        ("date=ge2026-01-03&date=lt2026-01-05", [2, 3]),
        ("date=ne2026-01-03", [0, 1, 3, 4, 5]),
        ("date=2026-01-02T00:00:00Z", [1]),
        ("date=2026-01-02T00:00:00%2B01:00", []),
        ("date=2025", []),
        ("code=urn:sustain:test|registered&status=final", [1, 3, 5]),
        ("code=registered", list(range(6))),
        ("code=http://loinc.org|registered", []),
        ("code=|registered", []),
        ("category=weight,other", list(range(6))),
        ("status=preliminary", [0, 2, 4]),
        ("patient=Patient/patient-{2}", [2]),
        ("subject=patient-{2},patient-{4}", [2, 4]),
        ("patient=patient-99999999999999999999", []),
        ("_id=testobs-{3}", [3]),
    ],
)
def test_observation_search(login, ada, north, observations, query, expected):
    made = add_patients(north, ada, 6)
    query = query.format(*(p.pk for p in made))
    data = body(login(ada).get(f"/fhir/R4/Observation?{query}"))
    assert [e["resource"]["id"] for e in data["entry"]] == [
        f"testobs-{made[i].pk}" for i in expected
    ]
    assert data["total"] == len(expected)


def test_patient_search_by_its_own_parameters(login, ada, pat):
    client = login(ada)
    for query in ("name=pat%20qu", "family=quinn", "given=PAT", "birthdate=1980-05-17"):
        data = body(client.get(f"/fhir/R4/Patient?{query}"))
        assert [e["resource"]["id"] for e in data["entry"]] == [f"patient-{pat.pk}"], query
    data = body(client.get(f"/fhir/R4/Patient?identifier={pat.mrn}"))
    assert data["total"] == 1
    assert body(client.get("/fhir/R4/Patient?family=Smith"))["total"] == 0


def test_one_patients_search_names_them_in_the_audit_event(login, ada, pat, observations):
    login(ada).get(f"/fhir/R4/Observation?patient=patient-{pat.pk}")
    event = reads(actor=ada)[-1]
    assert (event.reason, event.patient_id, event.outcome) == (
        "FHIR search Observation", pat.pk, AuditOutcome.SUCCESS
    )  # fmt: skip


def test_include_adds_the_patients_once(login, ada, north, observations):
    made = add_patients(north, ada, 3)
    data = body(login(ada).get("/fhir/R4/Observation?_include=Observation:patient"))
    modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in data["entry"]]
    assert modes == [("Observation", "match")] * 3 + [("Patient", "include")] * 3
    assert data["total"] == 3
    included = {e["resource"]["id"] for e in data["entry"] if e["search"]["mode"] == "include"}
    assert included == {f"patient-{p.pk}" for p in made}


def test_count_is_capped_at_200_and_zero_gives_the_total(login, ada, north, observations):
    add_patients(north, ada, 3)
    client = login(ada)
    data = body(client.get("/fhir/R4/Observation?_count=0"))
    assert (data["total"], data.get("entry", [])) == (3, [])
    self_link = body(client.get("/fhir/R4/Observation?_count=5000"))["link"][0]["url"]
    assert "_count=200" in self_link


def test_a_search_page_reads_a_bounded_number_of_rows(login, ada, north, observations):
    """The same queries for a page of 5 as of 25 (no query per row), and few of them: the
    session and the second factor, the role's permissions, the sites, one COUNT and one page
    per source, the included patients, the audit event."""
    add_patients(north, ada, 30)
    client = login(ada)
    client.get("/fhir/R4/Observation?_count=5")  # the session's first use
    for query in ("_include=Observation:patient", "status=final", "date=ge2026"):
        counts = []
        for n in (5, 25):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(f"/fhir/R4/Observation?{query}&_count={n}").status_code == 200
            counts.append(len(queries))
        assert counts[0] == counts[1] <= 20, (query, counts)


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/fhir/R4/Unicorn", 404, "Unknown resource type"),
        ("/fhir/R4/Unicorn/1", 404, "Unknown resource type"),
        ("/fhir/R4/Patient/patient-999999", 404, "No Patient"),
        ("/fhir/R4/Patient/%C2%B2", 404, "No Patient"),
        ("/fhir/R4/Patient/nothing-1", 404, "No Patient"),
        ("/fhir/R4/Patient/1/2/3", 404, "Nothing is served"),
        ("/fhir/R4/", 404, "Nothing is served"),
        ("/fhir/R4/Patient?colour=blue", 400, "'colour'"),
        ("/fhir/R4/Patient?name:exact=x", 400, "'name:exact'"),
        ("/fhir/R4/Patient?_elements=id", 400, "'_elements'"),
        ("/fhir/R4/Patient?date=2026", 400, "Unknown search parameter 'date'"),
        ("/fhir/R4/Patient?birthdate=yesterday", 400, "birthdate"),
        ("/fhir/R4/Observation?date=2026-13-01", 400, "not a valid date"),
        ("/fhir/R4/Observation?date=sa2026", 400, "prefix 'sa'"),
        ("/fhir/R4/Observation?date=soon", 400, "not a FHIR date"),
        ("/fhir/R4/Observation?_count=many", 400, "_count"),
        ("/fhir/R4/Observation?_count=-1", 400, "_count"),
        ("/fhir/R4/Observation?_offset=-1", 400, "_offset"),
        ("/fhir/R4/Observation?_include=Observation:performer", 400, "_include"),
        ("/fhir/R4/Patient?_include=Patient:patient", 400, "_include"),
        ("/fhir/R4/Patient/patient-1?colour=blue", 400, "'colour'"),
        ("/fhir/R4/Patient/patient-1/$everything?_type=Patient", 400, "'_type'"),
        ("/fhir/R4/Patient?_format=xml", 406, "Only JSON"),
    ],
)
def test_errors_are_operation_outcomes(login, ada, pat, observations, path, status, words):
    assert words in problem(login(ada).get(path), status)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/fhir/R4/Patient", "/fhir/R4/Patient/patient-1", "/fhir/R4/"])
def test_writes_are_405(login, ada, method, path):
    response = getattr(login(ada), method)(path, data="{", content_type=FHIR)
    assert "read-only" in problem(response, 405)
    assert response["Allow"] == "GET"


def test_a_token_client_posting_without_csrf_gets_405(db, pat):
    client = Client(enforce_csrf_checks=True)
    assert problem(client.post("/fhir/R4/Patient", data="{}", content_type=FHIR), 405)


def test_xml_is_not_acceptable(login, ada, pat):
    client = login(ada)
    assert problem(client.get("/fhir/R4/Patient", HTTP_ACCEPT="application/fhir+xml"), 406)
    assert problem(client.get("/fhir/R4/metadata", HTTP_ACCEPT="text/xml"), 406)
    ok = client.get("/fhir/R4/Patient", HTTP_ACCEPT="text/html,application/xml;q=0.9,*/*;q=0.8")
    assert ok.status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/fhir/R4/Patient", "/fhir/R4/Patient/patient-1", "/fhir/R4/Patient/patient-1/$everything"],
)
def test_no_caller_is_a_401(db, client, nora, login, path):
    assert problem(client.get(path), 401)
    assert problem(login(nora).get(path), 401)  # no role
    assert problem(client.get(path, HTTP_AUTHORIZATION="Basic abc"), 401)


def test_a_signed_in_user_short_of_the_second_factor_gets_a_401(db, client, ada):
    client.force_login(ada)
    response = client.get("/fhir/R4/Patient")
    assert problem(response, 401)


def test_a_session_past_its_lifetime_gets_a_401_not_a_login_page(login, ada, pat, settings):
    client = login(ada)
    settings.SUSTAIN_SESSION_ABSOLUTE_SECONDS = -1
    assert "Sign in" in problem(client.get("/fhir/R4/Patient"), 401)


def _failing(patient: Patient) -> list[Json]:
    raise RuntimeError("secret detail: DATABASE_URL=postgres://user:pw@db/sustain")


def test_a_failure_is_a_500_outcome_without_its_detail(login, ada, pat, monkeypatch, caplog):
    broken = Source(
        type="Observation", prefix="broken", permission=None, category=DataCategory.COURSE,
        rows=_observation_rows, build=_failing, patient="pk",
    )  # fmt: skip
    monkeypatch.setattr(catalog, "SOURCES", (*catalog.SOURCES, broken))
    response = login(ada).get("/fhir/R4/Observation")
    assert "failure is logged" in problem(response, 500)
    assert b"secret" not in response.content
    assert "secret detail" in caplog.text


# -- fuzzing ---------------------------------------------------------------------------------------

NAMES = st.sampled_from(
    ["_id", "patient", "subject", "date", "code", "category", "status", "name", "family",
     "given", "birthdate", "identifier", "_count", "_offset", "_include", "_format", "_total",
     "_sort", "x"]
)  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=30),
    st.from_regex(
        r"(eq|ne|lt|le|gt|ge|sa|xx)?[0-9]{1,5}(-[0-9]{1,3}){0,2}(T[0-9:.+Z-]{0,20})?",
        fullmatch=True,
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["Patient/patient-1", "patient-", "Observation:patient", "a|b|c", ",", "\\,"]),
)


@pytest.mark.parametrize("type_name", ["Patient", "Observation"])
def test_generated_query_strings_never_give_a_500(login, ada, pat, observations, type_name):
    client = login(ada)

    @hypothesis_settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(st.lists(st.tuples(NAMES, VALUES), max_size=4))
    def check(pairs):
        response = client.get(f"/fhir/R4/{type_name}", data=pairs)
        assert response.status_code in {200, 400, 406}, response.content[:300]
        assert response["Content-Type"] == FHIR

    check()


def test_generated_ids_never_give_a_500(login, ada, pat, observations):
    client = login(ada)

    @hypothesis_settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        st.sampled_from(["Patient", "Observation", "Unicorn"]),
        st.one_of(st.text(min_size=1, max_size=80), st.integers().map(lambda n: f"patient-{n}")),
        st.booleans(),
    )
    def check(type_name, resource_id, everything):
        path = f"/fhir/R4/{type_name}/{quote(resource_id, safe='')}"
        response = client.get(path + ("/$everything" if everything else ""))
        assert response.status_code in {200, 400, 404}, response.content[:300]
        assert response["Content-Type"] == FHIR

    check()


def test_a_search_sent_as_a_form_keeps_the_name_out_of_the_url(login, ada, north, pat):
    """POST [type]/_search (R4 search §3.1.1.1): the same answer as the GET, the name only in
    the body; GET on it and a body that is not a form are refused as OperationOutcomes."""
    client = login(ada)
    url = "/fhir/R4/Patient/_search"

    def post(path: str, data: dict[str, str], content_type: str = FORM):
        return client.post(path, urlencode(data), content_type=content_type)

    posted = body(post(url, {"family": pat.family_name}))
    got = body(client.get("/fhir/R4/Patient", {"family": pat.family_name}))
    assert [e["resource"]["id"] for e in posted["entry"]] == [f"patient-{pat.pk}"]
    assert posted["entry"] == got["entry"] and posted["total"] == got["total"] == 1
    assert reads(actor=ada)[-2].reason == "FHIR search Patient"

    wrong = client.get(url, {"family": pat.family_name})
    assert (wrong.status_code, wrong["Allow"]) == (405, "POST")
    assert body(wrong)["resourceType"] == "OperationOutcome"
    as_json = post(url, {"family": "x"}, content_type="multipart/form-data; boundary=x")
    assert as_json.status_code == 415 and body(as_json)["resourceType"] == "OperationOutcome"
    unknown = post(url, {"colour": "blue"})
    assert unknown.status_code == 400 and "'colour'" in body(unknown)["issue"][0]["diagnostics"]
    nothing = post("/fhir/R4/Unicorn/_search", {})
    assert nothing.status_code == 404
