"""FHIR Bulk Data $export (issue 16, item 4; Bulk Data Access IG v2): kick-off, the worker's
real task run, status, the NDJSON files (each line R4-schema valid), the requester alone sees
the job, DELETE, the hourly cleanup of expired files, bad kick-offs as OperationOutcomes, the
types a caller may not read, and `sustain fhir-export`."""

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from sustain.accounts.enums import AuditAction, AuditOutcome
from sustain.accounts.models import AuditEvent
from sustain.interop import tasks
from sustain.interop.fhir import export, patients
from sustain.interop.fhir.registry import Caller
from sustain.interop.models import ExportJob, ExportState
from tests.sustain.interop.fhir_checks import schema_errors
from tests.sustain.worker import run_ready

pytestmark = pytest.mark.db

ASYNC = {"HTTP_PREFER": "respond-async", "HTTP_ACCEPT": "application/fhir+json"}


@pytest.fixture(autouse=True)
def _export_dir(settings, tmp_path) -> Path:
    settings.SUSTAIN_EXPORT_DIR = tmp_path / "exports"
    return settings.SUSTAIN_EXPORT_DIR


def kick_off(client, url="/fhir/R4/$export", **params):
    response = client.get(url, params, **ASYNC)
    assert response.status_code == 202, response.content
    return response["Content-Location"]


