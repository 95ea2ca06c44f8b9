"""FHIR search over the catalog's sources (FHIR R4 §3.1.1 "Search", http://hl7.org/fhir/R4/search.html).

A search names one resource type; it reads every source of that type the caller may read, at the
caller's sites only. Parameters (repeated: all must hold; comma-separated values: any may hold,
R4 search §3.1.1.4.2):

- answered in the database, before anything is built: `_id`, `patient` / `subject` (a reference
  "Patient/patient-12" or "patient-12"; a source's `patient` lookup), `date` (prefixes eq, ne, lt,
  le, gt, ge, §3.1.1.5.6; a date "2026", "2026-11", "2026-11-23" or a date-time, read as the
  range it names, UTC when it has no offset; a source's `date` lookup) and the source's own
  `narrow` parameters (Patient: name, family, given, birthdate, identifier). A source may answer
  `code`, `category` or `status` in its `narrow` too, and then they are database parameters.
- matched on the built JSON: `code` (token [system|]code against any Coding of `code` or
  `medicationCodeableConcept`), `category` (any Coding of `category`) and `status`; each is a
  parameter of a type only when its R4 resource has that element (fhir.resources.R4B's model).

Cost model: without a JSON parameter a page costs one COUNT per source and one sliced SELECT per
source on the page, and only the page's rows are built; with one, every row the database
parameters left is built (streamed, 500 rows a chunk) and matched, then the page is cut, so
`code=` alone builds every row of the type at the caller's sites; combine it with `patient` or
`date` to narrow first. Paging is by offset over a stable order (each source's own order, then
its primary key; the sources in catalog order). On the database path a page holds `_count` rows,
which is `_count` resources where a row builds one resource (most sources); `total` counts rows.

Result parameters: `_count` (default 50, at most 200: a larger value is served as 200; 0 gives
the total only), `_offset` (the paging links'), `_include` (`<Type>:patient` or
`<Type>:subject` for a type with a patient: the page's patients, search mode "include", only
when the caller may read Patient), `_format` (json only) and `_pretty`, `_total` (accepted and
ignored: the total is always given). Anything else (`_elements`, `_summary`, `_sort`,
`_revinclude`, modifiers such as `name:exact`, chained parameters) is an unknown parameter: 400.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from typing import Any

from django.db.models import DateField, DateTimeField, Model, Q, QuerySet

from sustain.interop.fhir import catalog
from sustain.interop.fhir import tokens as tokens_
from sustain.interop.fhir.registry import Json, Source

DEFAULT_COUNT = 50
MAX_COUNT = 200
RESULT_PARAMS = frozenset({"_count", "_offset", "_include", "_format", "_pretty", "_total"})
JSON_PARAMS = ("code", "category", "status")  # matched on built JSON unless a source narrows
CODE_ELEMENTS = ("code", "medicationCodeableConcept")  # R4 search param `code`'s elements
DATE_PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge")
_DATE = re.compile(r"^(?P<prefix>[a-z]{2})?(?P<value>\d{4}(-\d{2}(-\d{2}(T.+)?)?)?)$")
Predicate = Callable[[Json], bool]
# A FHIR id (R4 datatypes §2.24.0.1 "id"), its row pk ASCII digits that fit a bigint.
ID = re.compile(r"[A-Za-z0-9.-]{1,64}")


class BadSearch(ValueError):
    """A search Sustain cannot answer as asked: a 400 OperationOutcome with this message."""


@cache
def _elements(type_name: str) -> frozenset[str]:
    """The element names of the R4 resource `type_name` (fhir.resources.R4B, FHIR-06)."""
    try:
        module = import_module(f"fhir.resources.R4B.{type_name.lower()}")
    except ImportError:
        return frozenset()
    return frozenset(getattr(module, type_name).model_fields)


def json_params(type_name: str) -> list[str]:
    elements = _elements(type_name)
    found = ["code"] if elements & set(CODE_ELEMENTS) else []
    return found + [name for name in ("category", "status") if name in elements]


def params_of(type_name: str) -> dict[str, str]:
    """Every search parameter of the type, name → FHIR search parameter type (for metadata)."""
    sources = catalog.sources_of(type_name)
    found = {"_id": "token"}
    if any(s.patient for s in sources):
        found |= {"patient": "reference", "subject": "reference"}
    if any(s.date for s in sources):
        found["date"] = "date"
    found |= dict.fromkeys(json_params(type_name), "token")
    for source in sources:
        for name in source.narrow:
            found.setdefault(name, _NARROW_TYPES.get(name, "string"))
    return found


_NARROW_TYPES = {"birthdate": "date", "identifier": "token", "code": "token", "status": "token"}


def values(raw: str) -> list[str]:
    """A parameter's comma-separated values (any may match), "\\," an escaped comma."""
    parts = [p.replace("\\,", ",") for p in re.split(r"(?<!\\),", raw)]
    return [p for p in parts if p != ""]


