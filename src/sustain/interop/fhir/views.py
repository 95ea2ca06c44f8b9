"""The read-only FHIR R4 REST API at /fhir/R4/ (issue 16, items 2 and 8; FHIR R4 §3.1.0 "RESTful
API", http://hl7.org/fhir/R4/http.html).

- `metadata`: the CapabilityStatement (§3.1.0.14 "capabilities"), with no sign-in.
- `<Type>/<id>`: read (§3.1.0.2); `<Type>?…`: search (sustain.interop.fhir.search says which
  parameters and what each costs); `Patient/<id>/$everything` (R4 OperationDefinition
  Patient-everything: the patient and every resource of theirs the caller may read, with the
  Organizations, Practitioners and Locations they reference; one Bundle, not paged: its
  parameters `start`, `end`, `_since`, `_type`, `_count` are refused as unknown).

Who reads is `sustain.interop.auth.caller` (a session past the second factor, or a bearer token),
with the staff pages' rules: the role's permission for each source, the caller's sites only; a
row at another site is a 404 like one that does not exist. Every request that reads patient data
writes one read audit event naming its category (and the patient when it is one patient's);
a refusal (403, 404 of a read) writes one with outcome denied.

Every answer is JSON, `application/fhir+json`; every error an OperationOutcome (§3.1.0.1.9 and
reference §7 item 8): 400 an unknown parameter or a value that cannot be read, 401 no caller,
403 a type the role may not read, 404 an unknown type, id or path, 405 any method but GET (the
API is read-only; bodies are never read here), 406 an Accept or `_format` asking for anything but
JSON, 500 an unforeseen failure (logged; no traceback in the answer).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.form_tokens import form_token_exempt
from sustain.care.models import Patient
from sustain.interop import auth
from sustain.interop.fhir import catalog, search
from sustain.interop.fhir.registry import Caller, Json, Source, model_json, patient_resources

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/fhir+json"
JSON_FORMATS = frozenset(
    {"json", "application/fhir+json", "application/json", "application/json+fhir"}
)
ANY_JSON = JSON_FORMATS | {"*/*", "application/*"}
FORMAT_PARAMS = frozenset({"_format", "_pretty"})
# SMART App Launch's extension naming the token endpoint (sustain.interop.clients serves it).
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
REFERENCED = ("Organization", "Practitioner", "Location")  # what $everything adds when named


class Problem(Exception):
    """An answer other than 200: its status, OperationOutcome issue code and plain message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def fhir_json(data: Json, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(data), status=status, content_type=CONTENT_TYPE)


def outcome(status: int, code: str, message: str, allow: str = "GET") -> HttpResponse:
    """An OperationOutcome with one error issue (R4 OperationOutcome; issue codes from
    http://hl7.org/fhir/R4/valueset-issue-type.html)."""
    response = fhir_json(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": message}],
        },
        status,
    )
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="fhir"'
    if status == 405:
        response["Allow"] = allow
    return response


View = Callable[..., HttpResponse]


def fhir_view(view: View, method: str = "GET") -> View:
    """`method` only (GET, but POST for a search sent as a form), JSON only, and every failure
    an OperationOutcome (never a 500 page)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            if request.method != method:
                return outcome(
                    405, "not-supported",
                    f"{request.method} is not supported here: the API is read-only"
                    + (f"; send {method}." if method != "GET" else "."),
                    allow=method,
                )  # fmt: skip
            _check_format(request)
            return view(request, *args, **kwargs)
        except Problem as p:
            return outcome(p.status, p.code, p.message)
        except search.BadSearch as e:
            return outcome(400, "invalid", str(e))
        except auth.Refused as r:
            return outcome(r.status, r.code, r.message)
        except Exception:
            logger.exception("FHIR request failed: %s %s", request.method, request.path)
            return outcome(500, "exception", "The server could not answer; the failure is logged.")

    # Never a session form: nothing here writes, and a token client has no CSRF cookie.
    return csrf_exempt(form_token_exempt(wrapped))


def _check_format(request: HttpRequest) -> None:
    """JSON only (R4 http §3.1.0.1.8): `_format` wins over Accept; XML or anything else: 406."""
    wanted = request.GET.get("_format")
    if wanted is not None:
        if wanted.split(";")[0].strip().lower() not in JSON_FORMATS:
            raise Problem(406, "not-supported", "Only JSON is served (_format=json).")
        return
    accept = request.headers.get("Accept", "").strip()
    if not accept:
        return
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if not (kinds & ANY_JSON or any(k.endswith("+json") for k in kinds)):
        raise Problem(406, "not-supported", "Only JSON is served: accept application/fhir+json.")


def _base(request: HttpRequest) -> str:
    """The API's absolute base URL, ending "/"."""
    return request.build_absolute_uri(reverse("interop:fhir_metadata")).removesuffix("metadata")


