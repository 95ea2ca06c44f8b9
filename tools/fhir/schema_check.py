"""Checks FHIR resources against the official R4 JSON schema, pinned (FHIR-01; README.md here;
../shared/reference/security-reliability-interop.md §5.4).

    python tools/fhir/schema_check.py DIR

Reads every *.ndjson file (one resource per line) and every *.json file holding a Bundle (the
Bundle without its entries, then each entry's resource) in DIR, checks each resource against its
own type's definition in fhir.schema.json, and prints "<file>:<line> <Type>/<id>: <issue>" for
each error and a summary (resources per type, errors), the report tools/fhir-validate/validate.mjs
prints. Exit 0: no error; 1: any error; 2: bad usage, an empty directory or a changed schema.

The schema checks structure, JSON types, enumerations (status "done") and unknown properties; it
does not enforce most required elements (Observation.status), which the StructureDefinition
check (tools/fhir-validate) does. Only `jsonschema` is needed (no Django): the tests import
`schema_errors` from here (tests/sustain/interop/fhir_checks.py).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA = Path(__file__).with_name("fhir.schema.json")
SCHEMA_SHA256 = "15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d"


class SchemaChanged(Exception):
    """fhir.schema.json is not the pinned file."""


@cache
def _validator() -> jsonschema.Draft6Validator:
    raw = SCHEMA.read_bytes()
    if hashlib.sha256(raw).hexdigest() != SCHEMA_SHA256:
        raise SchemaChanged(f"{SCHEMA} is not the pinned schema (sha256 {SCHEMA_SHA256})")
    return jsonschema.Draft6Validator(json.loads(raw))


def issues(resource: dict[str, Any]) -> list[str]:
    """What the schema finds wrong with `resource`, each "<path>: <message>" (readable: checked
    against its own type's definition, not the schema's oneOf of every type, §5.4)."""
    validator = _validator()
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or kind not in validator.schema["definitions"]:
        return [f"(root): {kind!r} is not an R4 resource type"]
    sub = validator.evolve(schema={**validator.schema, "$ref": f"#/definitions/{kind}"})
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"
        for e in sub.iter_errors(resource)
    ]


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """`issues`, each prefixed with the resource's "<Type>/<id> at "; [] when it validates."""
    label = f"{resource.get('resourceType')}/{resource.get('id')}"
    return [f"{label} at {issue}" for issue in issues(resource)]


def _entry_lines(text: str) -> list[int]:
    """The 1-based line of each element of a Bundle's top-level "entry" array in `text`."""
    lines: list[int] = []
    stack: list[tuple[bool, str | None]] = []  # per open container: (is an array, its key)
    line, i = 1, 0
    key = last = None
    while i < len(text):
        c = text[i]
        if c == "\n":
            line += 1
        elif c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            last, i = text[i + 1 : j], j
        elif c == ":":
            key = last
        elif c in "{[":
            if len(stack) == 2 and stack[-1] == (True, "entry"):
                lines.append(line)
            parent_is_object = bool(stack) and not stack[-1][0]
            stack.append((c == "[", key if parent_is_object else None))
        elif c in "}]":
            stack.pop()
        i += 1
    return lines


def resources_of(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line, resource, problem) for each resource in one file; problem: why none was read."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ndjson":
        for n, row in enumerate(text.split("\n"), start=1):
            if not row.strip():
                continue
            try:
                resource = json.loads(row)
            except json.JSONDecodeError as error:
                yield n, None, f"not JSON: {error}"
                continue
            if isinstance(resource, dict):
                yield n, resource, None
            else:
                yield n, None, "not a JSON object"
        return
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as error:
        yield 1, None, f"not JSON: {error}"
        return
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        kind = bundle.get("resourceType") if isinstance(bundle, dict) else None
        yield 1, None, f"a .json file must hold a Bundle, not {json.dumps(kind)}"
        return
    entries = bundle.pop("entry", [])
    yield 1, bundle, None
    lines = _entry_lines(text)
    for n, entry in enumerate(entries if isinstance(entries, list) else []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        line = lines[n] if n < len(lines) else 1
        if isinstance(resource, dict):
            yield line, resource, None
        else:
            yield line, None, "entry without a resource"


class Usage(Exception):
    """Bad usage or input the check cannot read (exit 2, a plain message)."""


def _files(argv: list[str]) -> tuple[Path, list[Path]]:
    if len(argv) != 1 or argv[0].startswith("-"):
        raise Usage("give exactly one directory")
    folder = Path(argv[0])
    if not folder.is_dir():
        raise Usage(f"{folder} is not a directory")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".ndjson", ".json") and p.is_file())
    if not files:
        raise Usage(f"{folder} holds no *.ndjson or *.json file")
    try:
        _validator()
    except SchemaChanged as error:
        raise Usage(str(error)) from None
    return folder, files


def check(argv: list[str]) -> int:
    """Prints the report; the number of errors."""
    folder, files = _files(argv)
    per_type: Counter[str] = Counter()
    errors = 0
    for path in files:
        try:
            found = list(resources_of(path))
        except (OSError, UnicodeDecodeError) as error:
            raise Usage(f"cannot read {path}: {error}") from None
        for line, resource, problem in found:
            if resource is None:
                label, messages = "(unreadable)", [str(problem)]
            else:
                kind = resource.get("resourceType")
                label = f"{kind}/{resource.get('id')}"
                per_type[str(kind)] += 1
                messages = issues(resource)
            for message in messages:
                print(f"{path.name}:{line} {label}: {message}")
            errors += len(messages)
    total = sum(per_type.values())
    if total == 0 and errors == 0:
        raise Usage(f"{folder} holds no resource")
    print(f"FHIR R4 JSON schema ({SCHEMA.name}, sha256 {SCHEMA_SHA256[:12]}…), jsonschema:")
    for kind, count in sorted(per_type.items()):
        print(f"  {kind}: {count}")
    print(f"{total} resources in {len(files)} files, {errors} errors")
    return errors


def main(argv: list[str]) -> int:
    try:
        return 1 if check(argv) else 0
    except Usage as error:
        print(f"schema_check.py: {error}", file=sys.stderr)
        print("usage: schema_check.py DIR   (DIR holds *.ndjson files and/or *.json Bundles)",
              file=sys.stderr)  # fmt: skip
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
