"""`sustain fhir-import` (issue 16, item 6) on Synthea's bulk export (a CC0 copy in
data/synthea-10, see its README) and on a Bundle: what is taken, what is reported with its line,
that a second import changes nothing, and the export of what was taken (FHIR-01, FHIR-07)."""

import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from sustain.accounts.models import AuditEvent, Site, User
from sustain.care import services
from sustain.care.models import (
    Medication,
    Patient,
    PatientIdentifier,
    RecordedCondition,
    WeightMeasurement,
)
from sustain.interop import importer
from sustain.interop.fhir import imported_conditions, patients
from sustain.interop.fhir.registry import site_resources
from sustain_core.errors import ClinicalValueError
from tests.sustain.interop.fhir_checks import schema_errors, unlisted_codes

pytestmark = pytest.mark.db

SYNTHEA = Path(__file__).parent / "data" / "synthea-10"
SNOMED = "http://snomed.info/sct"


def counts() -> tuple[int, ...]:
    return (
        Patient.objects.count(), PatientIdentifier.objects.count(),
        RecordedCondition.objects.count(), Medication.objects.count(),
        WeightMeasurement.objects.count(),
    )  # fmt: skip


def creates() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="create", patient_id__isnull=False).order_by("id"))


def summaries() -> list[str]:
    found = AuditEvent.objects.filter(patient_id__isnull=True, reason__startswith="fhir-import")
    return [e.reason for e in found.order_by("id")]


def test_synthea_is_imported_once_and_a_second_import_changes_nothing(north):
    report = importer.run(SYNTHEA, north, now=timezone.now())
    assert (report.taken["Patient"], report.taken["Condition"], report.skipped) == (13, 555, [])
    assert counts() == (13, 13 * 2, 555, 0, 0)  # the Synthea id and the hospital's MRN each
    service = User.objects.get(username="fhir-import")
    assert not service.is_active and not service.has_usable_password()
    assert service.memberships.count() == 0  # it reads nothing
    kept = set(PatientIdentifier.objects.values_list("system", flat=True))
    assert kept == {
        "https://github.com/synthetichealth/synthea",
        "http://hospital.smarthealthit.org",
    }
    sumiko = Patient.objects.get(
        identifiers__value="129c6ac7-8d06-89de-ad63-0204a93e76c3",
        identifiers__system="http://hospital.smarthealthit.org",
    )
    assert (sumiko.given_name, sumiko.family_name, str(sumiko.date_of_birth), sumiko.sex) == (
        "Sumiko254 Larue605",
        "Medhurst46",
        "1927-05-21",
        "female",
    )
    assert sumiko.phone == "555-810-7203" and sumiko.mrn.startswith(f"S{north.pk}-")
    assert sumiko.primary_condition == ""  # not yet assessed
    sepsis = RecordedCondition.objects.get(source_id="0023b3a7-2ded-840c-ee5b-6b123fdcfb0b")
    assert (sepsis.patient, sepsis.code_system, sepsis.code, sepsis.clinical_status) == (
        sumiko,
        SNOMED,
        "91302008",
        "active",
    )
    assert sepsis.category == "encounter-diagnosis" and sepsis.onset is not None
    events = creates()
    assert len(events) == 13 and {e.actor_username for e in events} == {"fhir-import"}
    assert summaries() == ["fhir-import: 13 patients, 568 rows"]

    before = counts()
    again = importer.run(SYNTHEA, north, now=timezone.now())
    assert counts() == before and creates() == events
    assert (sum(again.taken.values()), again.unchanged["Condition"], again.skipped) == (0, 555, [])
    assert summaries()[1:] == ["fhir-import: 0 patients, 0 rows"]  # every run is audited


