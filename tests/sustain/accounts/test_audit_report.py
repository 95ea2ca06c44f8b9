"""Issue 14, AUD-06: the audit report. Auditors and clinic administrators see their sites'
events and their own site-less events (sign-ins), for a date range, sorted by any column,
paginated, exported as CSV and as a FHIR R4B Bundle of AuditEvents."""

import csv
import datetime as dt
import io
import json

import pytest
import time_machine
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent
from fhir.resources.R4B.bundle import Bundle

from sustain.accounts.audit import record_event
from sustain.accounts.audit_report import SORTABLE
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import AuditEvent

pytestmark = pytest.mark.db
DAY1 = dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC)
DAY2 = dt.datetime(2026, 11, 3, 15, tzinfo=dt.UTC)
DAY3 = dt.datetime(2026, 11, 4, 15, tzinfo=dt.UTC)


def rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.fixture
def trail(north, south, ada, carl, ivy):
    """North events on three days, one South event, Ada's and Ivy's own site-less events."""
    for when, patient in ((DAY1, 7), (DAY2, 8), (DAY3, 9)):
        with time_machine.travel(when, tick=False):
            record_event(actor=ada, action=AuditAction.READ, category=DataCategory.PATIENT_RECORD,
                         site=north, patient_id=patient)  # fmt: skip
    with time_machine.travel(DAY2, tick=False):
        record_event(actor=carl, action=AuditAction.READ, category=DataCategory.PATIENT_RECORD,
                     site=south, patient_id=50)  # fmt: skip
        record_event(actor=ada, action=AuditAction.LOGIN, category=DataCategory.AUTHENTICATION)
        record_event(actor=ivy, action=AuditAction.LOGIN, category=DataCategory.AUTHENTICATION)


def test_only_the_users_sites_and_own_sign_ins(login, trail, ivy):
    shown = rows(login(ivy).get("/accounts/audit/export.csv"))
    assert {(r["user"], r["patient_id"]) for r in shown} == {
        ("ada", "7"), ("ada", "8"), ("ada", "9"), ("ivy", ""),
    }  # fmt: skip
    page = login(ivy).get("/accounts/audit/").content.decode()
    assert "<td>carl</td>" not in page


def test_a_date_range_in_utc_days(login, trail, alex):
    shown = rows(login(alex).get("/accounts/audit/export.csv?start=2026-11-03&end=2026-11-03"))
    assert [r["patient_id"] for r in shown] == ["8"]
    since = rows(login(alex).get("/accounts/audit/export.csv?start=2026-11-03"))
    assert sorted(r["patient_id"] for r in since if r["patient_id"]) == ["8", "9"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=1800-01-01", "From (UTC day): the date must be between 01 January 1900 and"),
        ("start=2026-11-04&end=2026-11-03", "the end date must be on or after the start date"),
        ("start=someday", "Enter a valid date."),
        ("sort=password", "Select a valid choice. password is not one of the available"),
    ],
)
def test_bad_filters_are_refused_in_plain_words(login, trail, ivy, query, message):
    response = login(ivy).get(f"/accounts/audit/?{query}")
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert "No events." in page
    assert rows(login(ivy).get(f"/accounts/audit/export.csv?{query}")) == []


@pytest.mark.parametrize("column", list(SORTABLE))
def test_sorted_by_each_column_both_ways(login, trail, ivy, column):
    client = login(ivy)
    for sign in ("", "-"):
        response = client.get(f"/accounts/audit/export.csv?sort={sign}{column}")
        # An event is its lane (its site, 0: none) and its seq there; the export comes last.
        shown = [(int(r["site_id"] or 0), int(r["seq"])) for r in rows(response)][:-1]
        ids = [e.pk for e in AuditEvent.objects.all() if (e.lane, e.seq) in shown]
        assert len(ids) == len(shown)
        visible = AuditEvent.objects.filter(pk__in=ids)
        expected = list(
            visible.order_by(f"{sign}{column}", "id" if sign else "-id").values_list("lane", "seq")
        )
        assert shown == expected
    page = client.get(f"/accounts/audit/?sort={column}").content.decode()
    assert f"sort=-{column}" in page  # its heading now sorts the other way


def test_paginated(login, north, ada, ivy):
    for n in range(105):
        record_event(actor=ada, action=AuditAction.READ, category=DataCategory.PATIENT_RECORD,
                     site=north, patient_id=n)  # fmt: skip
    client = login(ivy)
    assert "Page 1 of 2" in client.get("/accounts/audit/?sort=seq").content.decode()
    second = client.get("/accounts/audit/?sort=seq&page=2").content.decode()
    assert "Page 2 of 2" in second


def test_fhir_export_is_a_valid_r4b_bundle_of_audit_events(login, trail, ivy):
    response = login(ivy).get("/accounts/audit/export.fhir.json?start=2026-11-02&end=2026-11-03")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    data = json.loads(response.content)
    bundle = Bundle.model_validate(data)
    events = [FhirAuditEvent.model_validate(e.resource.model_dump()) for e in bundle.entry]
    assert len(events) == 3  # Ada's two reads and Ivy's sign-in
    read = next(e for e in events if e.entity)
    assert (read.action, read.outcome, read.entity[0].what.reference) == (
        "R",
        "0",
        "Patient/patient-8",
    )
    export = AuditEvent.objects.order_by("id").last()
    assert (export.action, export.reason) == (AuditAction.EXPORT, "audit fhir: 3 rows")


def test_fhir_ids_stay_unique_across_lanes(login, trail, north, ivy):
    """North's lane and lane 0 both number from 1: the ids name the lane."""
    data = json.loads(login(ivy).get("/accounts/audit/export.fhir.json").content)
    urls = [e["fullUrl"] for e in data["entry"]]
    ids = [e["resource"]["id"] for e in data["entry"]]
    assert len(set(urls)) == len(set(ids)) == len(urls) == 5  # and the test client's sign-in
    assert f"urn:sustain:audit:{north.pk}-3" in urls  # North's third read
    assert "urn:sustain:audit:3" in urls  # Ivy's sign-in, lane 0's third event


def test_who_may_see_it(login, trail, ada, alex, ivy, nora):
    assert login(ada).get("/accounts/audit/").status_code == 403
    assert login(nora).get("/accounts/audit/export.fhir.json").status_code == 403
    assert login(alex).get("/accounts/audit/").status_code == 200
    denied = AuditEvent.objects.filter(outcome=AuditOutcome.DENIED, actor=ada)
    assert denied.count() == 1
