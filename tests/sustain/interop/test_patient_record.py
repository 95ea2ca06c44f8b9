"""A patient's record for their right of access (issue 16, item 5): from the patient page, the
whole record as a FHIR Bundle (type collection, R4-schema valid) and as a readable PDF (real
WeasyPrint output, its text read with pypdf), each audited as an export; another site's
patient is a 404, audited as denied, with nothing exported."""

import io

import pytest
from pypdf import PdfReader

from sustain.accounts.enums import AuditAction, AuditOutcome
from sustain.accounts.models import AuditEvent
from sustain.interop.fhir import record
from tests.sustain.interop.fhir_checks import schema_errors, unlisted_codes

pytestmark = pytest.mark.db


def exports():
    return list(AuditEvent.objects.filter(action=AuditAction.EXPORT).order_by("id"))


def test_the_patient_page_offers_the_record(login, ada, pat):
    page = login(ada).get(f"/patients/{pat.pk}/")
    assert f'href="/patients/{pat.pk}/record.pdf"' in page.content.decode()
    assert f'href="/patients/{pat.pk}/record.fhir.json"' in page.content.decode()


def test_the_record_as_a_fhir_bundle(login, ada, pat, north):
    response = login(ada).get(f"/patients/{pat.pk}/record.fhir.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert "attachment" in response["Content-Disposition"]
    bundle = response.json()
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    assert schema_errors(bundle) == []
    for entry in bundle["entry"]:
        assert schema_errors(entry["resource"]) == []
        assert unlisted_codes(entry["resource"]) == []
        assert entry["fullUrl"].startswith("http://testserver/fhir/R4/")
    patients = list(record.patients_of(bundle))
    assert [p["id"] for p in patients] == [f"patient-{pat.pk}"]
    assert patients[0]["name"][0]["family"] == "Quinn"
    assert [(e.actor, e.site, e.patient_id, e.reason) for e in exports()] == [
        (ada, north, pat.pk, "patient record: FHIR Bundle")
    ]


def test_the_record_as_a_readable_pdf(login, ben, pat, north):
    response = login(ben).get(f"/patients/{pat.pk}/record.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    words = " ".join(text.split())
    assert "Your health record" in words
    assert "Pat Quinn" in words and "1980-05-17" in words and pat.mrn in words
    for title in ("Conditions treated", "Infusions and doses", "Vital signs", "Appointments"):
        assert title in words
    assert [(e.actor, e.site, e.patient_id, e.reason) for e in exports()] == [
        (ben, north, pat.pk, "patient record: PDF")
    ]


def test_another_sites_patient_is_a_404_and_nothing_is_exported(login, carl, pat):
    client = login(carl)
    for path in ("record.fhir.json", "record.pdf"):
        assert client.get(f"/patients/{pat.pk}/{path}").status_code == 404
    assert exports() == []
    denied = AuditEvent.objects.filter(outcome=AuditOutcome.DENIED).order_by("id")
    assert [(e.actor, e.patient_id) for e in denied] == [(carl, pat.pk), (carl, pat.pk)]


def test_a_role_without_patients_gets_no_record(login, ivy, pat):
    assert login(ivy).get(f"/patients/{pat.pk}/record.fhir.json").status_code == 403
    assert exports() == []


def test_sections_read_the_resources_a_patient_sees():
    """The sections read each type's R4 fields (with resources the other sources build)."""
    bundle = {
        "entry": [
            {"resource": {"resourceType": "Observation", "category": [{"coding": [
                {"code": "vital-signs"}]}], "code": {"text": "Heart rate"},
                "valueQuantity": {"value": 72, "unit": "/min"},
                "effectiveDateTime": "2026-11-30T13:05:00Z"}},
            {"resource": {"resourceType": "Observation", "category": [{"coding": [
                {"code": "survey"}]}], "code": {"coding": [{"display": "PHQ-9 total"}]},
                "valueInteger": 14, "effectiveDateTime": "2026-11-29"}},
            {"resource": {"resourceType": "MedicationAdministration",
                "medicationCodeableConcept": {"text": "ketamine"}, "status": "completed",
                "effectiveDateTime": "2026-11-30T13:00:00Z",
                "dosage": {"dose": {"value": 35.0, "unit": "mg"},
                           "rateQuantity": {"value": 52.5, "unit": "mg/h"}}}},
            {"resource": {"resourceType": "Basic", "id": "x-1"}},
        ]
    }  # fmt: skip
    found = {s.title: s.rows for s in record.sections(bundle)}
    assert found["Vital signs"] == [record.Row("2026-11-30 13:05", "Heart rate", "72 /min")]
    assert found["Questionnaire scores"] == [record.Row("2026-11-29", "PHQ-9 total", "14")]
    assert found["Infusions and doses"] == [
        record.Row("2026-11-30 13:00", "ketamine", "dose 35 mg · rate 52.5 mg/h · completed")
    ]
    assert found["Other records"] == [record.Row("", "Basic x-1", "")]
    assert found["Consents"] == []