def _sources(type_name: str) -> list[Source]:
    sources = catalog.sources_of(type_name)
    if not sources:
        raise Problem(404, "not-supported", f"Unknown resource type {type_name[:64]!r}.")
    return sources


def _audit(
    caller: Caller,
    category: DataCategory,
    reason: str,
    *,
    denied: bool = False,
    patient: Patient | None = None,
    patient_id: int | None = None,
) -> None:
    record_event(
        actor=caller.user,
        action=AuditAction.READ,
        category=category,
        outcome=AuditOutcome.DENIED if denied else AuditOutcome.SUCCESS,
        site=patient.site if patient is not None else None,
        patient_id=patient.pk if patient is not None else patient_id,
        obj=patient,
        reason=reason[:40],
    )


def _readable(caller: Caller, sources: list[Source], reason: str) -> list[Source]:
    """The sources the caller may read; none: 403, audited as denied."""
    readable = [s for s in sources if caller.may_read(s)]
    if not readable:
        _audit(caller, sources[0].category, reason, denied=True)
        raise Problem(403, "forbidden", f"Your role may not read {sources[0].type}.")
    return readable


def _category(sources: Iterable[Source]) -> DataCategory:
    found = {s.category for s in sources}
    return found.pop() if len(found) == 1 else DataCategory.PATIENT_RECORD


def _patient_at(site_ids: frozenset[int], pk: int | None) -> Patient | None:
    if pk is None:
        return None
    return Patient.objects.select_related("site").filter(pk=pk, site__in=site_ids).first()


def _bundle(request: HttpRequest, total: int, matches: list[Json], included: list[Json]) -> Json:
    base = _base(request)
    entries = [(r, "match") for r in matches] + [(r, "include") for r in included]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "entry": [
            {
                "fullUrl": f"{base}{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": mode},
            }
            for r, mode in entries
        ],
    }


# -- metadata ------------------------------------------------------------------------------------


@fhir_view
def metadata(request: HttpRequest) -> HttpResponse:
    """The CapabilityStatement (R4 CapabilityStatement; SMART App Launch "oauth-uris"; Bulk Data
    Access IG 2.0 `$export`): public, as FHIR servers publish theirs."""
    base = _base(request)
    resources: list[Json] = []
    for type_name in catalog.types():
        entry: Json = {
            "type": type_name,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": name, "type": kind} for name, kind in search.params_of(type_name).items()
            ],
        }
        if any(s.patient for s in catalog.sources_of(type_name)) and type_name != "Patient":
            entry["searchInclude"] = [f"{type_name}:patient", f"{type_name}:subject"]
        if type_name == "Patient":
            entry["operation"] = [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                }
            ]
        resources.append(entry)
    resources.append(
        {
            "type": "Group",
            "operation": [
                {
                    "name": "export",
                    "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
                }
            ],
        }
    )
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": timezone.now().date().isoformat(),
        "publisher": "Sustain",
        "kind": "instance",
        "software": {"name": "Sustain"},
        "implementation": {"description": "Sustain's FHIR R4 API (read-only)", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json", CONTENT_TYPE],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Read and search; _count defaults to 50 and is at most 200. Sign in as "
                    "staff, or use a client-credentials token (system scopes)."
                ),
                "security": {
                    "description": "OAuth 2.0 client credentials (SMART Backend Services).",
                    "extension": [
                        {
                            "url": OAUTH_URIS,
                            "extension": [{"url": "token", "valueUri": f"{base}auth/token"}],
                        }
                    ],
                },
                "resource": resources,
                "operation": [
                    {
                        "name": "export",
                        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                    }
                ],
            }
        ],
    }
    return fhir_json(model_json("CapabilityStatement", statement))