def patient_pk(reference: str) -> int | None:
    """The Patient row pk a reference names ("Patient/patient-12", "patient-12"), or None."""
    found = source_for_id("Patient", reference.removeprefix("Patient/"))
    return found[1] if found is not None else None


def source_for_id(type_name: str, resource_id: str) -> tuple[Source, int] | None:
    """catalog.source_for_id for an id from outside: None unless it is a FHIR id whose row pk
    is ASCII digits that fit the database's bigint."""
    if not ID.fullmatch(resource_id):
        return None
    pk = resource_id.partition("-")[2].split("-", 1)[0]
    if not (pk.isascii() and pk.isdigit() and len(pk) <= 18):
        return None
    return catalog.source_for_id(type_name, resource_id)


# -- dates -------------------------------------------------------------------------------------


def date_range(value: str) -> tuple[str, dt.datetime, dt.datetime]:
    """`value` ("ge2026-11", "2026-11-23T10:00:00Z") as (prefix, start, end): the UTC range
    [start, end) the date or date-time names at its precision (R4 search §3.1.1.5.6)."""
    match = _DATE.match(value)
    if match is None:
        raise BadSearch(f"date: {value!r} is not a FHIR date or date-time with a prefix.")
    prefix = match["prefix"] or "eq"
    if prefix not in DATE_PREFIXES:
        raise BadSearch(
            f"date: the prefix {prefix!r} is not supported ({', '.join(DATE_PREFIXES)})."
        )
    text = match["value"]
    try:
        if "T" in text:
            start = dt.datetime.fromisoformat(text)
            if start.tzinfo is None:
                start = start.replace(tzinfo=dt.UTC)
            step = dt.timedelta(microseconds=1) if start.microsecond else dt.timedelta(seconds=1)
            return prefix, start, start + step
        year, month, day = (int(p) for p in [*text.split("-"), "0", "0"][:3])
        if month == 0:
            first = dt.date(year, 1, 1)
            after = dt.date(year + 1, 1, 1) if year < dt.MAXYEAR else dt.date.max
        elif day == 0:
            first = dt.date(year, month, 1)
            after = (first + dt.timedelta(days=31)).replace(day=1)
        else:
            first = dt.date(year, month, day)
            after = first + dt.timedelta(days=1)
    except (ValueError, OverflowError) as e:
        raise BadSearch(f"date: {value!r} is not a valid date or date-time ({e}).") from e
    midnight = dt.time(tzinfo=dt.UTC)
    return prefix, dt.datetime.combine(first, midnight), dt.datetime.combine(after, midnight)


def _is_date_only(model: type[Model], lookup: str) -> bool:
    parts = lookup.split("__")
    for part in parts[:-1]:
        model = model._meta.get_field(part).related_model  # type: ignore[assignment]
    found = model._meta.get_field(parts[-1])
    return isinstance(found, DateField) and not isinstance(found, DateTimeField)


def date_filter(model: type[Model], lookup: str, value: str) -> Q:
    prefix, start, end = date_range(value)
    low: dt.date | dt.datetime = start
    high: dt.date | dt.datetime = end
    if _is_date_only(model, lookup):
        low = start.astimezone(dt.UTC).date()
        end_utc = end.astimezone(dt.UTC)
        high = end_utc.date() if end_utc.time() == dt.time() else end_utc.date() + dt.timedelta(1)
    within = Q(**{f"{lookup}__gte": low, f"{lookup}__lt": high})
    return {
        "eq": within,
        "ne": ~within,
        "lt": Q(**{f"{lookup}__lt": low}),
        "le": Q(**{f"{lookup}__lt": high}),
        "gt": Q(**{f"{lookup}__gte": high}),
        "ge": Q(**{f"{lookup}__gte": low}),
    }[prefix]


