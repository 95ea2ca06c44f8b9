"""The care-side FHIR resources (issue 16, item 1): Organization, Practitioner, Condition,
PlanDefinition, CarePlan, Consent, MedicationStatement, Questionnaire, QuestionnaireResponse and
the score and body-weight Observations, built from records made through the real services and
checked with the pinned R4 schema and the reviewed code list (FHIR-01, FHIR-03, FHIR-06,
FHIR-07; reference §5 and §7)."""

import datetime as dt
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sustain.accounts.models import Site, User
from sustain.care import services as care
from sustain.care.enums import AssessmentSource, Condition, CourseStatus, Timepoint
from sustain.care.models import Course, Medication, Patient
from sustain.interop.fhir import catalog, conditions, medications, plans, questionnaires
from sustain.interop.fhir.registry import Caller, Source, patient_resources, site_resources
from sustain_core import instruments
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import TODAY
from tests.sustain.interop.fhir_checks import (
    CARE_TYPES,
    care_resources,
    schema_errors,
    unlisted_codes,
)

pytestmark = pytest.mark.db

SRC = Path(__file__).parents[3] / "src"


def _answers(code: str) -> dict[str, int | None]:
    """Answers every instrument accepts: each item one above its lowest value."""
    return {
        item.key: min(item.min_value + 1, item.max_value)
        for item in instruments.get_instrument(code).items
    }


def seed_patient(site: Site, n: int, *, prescriber: User, nurse: User) -> Patient:
    """A patient ready for the series (baseline PHQ-9 and GAD-7, consent, screen), with two
    more scores, a weight, a listed, a typed and a stopped medication."""
    day = TODAY - dt.timedelta(days=10)
    now = build.at(site, day, 10)
    patient = build.register(site, prescriber, "Pat", f"Number{n}", on=day)
    build.ready_for_series(
        patient, prescriber=prescriber, nurse=nurse, now=now, phq9_total=15, gad7_total=9
    )
    later = now + dt.timedelta(days=1)
    care.record_assessment(
        patient=patient, instrument="pcl5", answers=_answers("pcl5"),
        timepoint=Timepoint.BASELINE, by=nurse, completed_at=later, now=later,
    )  # fmt: skip
    care.record_assessment(
        patient=patient, instrument="pain_nrs", answers={"1": 7},
        timepoint=Timepoint.BASELINE, by=None, completed_at=later, now=later,
        source=AssessmentSource.SELF_REPORT,
    )  # fmt: skip
    care.record_weight(
        patient=patient, weight_kg=Decimal("66.5"), measured_on=day, by=nurse, now=later
    )
    care.add_medication(
        patient=patient, name="Diazepam", dose="5 mg at night", started_on=day, by=nurse, now=later
    )
    care.add_medication(
        patient=patient, name="Sertraline", dose="100 mg", started_on=None, by=nurse, now=later
    )
    stopped = care.add_medication(
        patient=patient, name="Lorazepam", dose="1 mg", started_on=day, by=nurse, now=later
    )
    care.stop_medication(medication=stopped, stopped_on=day, by=nurse, now=later)
    return patient


def _of(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == kind]


@pytest.fixture
def clinic(north: Site, ada: User, ben: User, sam: User, alex: User) -> dict[str, Any]:
    """Two patients of North in mid-course, every instrument answered once by the first, a
    clinic version of the protocol, a discontinued course and a PTSD patient."""
    first = seed_patient(north, 1, prescriber=ada, nurse=ben)
    second = seed_patient(north, 2, prescriber=ada, nurse=ben)
    now = build.at(north, TODAY - dt.timedelta(days=5), 11)
    for code in instruments.INSTRUMENTS:
        if code not in ("phq9", "gad7", "pcl5", "pain_nrs"):
            care.record_assessment(
                patient=first, instrument=code, answers=_answers(code),
                timepoint=Timepoint.FOLLOW_UP, by=ben, completed_at=now, now=now,
            )  # fmt: skip
    key, version = build.own_version(north, ada, now=now)
    ptsd = build.register(north, ada, "Casey", "Trauma", on=TODAY - dt.timedelta(days=3))
    Patient.objects.filter(pk=ptsd.pk).update(primary_condition=Condition.PTSD)
    course = build.enrol(ptsd, ada, now=now, protocol=(key, version))
    care.change_course_status(
        course=course, status=CourseStatus.DISCONTINUED, reason="Moved away", by=ada,
        at=now + dt.timedelta(hours=1),
    )  # fmt: skip
    return {"first": first, "second": second, "ptsd": ptsd, "clinic_key": (key, version)}