# -- read ----------------------------------------------------------------------------------------


@fhir_view
def read(request: HttpRequest, type_name: str, resource_id: str) -> HttpResponse:
    """One resource by its id, at the caller's sites (R4 http §3.1.0.2)."""
    caller = auth.caller(request)
    reason = f"FHIR read {type_name}"
    readable = _readable(caller, _sources(type_name), reason)
    _refuse_unknown_params(request, FORMAT_PARAMS)
    found = search.source_for_id(type_name, resource_id)
    if found is None:
        _audit(caller, readable[0].category, reason, denied=True)
        raise Problem(404, "not-found", f"No {type_name} {resource_id[:64]!r}.")
    source, pk = found
    if source not in readable:
        _audit(caller, source.category, reason, denied=True)
        raise Problem(403, "forbidden", f"Your role may not read this {type_name}.")
    site_ids = caller.site_ids()
    rows = source.rows(site_ids).filter(pk=pk)
    row = rows.first()
    built = [r for r in source.build(row) if r.get("id") == resource_id] if row is not None else []
    patient_id = _patient_of(source, pk)
    if not built:
        _audit(caller, source.category, reason, denied=True, patient_id=patient_id)
        raise Problem(404, "not-found", f"No {type_name} {resource_id[:64]!r}.")
    _audit(caller, source.category, reason, patient=_patient_at(site_ids, patient_id))
    return fhir_json(built[0])


def _patient_of(source: Source, pk: int) -> int | None:
    """The patient pk of `source`'s row `pk` at any site (to name them in an audit event)."""
    if source.patient is None:
        return None
    model = source.rows(frozenset()).model
    found = model._default_manager.filter(pk=pk).values_list(source.patient, flat=True).first()
    return found if isinstance(found, int) else None


def _refuse_unknown_params(request: HttpRequest, accepted: frozenset[str]) -> None:
    for name in request.GET:
        if name not in accepted:
            raise search.BadSearch(
                f"Unknown parameter {name[:60]!r} here (accepted: {', '.join(sorted(accepted))})."
            )


# -- search --------------------------------------------------------------------------------------


@fhir_view
def search_type(request: HttpRequest, type_name: str) -> HttpResponse:
    """A search of one type (sustain.interop.fhir.search), as a searchset Bundle with paging
    links (R4 search §3.1.1.6, http §3.1.0.10)."""
    return _search(request, type_name, list(_pairs(request.GET)))


def _search_by_post(request: HttpRequest, type_name: str) -> HttpResponse:
    """The same search with its parameters in a form body (R4 search §3.1.1.1: POST
    [type]/_search), so a name or a birth date searched for stays out of the URL and so out of
    any proxy's log. Its paging links are GET URLs with the parameters, as the standard's; ask
    for `_count` up to 200 to stay on one page."""
    _sources(type_name)  # an unknown type is a 404 whatever the body
    if request.body and request.content_type != "application/x-www-form-urlencoded":
        raise Problem(415, "not-supported", "Send the search as application/x-www-form-urlencoded.")
    return _search(request, type_name, [*_pairs(request.GET), *_pairs(request.POST)])


search_by_post = fhir_view(_search_by_post, method="POST")


def _pairs(params: QueryDict) -> Iterable[tuple[str, str]]:
    return ((name, value) for name, values in params.lists() for value in values)


def _search(request: HttpRequest, type_name: str, query: list[tuple[str, str]]) -> HttpResponse:
    caller = auth.caller(request)
    reason = f"FHIR search {type_name}"
    readable = _readable(caller, _sources(type_name), reason)
    site_ids = caller.site_ids()
    found = search.plan(type_name, query, site_ids, readable)
    total, page = search.run(found)
    included: list[Json] = []
    if found.include_patients:
        included = _patients(caller, site_ids, search.referenced_patients(page))
    patient = _patient_at(site_ids, found.one_patient)
    _audit(caller, _category(readable), reason, patient=patient)
    bundle = _bundle(request, total, page, included)
    bundle["link"] = _links(request, type_name, query, found, total)
    return fhir_json(bundle)