# -- tokens on built JSON ------------------------------------------------------------------------


def _codings(value: Any) -> Iterable[Json]:
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            yield from item.get("coding", []) if "coding" in item else [item]


def json_predicate(name: str, raw: str) -> Predicate:
    tokens = values(raw)
    if name == "status":
        return lambda r: r.get("status") in {t.rpartition("|")[2] for t in tokens}
    elements = CODE_ELEMENTS if name == "code" else ("category",)

    def matches(resource: Json) -> bool:
        codings = [c for e in elements for c in _codings(resource.get(e))]
        return any(tokens_.matches(t, codings) for t in tokens)

    return matches


# -- the plan ------------------------------------------------------------------------------------


@dataclass
class Plan:
    """One search: for each source read, its narrowed rows in a stable order; the predicates
    built JSON must pass; the page asked for."""

    type: str
    parts: list[tuple[Source, QuerySet[Any]]]
    predicates: list[Predicate] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    include_patients: bool = False
    one_patient: int | None = None  # the patient pk when `patient`/`subject` names just one


def stable(rows: QuerySet[Any]) -> QuerySet[Any]:
    order = list(rows.query.order_by) or list(rows.model._meta.ordering)
    if not {"pk", "-pk", "id", "-id"} & {o for o in order if isinstance(o, str)}:
        order.append("pk")
    return rows.order_by(*order)


def _int(name: str, raw: str, low: int) -> int:
    try:
        number = int(raw)
    except ValueError as e:
        raise BadSearch(f"{name}: {raw[:40]!r} is not a whole number.") from e
    if number < low:
        raise BadSearch(f"{name} must be at least {low}.")
    return number


def plan(
    type_name: str, query: list[tuple[str, str]], site_ids: frozenset[int], sources: list[Source]
) -> Plan:
    """The search `query` (the request's (name, value) pairs) of `type_name` over `sources`
    (those of the type the caller may read) at the caller's sites, or BadSearch naming what it
    cannot answer."""
    known = params_of(type_name)
    narrowing: dict[str, Q | None] = {s.prefix: Q() for s in sources}  # None: source excluded
    result = Plan(type_name, [])
    patient_pks: set[int] | None = None
    for name, raw in query:
        if "\x00" in raw or "\x00" in name:
            raise BadSearch("A search value cannot contain a NUL character.")
        if name in RESULT_PARAMS:
            _result_param(result, name, raw, type_name)
            continue
        if name not in known:
            accepted = ", ".join([*known, *sorted(RESULT_PARAMS)])
            raise BadSearch(f"Unknown search parameter {name[:60]!r} for {type_name} ({accepted}).")
        if name in {"patient", "subject"}:
            pks = {pk for v in values(raw) if (pk := patient_pk(v)) is not None}
            patient_pks = pks if patient_pks is None else patient_pks & pks
        for source in sources:
            narrowing[source.prefix] = _narrow(source, name, raw, narrowing[source.prefix])
        if name in JSON_PARAMS and not all(name in s.narrow for s in sources):
            result.predicates.append(_unless_narrowed(json_predicate(name, raw), name, sources))
        if name == "_id":
            result.predicates.append(_id_in(set(values(raw))))
    for source in sources:
        q = narrowing[source.prefix]
        if q is not None:
            result.parts.append((source, stable(source.rows(site_ids).filter(q))))
    if patient_pks is not None and len(patient_pks) == 1:
        result.one_patient = next(iter(patient_pks))
    return result


def _id_in(ids: set[str]) -> Predicate:
    def matches(resource: Json) -> bool:
        return resource.get("id") in ids

    return matches


def _unless_narrowed(predicate: Predicate, name: str, sources: list[Source]) -> Predicate:
    """`predicate`, or true for a resource whose source answered `name` in the database."""

    def matches(resource: Json) -> bool:
        return predicate(resource) or _narrowed_by_source(resource, name, sources)

    return matches