def test_every_care_resource_validates_and_uses_only_listed_codes(clinic, ada):
    resources = care_resources(Caller(ada))
    kinds = Counter(r["resourceType"] for r in resources)
    assert set(kinds) == set(CARE_TYPES), kinds
    errors = [e for r in resources for e in schema_errors(r)]
    assert errors == []
    unlisted = {pair for r in resources for pair in unlisted_codes(r)}
    assert unlisted == set()
    ids = [f"{r['resourceType']}/{r['id']}" for r in resources]
    assert len(ids) == len(set(ids))
    for r in resources:  # every id leads back to its source and row (catalog.source_for_id)
        assert catalog.source_for_id(r["resourceType"], r["id"]) is not None, r["id"]
        assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", r["id"])


def test_scores_are_fhir03_observations_derived_from_their_responses(clinic, ada):
    resources = care_resources(Caller(ada))
    scores = [o for o in _of(resources, "Observation") if o["id"].startswith("score-")]
    responses = {r["id"]: r for r in _of(resources, "QuestionnaireResponse")}
    loinc = {"44261-6": (0, 27), "70274-6": (0, 21), "101698-9": (0, 80), "72514-3": (0, 10)}
    seen: Counter[str] = Counter()
    for obs in scores:
        assert obs["category"][0]["coding"][0]["code"] == "survey"
        coding = obs["code"]["coding"][0]
        (derived,) = obs["derivedFrom"]
        kind, _, rid = derived["reference"].partition("/")
        assert kind == "QuestionnaireResponse" and rid in responses
        assert obs["subject"] == responses[rid]["subject"]
        if coding["system"] == "http://loinc.org":
            low, high = loinc[coding["code"]]
            assert isinstance(obs["valueInteger"], int)
            assert low <= obs["valueInteger"] <= high
            seen[coding["code"]] += 1
        else:  # never an invented LOINC: the others are Sustain's own codes
            assert coding["system"] == questionnaires.SCORE_SYSTEM
    assert seen == {"44261-6": 2, "70274-6": 2, "101698-9": 2, "72514-3": 2}
    first = clinic["first"]
    phq9 = next(
        o for o in scores
        if o["code"]["coding"][0]["code"] == "44261-6"
        and o["subject"]["reference"] == f"Patient/patient-{first.pk}"
    )  # fmt: skip
    assert phq9["valueInteger"] == 15
    response = responses[phq9["derivedFrom"][0]["reference"].split("/")[1]]
    assert response["questionnaire"] == "urn:sustain:questionnaire:phq9|1"
    assert response["status"] == "completed"
    assert response["source"] == {"reference": f"Patient/patient-{first.pk}"}  # self-rated
    madrs = next(
        r
        for r in responses.values()
        if r["questionnaire"].startswith("urn:sustain:questionnaire:madrs|")
    )
    assert "source" not in madrs  # clinician-rated: the patient did not answer
    assert all("text" not in item for item in madrs["item"])
    assert [i["linkId"] for i in response["item"]] == [str(n) for n in range(1, 10)]
    answer = response["item"][0]["answer"][0]["valueCoding"]
    assert answer["code"] == "3" and answer["display"] == "Nearly every day"
    pain = next(o for o in scores if o["code"]["coding"][0]["code"] == "72514-3")
    assert pain["valueInteger"] == 7
    assert pain["performer"] == [{"reference": f"Patient/patient-{first.pk}"}]  # self-report


