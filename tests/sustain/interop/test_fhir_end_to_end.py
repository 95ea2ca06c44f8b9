"""Issue 16's "done when", end to end over the whole catalog: a client-credentials token reads
Patient?name=…, the patient's $everything and a bulk export of the site (run by the worker's
code path); a scheduler's token and a scheduler's session read no Observation; everything read
validates with the pinned R4 schema and uses only listed codes."""

import datetime as dt
import json

import pytest
import time_machine
from django.utils import timezone

from sustain.interop import clients, tasks
from sustain.interop.fhir import catalog
from tests.sustain import clinic_builders as build
from tests.sustain.interop.fhir_checks import schema_errors, unlisted_codes
from tests.sustain.interop.test_clients import ask
from tests.sustain.interop.test_visit_resources import NAUSEA, in_series
from tests.sustain.worker import run_ready

pytestmark = pytest.mark.db

ASYNC = {"HTTP_PREFER": "respond-async", "HTTP_ACCEPT": "application/fhir+json"}


@pytest.fixture
def treated(north, ada, ben, sam, stocked):
    """A patient with scores, an infusion with vital signs and an adverse event."""
    series = in_series(north, ada, ben, sam, "Vic")
    build.give_infusion(series[0], ben, prescriber=ada, adverse_event=NAUSEA)
    return series[0].patient


def bearer(issued: clients.Issued, scope: str) -> dict[str, str]:
    answer = ask(issued, scope=scope)
    assert answer.status_code == 200, answer.content
    return {"HTTP_AUTHORIZATION": f"Bearer {answer.json()['access_token']}"}


def valid(resource: dict) -> dict:
    assert schema_errors(resource) == []
    assert unlisted_codes(resource) == []
    return resource


def exported(client, headers, url) -> dict[str, list[dict]]:
    """Kick off a bulk export, run it as the worker does, and read every file."""
    kicked = client.get(url, **ASYNC, **headers)
    assert kicked.status_code == 202, kicked.content
    assert run_ready(tasks.run_export) == 1
    manifest = client.get(kicked["Content-Location"], **headers).json()
    found: dict[str, list[dict]] = {}
    for output in manifest["output"]:
        body = b"".join(client.get(output["url"], **headers).streaming_content).decode()
        found[output["type"]] = [valid(json.loads(line)) for line in body.splitlines()]
    return found


def test_a_token_reads_a_name_search_everything_and_a_bulk_export(client, north, treated):
    issued = clients.create_client(
        name="registry",
        site=north,
        role="prescriber",
        scopes=["system/*.read"],
        by=None,
        now=timezone.now(),
    )
    headers = bearer(issued, "system/*.read")
    found = client.get("/fhir/R4/Patient", {"name": "Vic"}, **headers)
    assert found.status_code == 200, found.content
    (entry,) = found.json()["entry"]
    assert valid(entry["resource"])["id"] == f"patient-{treated.pk}"

    everything = client.get(f"/fhir/R4/Patient/patient-{treated.pk}/$everything", **headers)
    kinds = {valid(e["resource"])["resourceType"] for e in everything.json()["entry"]}
    assert {
        "Patient", "Condition", "CarePlan", "Appointment", "Encounter", "Observation",
        "QuestionnaireResponse", "MedicationAdministration", "AdverseEvent",
    } <= kinds  # fmt: skip

    files = exported(client, headers, f"/fhir/R4/Group/site-{north.pk}/$export")
    assert [p["id"] for p in files["Patient"]] == [f"patient-{treated.pk}"]
    assert {"Observation", "MedicationAdministration", "Encounter"} <= files.keys()
    codes = {c["code"] for o in files["Observation"] for c in o["code"].get("coding", [])}
    assert {"44261-6", "85354-9", "8867-4", "2708-6"} <= codes  # PHQ-9, BP, heart rate, SpO2


def test_a_scheduler_reads_no_observation_by_token_or_session(client, login, north, sam, treated):
    issued = clients.create_client(
        name="front-desk",
        site=north,
        role="scheduler",
        scopes=["system/*.read"],
        by=None,
        now=timezone.now(),
    )
    by_token = bearer(issued, "system/*.read")
    session = login(sam)
    for reader, headers in ((client, by_token), (session, {})):
        refused = reader.get(
            "/fhir/R4/Observation", {"patient": f"patient-{treated.pk}"}, **headers
        )
        assert refused.status_code == 403
        assert refused.json()["resourceType"] == "OperationOutcome"
        everything = reader.get(f"/fhir/R4/Patient/patient-{treated.pk}/$everything", **headers)
        kinds = {e["resource"]["resourceType"] for e in everything.json()["entry"]}
        assert "Patient" in kinds and "Appointment" in kinds
        assert not kinds & {"Observation", "QuestionnaireResponse", "MedicationAdministration"}
    files = exported(client, by_token, "/fhir/R4/$export")
    assert "Patient" in files and "Observation" not in files
    assert "Observation" in catalog.types()


def test_a_wrong_scope_or_expired_token_is_an_operation_outcome(client, north, treated):
    issued = clients.create_client(
        name="registry",
        site=north,
        role="prescriber",
        scopes=["system/*.read"],
        by=None,
        now=timezone.now(),
    )
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        narrow = bearer(issued, "system/Patient.read")
        refused = client.get("/fhir/R4/Observation", **narrow)
        assert (refused.status_code, refused.json()["resourceType"]) == (403, "OperationOutcome")
        assert client.get("/fhir/R4/Patient", **narrow).status_code == 200
    with time_machine.travel(start + dt.timedelta(minutes=6), tick=False):
        expired = client.get("/fhir/R4/Patient", **narrow)
    assert expired.status_code == 401
    assert expired.json()["issue"][0]["code"] == "expired"
    assert schema_errors(expired.json()) == []
