"""The visit-side FHIR resources (issue 16, item 1): Location, Appointment, Encounter,
MedicationAdministration, vital-sign Observations, AdverseEvent and AuditEvent, built from a
real chair-side day (sustain.clinic.story through the services), each checked against the
pinned R4 JSON schema (FHIR-01) and the reviewed code list (FHIR-07), with FHIR-04's codes and
units and FHIR-05's codings, route, dose, rate, lot and links."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sustain.accounts.models import AuditEvent, Site, User
from sustain.clinic import story
from sustain.infusion import chairside
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity
from sustain.infusion.models import AdverseEvent, InfusionRecord, VitalsReading
from sustain.interop.fhir import administrations, audit, catalog, codes, locations, visits, vitals
from sustain.interop.fhir.registry import Caller, Source, patient_resources, site_resources
from sustain.scheduling import services as scheduling
from sustain.scheduling.enums import CancellationReason
from sustain.scheduling.models import Appointment, Chair
from tests.sustain import clinic_builders as build
from tests.sustain.interop.fhir_checks import schema_errors, unlisted_codes

pytestmark = pytest.mark.db

REGISTERED = dt.date(2026, 11, 23)
MONDAY = dt.date(2026, 11, 30)
MINE = (
    locations.SITES, locations.CHAIRS, visits.APPOINTMENTS, visits.ENCOUNTERS,
    administrations.ADMINISTRATIONS, administrations.ADVERSE_EVENTS, vitals.VITALS,
    vitals.ALDRETE, audit.AUDIT_EVENTS,
)  # fmt: skip
NAUSEA = (AdverseEventKind.NAUSEA, AdverseEventSeverity.MODERATE, "Vomited once", "Ondansetron")


def in_series(north: Site, ada: User, ben: User, sam: User, given: str) -> list[Appointment]:
    patient = build.register(north, sam, given, "Visit", on=REGISTERED)
    course = build.ready_for_series(
        patient, prescriber=ada, nurse=ben, now=build.at(north, REGISTERED, 10),
        phq9_total=14, gad7_total=11,
    )  # fmt: skip
    return build.book_series(
        course, sam, first=build.at(north, MONDAY, 8), now=build.at(north, REGISTERED, 11)
    )


@pytest.fixture
def day(north, ada, ben, sam, stocked) -> dict[str, Any]:
    """One patient's first infusion, co-signed, with a moderate nausea in recovery; their last
    visit cancelled."""
    series = in_series(north, ada, ben, sam, "Vic")
    given = build.give_infusion(series[0], ben, prescriber=ada, adverse_event=NAUSEA)
    cancelled = scheduling.cancel_visit(
        appointment=series[-1], reason=CancellationReason.PATIENT_REQUEST, note="",
        by=sam, now=build.at(north, REGISTERED, 12),
    )  # fmt: skip
    return {"series": series, "given": given, "cancelled": cancelled}


def everything(site: Site, sources: tuple[Source, ...] = MINE) -> dict[str, list[dict]]:
    return {s.prefix: list(site_resources(s, frozenset({site.pk}))) for s in sources}


def by_id(found: dict[str, list[dict]]) -> dict[str, dict]:
    return {r["id"]: r for rs in found.values() for r in rs}


def test_every_resource_validates_and_uses_only_listed_codes(day, north):
    found = everything(north)
    assert all(found[s.prefix] for s in MINE), {p: len(rs) for p, rs in found.items()}
    for resources in found.values():
        for resource in resources:
            assert schema_errors(resource) == []
            assert unlisted_codes(resource) == []


def test_the_sources_are_in_the_catalog_and_ids_find_their_rows(day, north):
    assert all(any(s is c for c in catalog.SOURCES) for s in MINE)
    for source in MINE:
        resource = next(site_resources(source, frozenset({north.pk})))
        found = catalog.source_for_id(resource["resourceType"], resource["id"])
        assert found is not None and found[0] is source
        assert source.rows(frozenset({north.pk})).filter(pk=found[1]).exists()


def test_locations_are_the_site_and_its_chairs(day, north):
    found = by_id(everything(north, (locations.SITES, locations.CHAIRS)))
    chair = Chair.objects.filter(site=north).order_by("pk").first()
    assert found[f"site-{north.pk}"]["physicalType"]["coding"][0]["code"] == "bu"
    assert found[f"chair-{chair.pk}"]["partOf"] == {"reference": f"Location/site-{north.pk}"}
    assert found[f"chair-{chair.pk}"]["managingOrganization"] == {
        "reference": f"Organization/site-{north.pk}"
    }


def test_appointments_map_status_and_participants_without_patient_data(day, north):
    first, cancelled = day["series"][0], day["cancelled"]
    found = by_id(everything(north, (visits.APPOINTMENTS,)))
    visit = found[f"appointment-{first.pk}"]
    assert visit["status"] == "fulfilled"
    actors = [p["actor"]["reference"] for p in visit["participant"]]
    assert actors[:2] == [f"Patient/patient-{first.patient_id}", f"Location/chair-{first.chair_id}"]
    assert set(actors[2:]) == {
        f"Practitioner/practitioner-{u.pk}"
        for u in User.objects.filter(username__in=["ada", "ben"])
    }
    assert visit["start"].startswith("2026-11-30T13:00:00")  # 8:00 in New York
    gone = found[f"appointment-{cancelled.pk}"]
    assert gone["status"] == "cancelled" and gone["cancelationReason"]["text"]
    assert found[f"appointment-{day['series'][1].pk}"]["status"] == "booked"
    text = str([visit["serviceType"], visit["description"]]).lower()
    for private in ("vic", "visit,", "depress", "ketamine", "mg"):
        assert private not in text


def test_the_encounter_is_the_visit_that_happened(day, north):
    first = day["series"][0]
    record = first.chairside
    found = everything(north, (visits.ENCOUNTERS,))["encounter"]
    assert [e["id"] for e in found] == [f"encounter-{first.pk}"]  # not the visits to come
    (encounter,) = found
    assert encounter["class"] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB",
        "display": "ambulatory",
    }  # fmt: skip
    assert encounter["status"] == "finished"
    assert encounter["appointment"] == [{"reference": f"Appointment/appointment-{first.pk}"}]
    assert encounter["location"][0]["location"] == {"reference": f"Location/chair-{first.chair_id}"}
    start = dt.datetime.fromisoformat(encounter["period"]["start"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(encounter["period"]["end"].replace("Z", "+00:00"))
    assert (start, end) == (record.checked_in_at, record.discharged_at)


def test_the_infusion_is_a_medication_administration(day, north):
    """FHIR-05: RxNorm and NDC codings, route, dose (exact), rate, the lot, the Encounter."""
    given: InfusionRecord = InfusionRecord.objects.select_related(
        "draw__container__lot__product", "appointment__chairside"
    ).get(pk=day["given"].pk)
    (given_json,) = everything(north, (administrations.ADMINISTRATIONS,))["infusion"]
    product = given.draw.container.lot.product
    codings = given_json["medicationCodeableConcept"]["coding"]
    assert [(c["system"], c["code"]) for c in codings] == [
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "6130"),
        ("http://hl7.org/fhir/sid/ndc", product.ndc),
    ]
    assert codes.well_formed_ndc(product.ndc)
    dosage = given_json["dosage"]
    assert dosage["route"]["coding"] == [
        {"system": "http://snomed.info/sct", "code": "47625008", "display": "Intravenous route"}
    ]
    assert dosage["dose"]["code"] == "mg"
    assert Decimal(str(dosage["dose"]["value"])) == given.dose_mg  # exact, never rounded
    assert dosage["rateQuantity"]["code"] == "mL/h"
    assert Decimal(str(dosage["rateQuantity"]["value"])) == given.pump_rate_ml_per_h
    lot = given.draw.container.lot.lot_number
    assert given_json["extension"] == [{"url": "urn:sustain:fhir:lot-number", "valueString": lot}]
    assert {"text": f"Lot {lot}"} in given_json["note"]
    assert given_json["context"] == {"reference": f"Encounter/encounter-{given.appointment_id}"}
    assert given_json["subject"] == {"reference": f"Patient/patient-{given.patient_id}"}
    assert given_json["status"] == "completed"
    record = given.appointment.chairside
    assert given_json["effectivePeriod"]["start"].startswith(
        record.started_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")
    )


def test_a_stopped_infusion_gives_the_mg_delivered(north, ada, ben, sam, stocked):
    """Stopped at minute 10 of 40 and not resumed: the ledger's administered mg (a quarter of
    the dose, to 0.01 mg), not the dose drawn; the stop is a timed note."""
    visit = in_series(north, ada, ben, sam, "Stu")[0]
    given = story.uneventful_infusion(
        visit, ben, ada, stop_at_minute=10, witness=(ada, "not-used-in-tests")
    )
    (resource,) = everything(north, (administrations.ADMINISTRATIONS,))["infusion"]
    delivered = Decimal(str(resource["dosage"]["dose"]["value"]))
    assert 0 < delivered < given.dose_mg
    share = given.dose_mg * 10 / visit.infusion_minutes
    assert delivered == share.quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    assert any(n["text"].startswith("Infusion stopped") for n in resource["note"])


def test_vital_signs_one_observation_per_measure(day, north):
    """FHIR-04: 85354-9 with 8480-6/8462-4 in mm[Hg], 8867-4 /min, 2708-6 + 59408-5 %, 9279-1."""
    reading = VitalsReading.objects.filter(record__appointment=day["series"][0]).first()
    found = by_id(everything(north, (vitals.VITALS,)))
    assert len(found) == 4 * VitalsReading.objects.count()

    def loinc(resource: dict) -> list[str]:
        return [c["code"] for c in resource["code"]["coding"] if c["system"] == "http://loinc.org"]

    bp = found[f"vitals-{reading.pk}-bp"]
    assert loinc(bp) == ["85354-9"] and "valueQuantity" not in bp
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"],
             c["valueQuantity"]["code"]) for c in bp["component"]] == [
        ("8480-6", reading.systolic_mmhg, "mm[Hg]"), ("8462-4", reading.diastolic_mmhg, "mm[Hg]")
    ]  # fmt: skip
    for part, code, value, unit in (
        ("hr", ["8867-4"], reading.heart_rate_bpm, "/min"),
        ("spo2", ["2708-6", "59408-5"], reading.spo2_percent, "%"),
        ("rr", ["9279-1"], reading.respiratory_rate_per_min, "/min"),
    ):
        resource = found[f"vitals-{reading.pk}-{part}"]
        assert loinc(resource) == code
        quantity = resource["valueQuantity"]
        assert (quantity["value"], quantity["code"], quantity["system"]) == (
            value, unit, "http://unitsofmeasure.org"
        )  # fmt: skip
    for resource in found.values():
        assert resource["category"][0]["coding"][0]["code"] == "vital-signs"
        assert resource["encounter"] == {"reference": f"Encounter/encounter-{day['series'][0].pk}"}
        assert resource["status"] == "final" and resource["effectiveDateTime"]


def test_the_aldrete_score_has_a_local_code(day, north):
    (score,) = everything(north, (vitals.ALDRETE,))["aldrete"]
    assert score["code"]["coding"][0]["system"].startswith("urn:sustain:")
    assert score["valueInteger"] == 10


def test_the_adverse_event_points_at_the_infusion_and_the_visit(day, north):
    event = AdverseEvent.objects.get()
    (resource,) = everything(north, (administrations.ADVERSE_EVENTS,))["adverse"]
    assert resource["actuality"] == "actual"
    assert resource["suspectEntity"] == [
        {"instance": {"reference": f"MedicationAdministration/infusion-{day['given'].pk}"}}
    ]
    assert resource["encounter"] == {"reference": f"Encounter/encounter-{day['series'][0].pk}"}
    assert resource["severity"]["coding"][0]["code"] == "moderate"
    assert resource["seriousness"]["coding"][0]["code"] == "Non-serious"
    assert resource["event"]["text"] == "Nausea or vomiting: Vomited once"
    assert resource["extension"][0]["valueString"] == "Ondansetron"
    assert resource["date"].startswith(event.recorded_at.astimezone(dt.UTC).strftime("%Y-%m-%d"))


def test_audit_events_are_the_sites_and_name_the_patient(day, north, south, carl):
    found = everything(north, (audit.AUDIT_EVENTS,))["audit"]
    assert len(found) == AuditEvent.objects.filter(site=north).count()
    patient = day["series"][0].patient_id
    assert any(
        e["what"].get("reference") == f"Patient/patient-{patient}"
        for r in found
        for e in r.get("entity", [])
    )
    assert everything(south, (audit.AUDIT_EVENTS,))["audit"] == []


def test_patient_lookups_narrow_to_the_patient(day, north, ada, ben, sam):
    other = in_series(north, ada, ben, sam, "Otto")[0]
    patient = day["series"][0].patient
    for source in MINE:
        if source.patient is None:
            continue
        for resource in patient_resources(source, patient):
            text = str(resource)
            assert f"Patient/patient-{other.patient_id}'" not in text


def test_who_may_read_them(north, ada, ben, sam, ivy):
    """brief-common's access table: a scheduler reads visits and places, never an Observation,
    an infusion or an adverse event; the audit log is the auditor's."""
    readable = {
        user.username: {s.prefix for s in MINE if Caller(user).may_read(s)}
        for user in (ada, ben, sam, ivy)
    }
    assert readable["sam"] == {"site", "chair", "appointment"}
    assert {"vitals", "aldrete", "infusion", "adverse", "encounter"} <= readable["ben"]
    assert "audit" not in readable["ben"] and "audit" in readable["ivy"]