def _narrowed_by_source(resource: Json, name: str, sources: list[Source]) -> bool:
    """A JSON parameter a resource's own source answered in the database already holds."""
    prefix = str(resource.get("id", "")).partition("-")[0]
    return any(s.prefix == prefix and name in s.narrow for s in sources)


def _narrow(source: Source, name: str, raw: str, q: Q | None) -> Q | None:
    """`q` with the database part of `name=raw` for `source`; None when the source cannot have
    a match (it has no such lookup, or another source's own parameter)."""
    if q is None:
        return None
    if name in source.narrow:
        found = Q()
        try:
            for value in values(raw) or [""]:
                found |= source.narrow[name](value)
        except ValueError as e:
            raise BadSearch(f"{name}: {raw[:60]!r} cannot be read ({e}).") from e
        return q & found
    if name in JSON_PARAMS:
        return q  # matched on the built JSON
    found_q = _common(source, name, raw)
    return None if found_q is None else q & found_q


def _common(source: Source, name: str, raw: str) -> Q | None:
    """The filter of a common parameter (`patient`, `subject`, `date`, `_id`) on `source`'s
    rows; None when the source has no such lookup."""
    lookup = {"patient": source.patient, "subject": source.patient, "date": source.date}.get(
        name, "pk" if name == "_id" else None
    )
    if lookup is None:
        return None
    if name == "date":
        model = source.rows(frozenset()).model
        either = Q()
        for value in values(raw) or [raw]:
            either |= date_filter(model, lookup, value)
        return either
    if name == "_id":
        hits = [source_for_id(source.type, value) for value in values(raw)]
        return Q(pk__in=[hit[1] for hit in hits if hit is not None and hit[0] is source])
    pks = [pk for v in values(raw) if (pk := patient_pk(v)) is not None]
    return Q(**{f"{lookup}__in": pks})


def _result_param(result: Plan, name: str, raw: str, type_name: str) -> None:
    if name == "_count":
        result.count = min(_int("_count", raw, 0), MAX_COUNT)
    elif name == "_offset":
        result.offset = _int("_offset", raw, 0)
    elif name == "_include":
        if raw not in {f"{type_name}:patient", f"{type_name}:subject"} or type_name == "Patient":
            raise BadSearch(
                f"_include={raw[:60]!r} is not supported: only {type_name}:patient and "
                f"{type_name}:subject, for a type with a patient."
            )
        if not any(s.patient for s in catalog.sources_of(type_name)):
            raise BadSearch(f"{type_name} has no patient to include.")
        result.include_patients = True


# -- running it ----------------------------------------------------------------------------------


def run(found: Plan) -> tuple[int, list[Json]]:
    """The total and the page's resources (see the module's cost model)."""
    wanted = found.type
    if found.predicates:
        matched = [
            resource
            for source, rows in found.parts
            for row in rows.iterator(chunk_size=500)
            for resource in source.build(row)
            if resource.get("resourceType") == wanted and all(p(resource) for p in found.predicates)
        ]
        return len(matched), matched[found.offset : found.offset + found.count]
    counts = [rows.count() for _, rows in found.parts]
    page: list[Json] = []
    skip, need = found.offset, found.count
    for (source, rows), n in zip(found.parts, counts, strict=True):
        if need <= 0:
            break
        if skip >= n:
            skip -= n
            continue
        take = min(n - skip, need)
        for row in rows[skip : skip + take]:
            page.extend(r for r in source.build(row) if r.get("resourceType") == wanted)
        need -= take
        skip = 0
    return sum(counts), page


def referenced_patients(resources: Iterable[Json]) -> set[int]:
    """The Patient pks the resources' `subject` or `patient` reference."""
    pks = set()
    for resource in resources:
        for element in ("subject", "patient"):
            reference = resource.get(element)
            if isinstance(reference, dict) and str(reference.get("reference", "")).startswith(
                "Patient/"
            ):
                pk = patient_pk(reference["reference"])
                if pk is not None:
                    pks.add(pk)
    return pks