def test_a_bad_line_skips_its_patient_whole_and_names_the_line(north, tmp_path):
    shutil.copy(SYNTHEA / "Patient.000.ndjson", tmp_path)
    lines = (SYNTHEA / "Condition.000.ndjson").read_text().splitlines()
    broken = json.loads(lines[99])
    victim = broken["subject"]["reference"].removeprefix("Patient/")
    broken["onsetDateTime"] = "the spring of 1976"
    lines[99] = json.dumps(broken)
    lines[199] = lines[199][:80]  # cut short: malformed JSON (its patient is in what is left?)
    (tmp_path / "Condition.000.ndjson").write_text("\n".join(lines) + "\n")

    report = importer.run(tmp_path, north, now=timezone.now())
    reasons = dict(report.skipped)
    assert "not a valid R4 Condition: onsetDateTime" in reasons["Condition.000.ndjson line 100"]
    assert reasons["Condition.000.ndjson line 200"].startswith("malformed JSON")
    assert not PatientIdentifier.objects.filter(value=victim).exists()  # nothing partial
    victims = sum(1 for line in lines if victim in line and line.startswith("{"))
    assert report.taken["Patient"] <= 12 and Patient.objects.count() == report.taken["Patient"]
    assert RecordedCondition.objects.count() == report.taken["Condition"]
    assert report.taken["Condition"] <= 555 - victims + 1
    assert any(victim in reason and "did not parse" in reason for reason in reasons.values())


def _bundle() -> dict:
    pid = "urn:uuid:11111111-1111-1111-1111-111111111111"
    ucum = "http://unitsofmeasure.org"

    def obs(n: int, code: str, value: float, unit: str, when: str) -> dict:
        return {"fullUrl": f"urn:uuid:{n}", "resource": {
            "resourceType": "Observation", "id": f"obs-{n}", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": pid}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": unit, "system": ucum, "code": unit},
        }}  # fmt: skip

    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": pid, "resource": {
            "resourceType": "Patient", "id": "p1",
            "identifier": [{"system": "urn:oid:1.2.3", "value": "A-1"},
                           {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-00-1234"}],
            "name": [{"family": "Okafor", "given": ["Ada"]}], "gender": "female",
            "birthDate": "1980-02-03", "telecom": [{"system": "email", "value": "ada@example.org"}],
            "address": [{"line": ["1 Main St"], "city": "Salem", "state": "MA"}]}},
        {"fullUrl": "urn:uuid:c1", "resource": {
            "resourceType": "Condition", "id": "c1", "subject": {"reference": pid},
            "code": {"coding": [{"system": SNOMED, "code": "195662009",
                                 "display": "Acute viral pharyngitis"}]},
            "clinicalStatus": {"coding": [{"system":
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "onsetDateTime": "2019-04-01"}},
        obs(2, "29463-7", 72.5, "kg", "2024-01-02T10:00:00Z"),
        obs(3, "29463-7", 400, "kg", "2024-01-03T10:00:00Z"),  # out of range: reported
        obs(4, "8302-2", 170, "cm", "2020-01-02T10:00:00Z"),
        obs(5, "8302-2", 171.5, "cm", "2024-01-02T10:00:00Z"),  # the latest: taken
        obs(6, "8867-4", 60, "/min", "2024-01-02T10:00:00Z"),  # heart rate: not mapped
        {"resource": {
            "resourceType": "MedicationStatement", "id": "m1", "status": "active",
            "subject": {"reference": pid},
            "medicationCodeableConcept": {"coding": [{
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "32937",
                "display": "paroxetine"}]},
            "effectiveDateTime": "2023-05-01"}},
        {"resource": {"resourceType": "Encounter", "id": "e1", "status": "finished",
                      "class": {"code": "AMB"}}},
        {"resource": {"resourceType": "Patinet", "id": "x"}},
        {"resource": {"resourceType": "Condition", "id": "c9",
                      "subject": {"reference": "Patient/elsewhere"}, "code": {"text": "Asthma"}}},
    ]}  # fmt: skip


def test_a_bundle_is_taken_and_what_does_not_map_is_reported_by_entry(north, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(_bundle()))
    report = importer.run(path, north, now=timezone.now())
    ada = Patient.objects.get()
    assert (ada.given_name, ada.email, ada.address) == ("Ada", "ada@example.org",
                                                        "1 Main St, Salem, MA")  # fmt: skip
    assert list(ada.identifiers.values_list("system", "value")) == [("urn:oid:1.2.3", "A-1")]
    assert [str(w.weight_kg) for w in ada.weights.all()] == ["72.5"]
    assert str(ada.height_cm) == "171.5"
    assert list(ada.medications.values_list("name", "rxcui")) == [("paroxetine", "32937")]
    assert ada.recorded_conditions.get().code == "195662009"
    reasons = dict(report.skipped)
    assert "weight must be between 30 and 300 kg" in reasons["bundle.json entry 3"]
    assert "a later height" in reasons["bundle.json entry 4"]
    assert "8867-4 is not mapped" in reasons["bundle.json entry 6"]
    assert reasons["bundle.json entry 8"] == "Sustain does not import Encounter"
    assert reasons["bundle.json entry 9"] == "unknown resourceType 'Patinet'"
    assert "Patient/elsewhere is not in the input" in reasons["bundle.json entry 10"]
    assert report.taken == {"Patient": 1, "Condition": 1, "Observation": 2,
                            "MedicationStatement": 1}  # fmt: skip

    before = counts()
    again = importer.run(path, north, now=timezone.now())
    assert counts() == before and sum(again.taken.values()) == 0


def test_what_was_taken_exports_with_its_own_codes_and_identifiers(north, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(_bundle()))
    importer.run(path, north, now=timezone.now())
    (condition,) = site_resources(imported_conditions.RECORDED_CONDITIONS, frozenset({north.pk}))
    (patient,) = site_resources(patients.PATIENTS, frozenset({north.pk}))
    assert schema_errors(condition) == [] and schema_errors(patient) == []
    assert condition["code"]["coding"][0]["code"] == "195662009"
    assert condition["subject"]["reference"] == patient["id"].join(["Patient/", ""])
    assert unlisted_codes(condition) == []  # the passed-through code is the source's data
    untagged = {**condition, "meta": {}}
    assert unlisted_codes(untagged) == [(SNOMED, "195662009")]  # FHIR-07 still bites
    assert {"system": "urn:oid:1.2.3", "value": "A-1", "use": "secondary"} in patient["identifier"]


def test_the_site_must_be_named_when_there_are_several(north, south, tmp_path):
    with pytest.raises(ValueError, match="North Clinic, South Clinic"):
        importer.site_named(None)
    assert importer.site_named(str(south.pk)) == south


def test_the_command_prints_the_report(north):
    out = StringIO()
    call_command("fhir_import", str(SYNTHEA), stdout=out)
    assert "Condition: 555 taken, 0 already imported" in out.getvalue()
    assert Site.objects.count() == 1


def test_an_imported_patient_is_shown_not_yet_assessed_and_cannot_be_enrolled(
    north, ada, login, tmp_path
):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(_bundle()))
    importer.run(path, north, now=timezone.now())
    patient = Patient.objects.get()
    client = login(ada)
    listed = client.get(reverse("care:patient_list"))
    page = client.get(reverse("clinic:patient_detail", args=[patient.pk]))
    assert (listed.status_code, page.status_code) == (200, 200)
    assert "not yet assessed" in listed.text and "indication not yet assessed" in page.text
    with pytest.raises(ClinicalValueError, match="indication is not yet assessed"):
        services.enrol_patient(
            patient=patient, protocol_key="depression-induction", protocol_version=1, by=ada,
            now=timezone.now(),
        )  # fmt: skip
    assert not patient.courses.exists()