def test_queries_do_not_grow_with_rows(north, ada, ben, sam, stocked):
    """Bounded reads (no N+1): building every resource of each source takes as many queries
    for three infusions (with their readings, events and adverse events) as for one."""
    first = in_series(north, ada, ben, sam, "Una")[0]
    build.give_infusion(first, ben, prescriber=ada, adverse_event=NAUSEA)

    def counts() -> dict[str, int]:
        found = {}
        for source in MINE:
            with CaptureQueriesContext(connection) as queries:
                list(site_resources(source, frozenset({north.pk})))
            found[source.prefix] = len(queries)
        return found

    few = counts()
    for given in ("Dee", "Tri"):
        visit = in_series(north, ada, ben, sam, given)[0]
        build.give_infusion(visit, ben, prescriber=ada, adverse_event=NAUSEA)
    assert InfusionRecord.objects.count() == 3
    assert counts() == few


def test_category_narrows_in_the_database(day, north):
    rows = vitals.VITALS.rows(frozenset({north.pk}))
    narrow = vitals.VITALS.narrow["category"]
    assert rows.filter(narrow("vital-signs")).count() == rows.count() > 0
    assert rows.filter(
        narrow("http://terminology.hl7.org/CodeSystem/observation-category|vital-signs")
    ).exists()
    assert not rows.filter(narrow("survey")).exists()
    aldrete = vitals.ALDRETE.rows(frozenset({north.pk}))
    assert aldrete.filter(vitals.ALDRETE.narrow["category"]("exam")).count() == 1
    assert not aldrete.filter(vitals.ALDRETE.narrow["category"]("vital-signs")).exists()


