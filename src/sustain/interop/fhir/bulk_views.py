"""FHIR Bulk Data $export (issue 16, item 4), as the Bulk Data Access IG v2 ("Bulk Data Export
Operation Request Flow", hl7.org/fhir/uv/bulkdata/STU2/export.html) defines it:

- kick-off: `GET [base]/$export` (every site of the caller) or `GET [base]/Group/site-<pk>/$export`
  (one site the caller belongs to; another site, or none, is a 404 OperationOutcome, audited as
  denied). `Prefer: respond-async` is required (400 without). Parameters `_type`, `_since`,
  `_outputFormat` (application/fhir+ndjson, application/ndjson, ndjson); any other parameter is a
  400 (the IG: a server that does not support a parameter SHOULD refuse it unless the client
  asked for lenient handling). Answers 202 with `Content-Location`: the status URL. Audited: one
  export event per site.
- status: `GET` answers 202 with `X-Progress` and `Retry-After` while the worker writes, then
  200 with the manifest (transactionTime, request, requiresAccessToken true, output
  [{type, url, count}], error [{type, url}]) and `Expires`; a failed job 500 OperationOutcome.
  `DELETE` cancels and deletes the job and its files (202).
- output files: `GET` as application/fhir+ndjson; each download audited (an export per site).

Only the requester (the same staff member, or the same client's service user) sees the job's
status and files; anyone else gets a 404, as for a job that does not exist.

Types the caller may not read (the staff pages' permissions, and a token's scopes): without
`_type`, and when `_type` also names readable types, they are left out and each is named by an
OperationOutcome line in the manifest's `error` file; when every type `_type` names (or every
type, without `_type`) is unreadable, the kick-off is refused with 403.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import Site
from sustain.interop import auth, tasks
from sustain.interop.fhir import catalog, export
from sustain.interop.fhir.registry import Caller
from sustain.interop.models import ExportJob, ExportState

FHIR_JSON = "application/fhir+json"
PARAMETERS = frozenset({"_type", "_since", "_outputFormat"})
RETRY_AFTER_SECONDS = 5
View = Callable[..., HttpResponseBase]


def outcome(status: int, code: str, message: str) -> JsonResponse:
    """An OperationOutcome with one issue (FHIR R4 §3.1.0 "RESTful API": errors are answered
    with an OperationOutcome)."""
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }
    return JsonResponse(body, status=status, content_type=FHIR_JSON)


class _Answer(Exception):
    """Stop the view with this response (an OperationOutcome)."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def _fhir(*methods: str) -> Callable[[View], View]:
    """A bulk endpoint: only `methods` (else 405), the caller found (else 401/403), and any
    early answer (`_Answer`) returned. CSRF: these endpoints take GET, and DELETE, which a
    browser sends cross-site only after a CORS preflight that Sustain never allows."""

    def wrap(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in methods:
                response = outcome(405, "not-supported", f"Use {', '.join(methods)} here.")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except auth.Refused as refused:
                return outcome(refused.status, refused.code, refused.message)
            except _Answer as answer:
                return answer.response

        return endpoint

    return wrap


@_fhir("GET")
def system_export(request: HttpRequest) -> HttpResponse:
    return _kick_off(request, group=None)


@_fhir("GET")
def group_export(request: HttpRequest, group_id: str) -> HttpResponse:
    return _kick_off(request, group=group_id)


def _group_sites(caller: Caller, group: str | None) -> frozenset[int]:
    """The sites a kick-off exports: the caller's, or the one site its Group names (another
    site, or no such Group: an audited 404)."""
    site_ids = caller.site_ids()
    if group is None:
        return site_ids
    head, _, pk = group.partition("-")
    if head != "site" or not pk.isdigit() or int(pk) not in site_ids:
        record_event(
            actor=caller.user, action=AuditAction.EXPORT, category=DataCategory.PATIENT_RECORD,
            outcome=AuditOutcome.DENIED, reason=f"FHIR $export of Group {group[:20]}",
        )  # fmt: skip
        raise _Answer(outcome(404, "not-found", f"There is no Group/{group[:40]}."))
    return frozenset({int(pk)})


def _parameters(request: HttpRequest) -> tuple[list[str] | None, dt.datetime | None]:
    """`_type` and `_since` of a kick-off; a bad one, or a missing Prefer, is a 400."""
    if "respond-async" not in request.headers.get("Prefer", ""):
        raise _Answer(
            outcome(400, "required", "A bulk export needs the header 'Prefer: respond-async'.")
        )
    unknown = sorted(set(request.GET) - PARAMETERS)
    if unknown:
        raise _Answer(outcome(400, "not-supported", f"Unsupported parameter {unknown[0][:40]!r}."))
    try:
        asked = request.GET.getlist("_type")
        types = export.parse_types(",".join(asked) if asked else None)
        since = export.parse_since(request.GET.get("_since"))
        export.parse_output_format(request.GET.get("_outputFormat"))
    except export.BadRequest as bad:
        raise _Answer(outcome(400, "invalid", str(bad))) from None
    return types, since


def _kick_off(request: HttpRequest, *, group: str | None) -> HttpResponse:
    caller = auth.caller(request)
    site_ids = _group_sites(caller, group)
    types, since = _parameters(request)
    plan = export.plan(caller, types)
    if not plan.sources:
        return outcome(403, "forbidden", "You may not read any of the resource types asked for.")
    if not site_ids:
        return outcome(403, "forbidden", "You belong to no site.")
    sites = list(Site.objects.filter(pk__in=site_ids).order_by("pk"))
    with transaction.atomic():
        job = ExportJob.objects.create(
            requested_by=caller.user,
            scopes=None if caller.scopes is None else sorted(caller.scopes),
            types=plan.types,
            refused=list(plan.refused),
            since=since,
            request_url=request.build_absolute_uri()[:2000],
            created_at=timezone.now(),
        )
        job.sites.set(sites)
        for site in sites:
            record_event(
                actor=caller.user, action=AuditAction.EXPORT,
                category=DataCategory.PATIENT_RECORD, site=site, obj=job,
                reason=f"FHIR $export: {len(plan.types)} types",
            )  # fmt: skip
        tasks.run_export.enqueue(str(job.pk))
    response = HttpResponse(status=202)
    response["Content-Location"] = request.build_absolute_uri(
        reverse("interop:export_status", args=[job.pk])
    )
    return response


def _own_job(caller: Caller, job_id: uuid.UUID) -> ExportJob:
    """The job if `caller` asked for it and its files have not expired; otherwise a 404, as
    for no job (someone else's job is audited as a denied read)."""
    job = ExportJob.objects.filter(pk=job_id).first()
    if job is not None and job.requested_by_id != caller.user.pk:
        record_event(
            actor=caller.user, action=AuditAction.READ, category=DataCategory.PATIENT_RECORD,
            outcome=AuditOutcome.DENIED, obj=job, reason="FHIR export of another requester",
        )  # fmt: skip
        job = None
    if job is None or (job.expires_at is not None and job.expires_at <= timezone.now()):
        raise _Answer(outcome(404, "not-found", "There is no such export (or it has expired)."))
    return job


@_fhir("GET", "DELETE")
def export_status(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _own_job(auth.caller(request), job_id)
    if request.method == "DELETE":
        tasks.delete_job(job)
        return HttpResponse(status=202)
    if job.state in {ExportState.QUEUED, ExportState.RUNNING}:
        response = HttpResponse(status=202)
        response["X-Progress"] = job.progress or "queued"
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if job.state == ExportState.FAILED:
        return outcome(500, "exception", "The export failed; please ask for it again.")
    response = JsonResponse(_manifest(request, job), content_type="application/json")
    if job.expires_at is not None:
        response["Expires"] = http_date(job.expires_at.timestamp())
    return response


def _manifest(request: HttpRequest, job: ExportJob) -> dict[str, Any]:
    def url(file: str) -> str:
        return request.build_absolute_uri(reverse("interop:export_file", args=[job.pk, file]))

    return {
        "transactionTime": (job.started_at or job.created_at).isoformat(),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {"type": o["type"], "url": url(o["file"]), "count": o["count"]}
            for o in job.output
            if not o["error"]
        ],
        "error": [{"type": o["type"], "url": url(o["file"])} for o in job.output if o["error"]],
    }


@_fhir("GET")
def export_file(request: HttpRequest, job_id: uuid.UUID, name: str) -> HttpResponseBase:
    caller = auth.caller(request)
    job = _own_job(caller, job_id)
    entry = next((o for o in job.output if o["file"] == name), None)
    path = tasks.job_dir(job_id) / name
    if job.state != ExportState.DONE or entry is None or not path.is_file():
        return outcome(404, "not-found", "There is no such export file (or it has expired).")
    sources = catalog.sources_of(entry["type"])
    category = sources[0].category if sources else DataCategory.PATIENT_RECORD
    with transaction.atomic():
        for site in job.sites.order_by("pk"):
            record_event(
                actor=caller.user, action=AuditAction.EXPORT, category=category, site=site,
                obj=job, reason=f"FHIR export file {name}"[:40],
            )  # fmt: skip
    return FileResponse(path.open("rb"), content_type=export.NDJSON)
