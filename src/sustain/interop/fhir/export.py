"""The NDJSON writer of a bulk export (issue 16, item 4): one file per resource type, one
resource a line, for the sources a caller may read at given sites.

FHIR Bulk Data Access IG v2, "Bulk Data Output File Format": newline-delimited JSON, each file
holding resources of a single type, content type application/fhir+ndjson; `_type` narrows the
types and `_since` keeps resources changed after that instant. Sustain keeps no last-updated
time of its own, so `_since` compares each source's date lookup (the visit's start, the score's
date...) and keeps every row of a source without one (more than asked, never less, as the IG
allows: "resources that have been changed after the supplied time").

The rows are streamed (`QuerySet.iterator`) and written line by line, so a site of any size
is exported in bounded memory. Files are written mode 0600 into a directory of mode 0700, each
through a temporary file renamed over its name (a reader never sees half a file).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sustain.interop.fhir import catalog
from sustain.interop.fhir.registry import Caller, Json, Source, resources

NDJSON = "application/fhir+ndjson"
# _outputFormat values the IG names for NDJSON (v2: "application/fhir+ndjson", with
# "application/ndjson" and "ndjson" as abbreviations a server SHALL accept).
OUTPUT_FORMATS = frozenset({NDJSON, "application/ndjson", "ndjson"})
ERRORS_FILE = "OperationOutcome.ndjson"


class BadRequest(ValueError):
    """A `_type`, `_since` or `_outputFormat` the export cannot take (a 400, or exit 2)."""


@dataclass(frozen=True)
class Written:
    """One file of the export: its resource type, its file name and how many lines."""

    type: str
    file: str
    count: int


@dataclass(frozen=True)
class Plan:
    """What an export will write: the readable sources (in catalog order) of the types asked
    for, and the types asked for (or, without `_type`, every type) the caller may not read."""

    sources: tuple[Source, ...]
    refused: tuple[str, ...]

    @property
    def types(self) -> list[str]:
        return sorted({s.type for s in self.sources})


def parse_types(text: str | None) -> list[str] | None:
    """`_type` ("Patient,Observation", repeatable as several values joined by commas) as
    type names, or None when absent; an unknown or empty name is a BadRequest."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    known = set(catalog.types())
    unknown = [name for name in names if name not in known]
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:5])
        raise BadRequest(f"_type names no type this server exports: {shown}")
    return list(dict.fromkeys(names))


def parse_since(text: str | None) -> dt.datetime | None:
    """`_since`, a FHIR instant with its time zone ("2026-11-30T13:00:00Z"), or None."""
    if text is None:
        return None
    try:
        since = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(
            f"_since must be an instant such as 2026-11-30T13:00:00Z; got {text[:40]!r}"
        ) from None
    if since.tzinfo is None:
        raise BadRequest("_since must give its time zone (Z or +hh:mm), as a FHIR instant does")
    return since


def parse_output_format(text: str | None) -> None:
    if text is not None and text.strip() not in OUTPUT_FORMATS:
        raise BadRequest("_outputFormat must be application/fhir+ndjson (the only format served)")


def plan(caller: Caller, types: Iterable[str] | None) -> Plan:
    """The sources `caller` may read of `types` (every type when None). A type with no
    source the caller may read is refused; an Observation split across sources (scores and
    vital signs) keeps only the readable ones."""
    wanted = set(catalog.types() if types is None else types)
    readable = tuple(s for s in catalog.SOURCES if s.type in wanted and caller.may_read(s))
    kept = {s.type for s in readable}
    return Plan(sources=readable, refused=tuple(sorted(wanted - kept)))


def plan_all(types: Iterable[str] | None) -> Plan:
    """Every source of `types` (all when None), without a caller: the operator's export
    (`sustain fhir-export`), which runs with the machine's own rights."""
    wanted = set(catalog.types() if types is None else types)
    return Plan(sources=tuple(s for s in catalog.SOURCES if s.type in wanted), refused=())


def rows_since(
    source: Source, site_ids: frozenset[int], since: dt.datetime | None
) -> Iterator[Json]:
    """The source's resources at these sites, streamed; those dated before `since` left out
    (a date-only lookup compares with `since`'s date)."""
    rows = source.rows(site_ids)
    if since is not None and source.date is not None:
        field = rows.model._meta.get_field(source.date.split("__")[0])
        value = since if field.get_internal_type() == "DateTimeField" else since.date()
        rows = rows.filter(**{f"{source.date}__gte": value})
    return resources(source, rows.iterator(chunk_size=500))


def _write_lines(path: Path, lines: Iterable[Json]) -> int:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".export-", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            for line in lines:
                file.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
                file.write("\n")
                count += 1
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def refused_outcome(type_name: str) -> Json:
    """The OperationOutcome line naming a type left out (IG: the manifest's `error` files)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "forbidden",
                "diagnostics": f"{type_name} was left out: the requester may not read it",
            }
        ],
    }


def write(
    export: Plan,
    site_ids: frozenset[int],
    out: Path,
    *,
    since: dt.datetime | None = None,
    on_type: Callable[[int, int], None] | None = None,
) -> tuple[list[Written], Written | None]:
    """Write one NDJSON file per type of `export` into `out` (made 0700), and the refused
    types as OperationOutcome lines in ERRORS_FILE. Returns the files (types in order; a type
    with no resources still gets its empty file, count 0) and the errors file (None when no
    type was refused). `on_type(done, total)` is called after each type."""
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    types = export.types
    written = []
    for done, type_name in enumerate(types, start=1):
        sources = [s for s in export.sources if s.type == type_name]
        lines = (line for s in sources for line in rows_since(s, site_ids, since))
        file = f"{type_name}.ndjson"
        written.append(Written(type_name, file, _write_lines(out / file, lines)))
        if on_type is not None:
            on_type(done, len(types))
    errors = None
    if export.refused:
        count = _write_lines(out / ERRORS_FILE, map(refused_outcome, export.refused))
        errors = Written("OperationOutcome", ERRORS_FILE, count)
    return written, errors