def test_the_audit_logs_own_fhir_download_validates_as_r4(day, login, ivy):
    """The audit report's download (sign-ins included: DICOM "User Authentication") passes the
    R4 schema and the code list, as the FHIR server's AuditEvents do."""
    response = login(ivy).get("/accounts/audit/export.fhir.json")
    assert response.status_code == 200
    bundle = response.json()
    assert schema_errors(bundle) == []
    kinds = {e["resource"]["type"]["code"] for e in bundle["entry"]}
    assert kinds == {"rest", "110114"}
    for entry in bundle["entry"]:
        assert unlisted_codes(entry["resource"]) == []


@pytest.mark.parametrize(
    ("source", "status"),
    [
        (visits.APPOINTMENTS, "fulfilled"), (visits.APPOINTMENTS, "booked"),
        (visits.APPOINTMENTS, "cancelled"), (visits.APPOINTMENTS, "arrived"),
        (visits.ENCOUNTERS, "finished"), (visits.ENCOUNTERS, "in-progress"),
        (visits.ENCOUNTERS, "arrived"), (administrations.ADMINISTRATIONS, "completed"),
        (administrations.ADMINISTRATIONS, "in-progress"),
        (administrations.ADMINISTRATIONS, "on-hold"),
    ],
)  # fmt: skip
def test_status_narrows_in_the_database_as_the_resources_say(day, north, source, status):
    """`status=` in the database finds exactly the rows whose resource has that status."""
    sites = frozenset({north.pk})
    built = {r["id"]: r["status"] for r in site_resources(source, sites)}
    rows = source.rows(sites).filter(source.narrow["status"](status))
    assert {f"{source.prefix}-{row.pk}" for row in rows} == {
        rid for rid, found in built.items() if found == status
    }
    with pytest.raises(ValueError, match="status must be one of"):
        source.narrow["status"]("done")
    assert not source.rows(sites).filter(source.narrow["status"]("entered-in-error")).exists()