def lines(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    assert body.endswith("\n") or body == ""
    return [json.loads(line) for line in body.splitlines()]


def assert_outcome(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/fhir+json"
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == code
    assert schema_errors(body) == []


def test_kick_off_run_status_and_files(login, ada, pat, north, _export_dir):
    client = login(ada)
    status_url = kick_off(client, _type="Patient", _outputFormat="application/fhir+ndjson")
    assert status_url.startswith("http://testserver/fhir/R4/$export-status/")

    waiting = client.get(status_url)
    assert waiting.status_code == 202
    assert waiting["X-Progress"] == "queued" and int(waiting["Retry-After"]) > 0

    assert run_ready(tasks.run_export) == 1
    done = client.get(status_url)
    assert done.status_code == 200
    assert done["Content-Type"] == "application/json" and done["Expires"]
    manifest = done.json()
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"].endswith(
        "$export?_type=Patient&_outputFormat=application%2Ffhir%2Bndjson"
    )
    dt.datetime.fromisoformat(manifest["transactionTime"])
    assert manifest["error"] == []
    assert [(o["type"], o["count"]) for o in manifest["output"]] == [("Patient", 1)]

    got = client.get(manifest["output"][0]["url"])
    assert got.status_code == 200
    assert got["Content-Type"] == "application/fhir+ndjson"
    resources = lines(got)
    assert [r["id"] for r in resources] == [f"patient-{pat.pk}"]
    for resource in resources:
        assert resource["resourceType"] == "Patient"
        assert schema_errors(resource) == []
    files = list((_export_dir / status_url.rsplit("/", 1)[1]).iterdir())
    assert [f.name for f in files] == ["Patient.ndjson"]
    assert files[0].stat().st_mode & 0o777 == 0o600

    exports = AuditEvent.objects.filter(action=AuditAction.EXPORT).order_by("id")
    assert [(e.actor, e.site, e.outcome, e.reason) for e in exports] == [
        (ada, north, AuditOutcome.SUCCESS, "FHIR $export: 1 types"),
        (ada, north, AuditOutcome.SUCCESS, "FHIR export file Patient.ndjson"),
    ]


def test_group_export_of_own_site_and_another_site(login, ada, carl, pat, north, south):
    client = login(ada)
    kick_off(client, f"/fhir/R4/Group/site-{north.pk}/$export")
    assert_outcome(client.get(f"/fhir/R4/Group/site-{south.pk}/$export", **ASYNC), 404, "not-found")
    assert_outcome(client.get("/fhir/R4/Group/nonsense/$export", **ASYNC), 404, "not-found")
    denied = AuditEvent.objects.filter(outcome=AuditOutcome.DENIED).order_by("id")
    assert [e.actor for e in denied] == [ada, ada]

    # South's prescriber exports South: none of North's patients.
    other = login(carl)
    status_url = kick_off(other)
    run_ready(tasks.run_export)
    manifest = other.get(status_url).json()
    counts = {o["type"]: o["count"] for o in manifest["output"]}
    assert (counts["Patient"], counts["Organization"]) == (0, 1)  # South's own site only


def test_only_the_requester_sees_the_job(login, ada, ben, pat):
    status_url = kick_off(login(ada))
    nurse = login(ben)  # same site, may read patients, did not ask
    assert_outcome(nurse.get(status_url), 404, "not-found")
    assert_outcome(nurse.delete(status_url), 404, "not-found")
    run_ready(tasks.run_export)
    manifest = login(ada).get(status_url).json()
    assert_outcome(nurse.get(manifest["output"][0]["url"]), 404, "not-found")
    assert AuditEvent.objects.filter(actor=ben, outcome=AuditOutcome.DENIED).count() == 3
    assert login(ada).get(manifest["output"][0]["url"]).status_code == 200


def test_signed_out_is_401(client, pat):
    assert_outcome(client.get("/fhir/R4/$export", **ASYNC), 401, "login")


def test_delete_cancels_before_and_after_the_run(login, ada, pat, _export_dir):
    client = login(ada)
    before = kick_off(client)
    assert client.delete(before).status_code == 202
    assert_outcome(client.get(before), 404, "not-found")
    run_ready(tasks.run_export)  # the task finds no job: nothing written
    assert not _export_dir.exists() or list(_export_dir.iterdir()) == []

    after = kick_off(client)
    run_ready(tasks.run_export)
    file_url = client.get(after).json()["output"][0]["url"]
    assert client.delete(after).status_code == 202
    assert_outcome(client.get(file_url), 404, "not-found")
    assert list(_export_dir.iterdir()) == []
    assert ExportJob.objects.count() == 0


def test_the_cleanup_deletes_expired_exports(login, ada, pat, _export_dir, settings):
    client = login(ada)
    old, fresh = kick_off(client), kick_off(client)
    run_ready(tasks.run_export)
    old_id = old.rsplit("/", 1)[1]
    ExportJob.objects.filter(pk=old_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert_outcome(client.get(old), 404, "not-found")  # expired: gone even before the sweep

    assert tasks.delete_expired_exports.call() == 1
    assert not (_export_dir / old_id).exists()
    assert list(ExportJob.objects.values_list("state", flat=True)) == [ExportState.DONE]
    assert client.get(fresh).status_code == 200
    expires = ExportJob.objects.get().expires_at - ExportJob.objects.get().finished_at
    assert expires == dt.timedelta(hours=settings.SUSTAIN_FHIR_EXPORT_HOURS)


def test_a_job_never_finished_is_deleted_after_the_same_time(login, ada, pat, settings):
    kick_off(login(ada))
    long_ago = timezone.now() - dt.timedelta(hours=settings.SUSTAIN_FHIR_EXPORT_HOURS, seconds=1)
    ExportJob.objects.update(state=ExportState.RUNNING, created_at=long_ago)
    assert tasks.delete_expired_exports.call() == 1
    assert ExportJob.objects.count() == 0


def test_a_failed_run_is_a_500_outcome_and_leaves_no_files(login, ada, pat, settings, tmp_path):
    settings.SUSTAIN_EXPORT_DIR = tmp_path / "a-file"
    settings.SUSTAIN_EXPORT_DIR.write_text("not a directory")
    client = login(ada)
    status_url = kick_off(client)
    assert run_ready(tasks.run_export) == 1
    assert_outcome(client.get(status_url), 500, "exception")
    assert ExportJob.objects.get().error == "NotADirectoryError"


@pytest.mark.parametrize(
    ("headers", "params", "code"),
    [
        ({}, {}, "required"),
        (ASYNC, {"_type": "Nope"}, "invalid"),
        (ASYNC, {"_type": ""}, "invalid"),
        (ASYNC, {"_since": "yesterday"}, "invalid"),
        (ASYNC, {"_since": "2026-11-30T13:00:00"}, "invalid"),
        (ASYNC, {"_outputFormat": "application/fhir+xml"}, "invalid"),
        (ASYNC, {"_typeFilter": "Patient?name=x"}, "not-supported"),
    ],
    ids=["no-prefer", "bad-type", "empty-type", "bad-since", "since-without-zone", "xml", "filter"],
)
def test_bad_kick_offs_are_400(login, ada, headers, params, code):
    assert_outcome(login(ada).get("/fhir/R4/$export", params, **headers), 400, code)
    assert ExportJob.objects.count() == 0


def test_types_the_caller_may_not_read(login, ivy, ada, pat, _export_dir):
    """An auditor reads no Patient: asking only for unreadable types is a 403; without _type
    the export holds what the role reads (the audit trail, the sites, the protocols) and names
    the rest in `error`."""
    auditor = login(ivy)
    assert_outcome(auditor.get("/fhir/R4/$export", {"_type": "Patient"}, **ASYNC), 403, "forbidden")
    status_url = kick_off(auditor)
    run_ready(tasks.run_export)
    manifest = auditor.get(status_url).json()
    assert "AuditEvent" in {o["type"] for o in manifest["output"]}
    assert "Patient" not in {o["type"] for o in manifest["output"]}
    assert len(manifest["error"]) == 1

    scoped = Caller(user=ada, scopes=frozenset({"system/Observation.read"}))
    assert export.plan(scoped, ["Patient"]).sources == ()
    plan = export.Plan(sources=(patients.PATIENTS,), refused=("Observation",))
    written, errors = export.write(plan, frozenset({pat.site_id}), _export_dir / "x")
    assert [(w.type, w.count) for w in written] == [("Patient", 1)]
    assert errors is not None and errors.count == 1
    outcome = json.loads((_export_dir / "x" / errors.file).read_text())
    assert "Observation" in outcome["issue"][0]["diagnostics"]
    assert schema_errors(outcome) == []


def test_since_keeps_sources_without_a_date(ada, pat, _export_dir):
    since = export.parse_since("2999-01-01T00:00:00Z")
    rows = list(export.rows_since(patients.PATIENTS, frozenset({pat.site_id}), since))
    assert [r["id"] for r in rows] == [f"patient-{pat.pk}"]


def test_fhir_export_command(tmp_path, pat, north):
    out, stdout = tmp_path / "north", io.StringIO()
    call_command("fhir_export", "--site", north.name, "--out", str(out), stdout=stdout)
    assert f"Patient\t{out / 'Patient.ndjson'}\t1\n" in stdout.getvalue()
    for path in out.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            assert schema_errors(json.loads(line)) == []
    assert len((out / "Patient.ndjson").read_text().splitlines()) == 1
    event = AuditEvent.objects.filter(action=AuditAction.EXPORT).get()
    assert (event.actor, event.actor_username, event.site) == (None, "cli", north)

    for bad in (["--type", "Nope"], ["--site", "Nowhere"]):
        with pytest.raises(CommandError) as refused:
            call_command("fhir_export", "--site", north.name, "--out", str(out), *bad)
        assert refused.value.returncode == 2
    with pytest.raises(CommandError):
        call_command("fhir_export", "--site", north.name, "--out", str(out / "Patient.ndjson"))
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT).count() == 1