def test_a_prescriber_records_the_indication_once_and_then_may_enrol(
    north, ada, ben, login, tmp_path
):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(_bundle()))
    importer.run(path, north, now=timezone.now())
    patient = Patient.objects.get()
    url = reverse("care:indication", args=[patient.pk])
    assert (
        'id="indication"'
        in login(ada).get(reverse("clinic:patient_detail", args=[patient.pk])).text
    )
    assert login(ben).post(url, {"primary_condition": "ptsd"}).status_code == 403  # a nurse
    refused = login(ada).post(url, {"primary_condition": "migraine"}, follow=True)
    assert "Select a valid choice" in refused.text
    patient.refresh_from_db()
    assert patient.primary_condition == ""

    done = login(ada).post(url, {"primary_condition": "ptsd"}, follow=True)
    assert "Indication recorded: PTSD." in done.text
    patient.refresh_from_db()
    assert patient.primary_condition == "ptsd"
    assert patient.revisions.get().changes == {"primary_condition": ["", "ptsd"]}
    assert AuditEvent.objects.filter(patient_id=patient.pk, reason="indication recorded").exists()
    with pytest.raises(ClinicalValueError, match="already recorded: PTSD"):
        services.record_indication(
            patient=patient, primary_condition="depression", by=ada, now=timezone.now()
        )
    with pytest.raises(ClinicalValueError, match="one of: Treatment-resistant depression"):
        services.record_indication(
            patient=patient, primary_condition="flu", by=ada, now=timezone.now()
        )
    assert (
        'id="indication"'
        not in login(ada).get(reverse("clinic:patient_detail", args=[patient.pk])).text
    )