def test_body_weight_is_the_r4_vital_sign(clinic, ada):
    weights = [
        o for o in _of(care_resources(Caller(ada)), "Observation") if o["id"].startswith("weight-")
    ]
    assert weights
    for obs in weights:
        assert obs["category"][0]["coding"][0]["code"] == "vital-signs"
        assert obs["code"]["coding"] == [
            {"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}
        ]
        assert obs["valueQuantity"]["code"] == "kg"
        assert obs["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    assert {o["valueQuantity"]["value"] for o in weights} >= {66.5}


def test_questionnaires_ship_only_licensed_wording_with_their_notices(clinic, ada):
    found = {
        q["url"].rsplit(":", 1)[1]: q for q in _of(care_resources(Caller(ada)), "Questionnaire")
    }
    assert set(found) == set(instruments.INSTRUMENTS)
    assert "Pfizer" in found["phq9"]["copyright"] and "Pfizer" in found["gad7"]["copyright"]
    assert "National Center for PTSD" in found["pcl5"]["copyright"]
    madrs = found["madrs"]
    assert all("text" not in item for item in madrs["item"])  # by item code only
    assert all("answerOption" not in item for item in madrs["item"])
    assert [i["linkId"] for i in madrs["item"]] == [
        i.key for i in instruments.get_instrument("madrs").items
    ]
    assert "not shipped" in madrs["copyright"] or "without their wording" in madrs["copyright"]
    phq9 = found["phq9"]
    assert phq9["item"][8]["text"].startswith("Thoughts that you would be better off dead")
    assert phq9["item"][0]["type"] == "choice"


def test_indications_plans_and_courses(clinic, ada):
    resources = care_resources(Caller(ada))
    first, ptsd = clinic["first"], clinic["ptsd"]
    by_id = {r["id"]: r for r in resources}
    trd = by_id[f"indication-{first.pk}"]
    assert trd["code"]["text"] == "Treatment-resistant depression"
    assert {c["code"] for c in trd["code"]["coding"]} == {"370143000", "F32.9"}
    assert trd["clinicalStatus"]["coding"][0]["code"] == "active"
    assert trd["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert trd["category"][0]["coding"][0]["code"] == "problem-list-item"
    assert {c["code"] for c in by_id[f"indication-{ptsd.pk}"]["code"]["coding"]} == {
        "47505003", "F43.10"
    }  # fmt: skip

    canonicals = {f"{p['url']}|{p['version']}": p for p in _of(resources, "PlanDefinition")}
    course = Course.objects.get(patient=first)
    plan = by_id[f"course-{course.pk}"]
    (instantiates,) = plan["instantiatesCanonical"]
    assert instantiates == "urn:sustain:protocol:depression-induction|1"
    assert instantiates in canonicals  # the PlanDefinition it names is served
    assert course.status == CourseStatus.SCREENING  # consent and screen signed, not yet moved
    assert plan["status"] == "draft" and plan["intent"] == "plan"
    assert plan["author"] == {"reference": f"Practitioner/practitioner-{ada.pk}"}
    library = canonicals[instantiates]
    (action,) = library["action"]
    assert action["timingTiming"]["repeat"]["count"] == 6
    doses = {e["url"]: e["valueQuantity"] for e in action["extension"]}
    assert doses[plans.DOSE_MG_PER_KG]["value"] == 0.5
    assert doses[plans.INFUSION_MINUTES] == {
        "value": 40, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min"
    }  # fmt: skip

    key, version = clinic["clinic_key"]
    stopped = by_id[f"course-{Course.objects.get(patient=ptsd).pk}"]
    assert stopped["status"] == "revoked" and "end" in stopped["period"]
    own = canonicals[plans.canonical(key, version)]
    assert own["id"].startswith("protocol-")
    assert own["relatedArtifact"][0] == {
        "type": "derived-from", "resource": "urn:sustain:protocol:depression-induction|1"
    }  # fmt: skip

    (consent,) = [
        c for c in _of(resources, "Consent") if c["patient"]["reference"].endswith(f"-{first.pk}")
    ]
    assert consent["scope"]["coding"][0]["code"] == "treatment"
    assert consent["category"][0]["text"] == "Ketamine consent v3"
    assert consent["status"] == "active"


def test_medication_list_codes_only_listed_rxnorm(clinic, ada):
    statements = _of(care_resources(Caller(ada)), "MedicationStatement")
    first = clinic["first"]
    mine = {
        s["medicationCodeableConcept"]["text"]: s
        for s in statements
        if s["subject"]["reference"] == f"Patient/patient-{first.pk}"
    }
    assert mine["diazepam"]["medicationCodeableConcept"]["coding"] == [
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "3322",
         "display": "diazepam"}
    ]  # fmt: skip
    assert "coding" not in mine["Sertraline"]["medicationCodeableConcept"]
    assert "coding" not in mine["lorazepam"]["medicationCodeableConcept"]  # no verified code
    assert mine["lorazepam"]["status"] == "stopped"
    assert mine["diazepam"]["status"] == "active"
    assert mine["diazepam"]["dosage"] == [{"text": "5 mg at night"}]
    assert "effectivePeriod" not in mine["Sertraline"]  # start not known


def test_an_rxcui_outside_the_code_list_is_sent_as_text(clinic, ada):
    row = Medication.objects.filter(patient=clinic["first"]).first()
    row.rxcui = "999999"  # not in codes.toml
    assert medications.medication_concept(row) == {"text": row.name}


def test_sources_follow_the_access_table(clinic, sam, ada, carl):
    """A scheduler reads no Observation (nor scores, plans of care or medications); another
    site's prescriber sees none of North's rows."""
    scheduler = Caller(sam)
    readable = {s.type for s in catalog.SOURCES if scheduler.may_read(s)}
    assert "Observation" not in readable
    assert not readable & {"QuestionnaireResponse", "MedicationStatement", "CarePlan", "Consent"}
    assert {"Organization", "Practitioner", "Questionnaire", "PlanDefinition"} <= readable
    south = care_resources(Caller(carl))
    assert not [r for r in south if "Patient/" in str(r.get("subject", r.get("patient", "")))]
    assert {r["id"] for r in _of(south, "Organization")} == {f"site-{carl.sites.get().pk}"}
    practitioners = _of(south, "Practitioner")
    assert [p["id"] for p in practitioners] == [f"practitioner-{carl.pk}"]
    assert "email" not in str(practitioners) and "password" not in str(practitioners)


def test_patient_everything_finds_each_patient_source(clinic, ada):
    first = clinic["first"]
    kinds = Counter(
        r["resourceType"]
        for source in catalog.SOURCES
        if source.type in CARE_TYPES
        for r in patient_resources(source, first)
    )
    assert kinds["Condition"] == 1 and kinds["CarePlan"] == 1 and kinds["Consent"] == 1
    assert kinds["MedicationStatement"] == 3 and kinds["QuestionnaireResponse"] >= 4
    assert kinds["Organization"] == 0 and kinds["Questionnaire"] == 0


def test_narrowing_by_code_and_status_in_the_database(clinic, ada):
    def narrowed(source: Source, name: str, value: str) -> int:
        rows = source.rows(Caller(ada).site_ids()).filter(source.narrow[name](value))
        return rows.count()

    assert narrowed(questionnaires.SCORES, "code", "http://loinc.org|44261-6") == 2
    assert narrowed(questionnaires.SCORES, "code", "44261-6,70274-6") == 4
    assert narrowed(questionnaires.SCORES, "code", "http://snomed.info/sct|44261-6") == 0
    assert narrowed(questionnaires.WEIGHTS, "code", "http://loinc.org|29463-7") >= 2
    assert narrowed(conditions.INDICATIONS, "code", "F43.10") == 1
    assert narrowed(plans.CARE_PLANS, "status", "revoked") == 1
    assert narrowed(medications.MEDICATION_STATEMENTS, "status", "stopped") == 2
    assert narrowed(medications.MEDICATION_STATEMENTS, "code", "3322") == 2
    with pytest.raises(ValueError):
        questionnaires.SCORES.narrow["code"]("http://loinc.org|")


def _queries_to_build(caller: Caller) -> int:
    with CaptureQueriesContext(connection) as captured:
        for source in catalog.SOURCES:
            if source.type in CARE_TYPES:
                list(site_resources(source, caller.site_ids()))
    return len(captured)


def test_building_n_patients_resources_takes_a_bounded_number_of_queries(north, ada, ben):
    seed_patient(north, 1, prescriber=ada, nurse=ben)
    few = _queries_to_build(Caller(ada))
    for n in range(2, 6):
        seed_patient(north, n, prescriber=ada, nurse=ben)
    assert _queries_to_build(Caller(ada)) == few


# -- FHIR-06: the models are fhir.resources.R4B's, never the default (R5) package -------------

_DEFAULT_PACKAGE = re.compile(
    r"^\s*(?:from\s+fhir\.resources(?!\.R4B\b)[\w.]*\s+import|import\s+fhir\.resources(?!\.R4B\b))",
    re.MULTILINE,
)


def default_package_imports(text: str) -> list[str]:
    """The lines of `text` that import fhir.resources other than its R4B sub-package."""
    return [m.group(0).strip() for m in _DEFAULT_PACKAGE.finditer(text)]


def test_the_fhir06_scan_finds_a_default_package_import():
    assert default_package_imports("from fhir.resources.observation import Observation\n")
    assert default_package_imports("import fhir.resources\n")
    assert default_package_imports("from fhir.resources import construct_fhir_element\n")
    assert not default_package_imports("from fhir.resources.R4B.observation import Observation")
    assert not default_package_imports("import fhir.resources.R4B.bundle")


def test_no_source_file_imports_the_default_fhir_package():
    found = {
        str(path.relative_to(SRC)): hits
        for path in SRC.rglob("*.py")
        if (hits := default_package_imports(path.read_text()))
    }
    assert found == {}