def test_statuses_follow_the_visit_through_the_day(north, ada, ben, sam, stocked):
    """Checked in: the appointment and the encounter "arrived"; infusing: the booking fulfilled
    (the dose is given), the encounter and the administration "in-progress"."""
    visit = in_series(north, ada, ben, sam, "Ivo")[0]
    sites = frozenset({north.pk})
    mine = (visits.APPOINTMENTS, visits.ENCOUNTERS, administrations.ADMINISTRATIONS)

    def statuses() -> list[list[str]]:
        return [[r["status"] for r in site_resources(s, sites)] for s in mine]

    def searched(status: str, sources: tuple[Source, ...] = mine) -> list[int]:
        return [s.rows(sites).filter(s.narrow["status"](status)).count() for s in sources]

    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    assert statuses() == [["arrived", "booked", "booked", "booked", "booked", "booked"],
                          ["arrived"], []]  # fmt: skip
    assert searched("arrived", mine[:2]) == [1, 1]
    start = visit.starts_at + dt.timedelta(minutes=visit.check_in_minutes)
    chairside.start_infusion(
        record=record, container=story.vial_for(visit, strength_mg_per_ml=50), by=ben, now=start
    )
    assert [found[0] for found in statuses()] == ["fulfilled", "in-progress", "in-progress"]
    assert searched("in-progress", mine[1:]) == [1, 1]