def _patients(caller: Caller, site_ids: frozenset[int], pks: set[int]) -> list[Json]:
    """The Patient resources of these pks at the caller's sites, if the caller may read them."""
    if not pks:
        return []
    found: list[Json] = []
    for source in catalog.sources_of("Patient"):
        if caller.may_read(source):
            for row in source.rows(site_ids).filter(pk__in=pks):
                found.extend(source.build(row))
    return found


def _links(
    request: HttpRequest,
    type_name: str,
    query: list[tuple[str, str]],
    found: search.Plan,
    total: int,
) -> list[Json]:
    base = f"{_base(request)}{type_name}"
    kept = [(n, v) for n, v in query if n not in {"_offset", "_count"}]

    def url(offset: int) -> str:
        return f"{base}?{urlencode([*kept, ('_count', found.count), ('_offset', offset)])}"

    links = [{"relation": "self", "url": url(found.offset)}]
    if found.count and found.offset + found.count < total:
        links.append({"relation": "next", "url": url(found.offset + found.count)})
    if found.count and found.offset > 0:
        previous = max(0, min(found.offset, total) - found.count)
        links.append({"relation": "previous", "url": url(previous)})
    return links


# -- $everything ---------------------------------------------------------------------------------


@fhir_view
def everything(request: HttpRequest, resource_id: str) -> HttpResponse:
    """The patient's record as one searchset Bundle (R4 Patient $everything), audited as a
    read of their record."""
    caller = auth.caller(request)
    reason = "FHIR Patient $everything"
    _readable(caller, _sources("Patient"), reason)
    _refuse_unknown_params(request, FORMAT_PARAMS)
    found = search.source_for_id("Patient", resource_id)
    site_ids = caller.site_ids()
    patient = _patient_at(site_ids, found[1] if found is not None else None)
    if patient is None:
        pk = found[1] if found is not None else None
        exists = pk is not None and Patient.objects.filter(pk=pk).exists()
        _audit(
            caller,
            DataCategory.PATIENT_RECORD,
            reason,
            denied=True,
            patient_id=pk if exists else None,
        )
        raise Problem(404, "not-found", f"No Patient {resource_id[:64]!r}.")
    matches: list[Json] = []
    for source in catalog.SOURCES:
        if source.patient is not None and caller.may_read(source):
            matches.extend(patient_resources(source, patient))
    included = _referenced(caller, site_ids, matches)
    _audit(caller, DataCategory.PATIENT_RECORD, reason, patient=patient)
    return fhir_json(_bundle(request, len(matches), matches, included))


def _referenced(caller: Caller, site_ids: frozenset[int], resources: list[Json]) -> list[Json]:
    """The Organizations, Practitioners and Locations `resources` reference that are not among
    them, at the caller's sites and readable by the caller (one query per source)."""
    have = {(r["resourceType"], r["id"]) for r in resources}
    wanted: dict[str, set[str]] = {t: set() for t in REFERENCED}
    for reference in _references(resources):
        type_name, _, resource_id = reference.partition("/")
        if type_name in wanted and (type_name, resource_id) not in have:
            wanted[type_name].add(resource_id)
    found: list[Json] = []
    for type_name, ids in wanted.items():
        by_source: dict[int, tuple[Source, set[int]]] = {}
        for resource_id in ids:
            hit = search.source_for_id(type_name, resource_id)
            if hit is not None and caller.may_read(hit[0]):
                by_source.setdefault(id(hit[0]), (hit[0], set()))[1].add(hit[1])
        for source, pks in by_source.values():
            for row in source.rows(site_ids).filter(pk__in=pks):
                found.extend(r for r in source.build(row) if r.get("id") in ids)
    return found


def _references(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str):
            yield reference
        for inner in value.values():
            yield from _references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner)


# -- nothing here --------------------------------------------------------------------------------


@csrf_exempt
@form_token_exempt
def nothing(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under /fhir/R4/: a 404 OperationOutcome (405 for a write, as everywhere)."""
    if request.method != "GET":
        return outcome(
            405, "not-supported", f"{request.method} is not supported: the API is read-only."
        )
    return outcome(404, "not-found", "Nothing is served at this path.")
