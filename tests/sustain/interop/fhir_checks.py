"""Checks every FHIR test applies to what Sustain exports, with tools we did not write:
the official R4 JSON schema, pinned (FHIR-01; tools/fhir/README.md), and the reviewed code
list (FHIR-07: every Coding and UCUM unit is in sustain/interop/fhir/codes.toml)."""

import hashlib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from sustain.interop.fhir import codes

SCHEMA = Path(__file__).parents[3] / "tools" / "fhir" / "fhir.schema.json"
SCHEMA_SHA256 = "15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d"


@cache
def _validator() -> jsonschema.Draft6Validator:
    raw = SCHEMA.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, "tools/fhir/fhir.schema.json changed"
    return jsonschema.Draft6Validator(json.loads(raw))


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """What the official R4 JSON schema finds wrong with `resource`, checked against its own
    type's definition (readable messages, §5.4); [] when it validates."""
    validator = _validator()
    kind = resource.get("resourceType")
    if kind not in validator.schema["definitions"]:
        return [f"{kind!r} is not an R4 resource type"]
    sub = validator.evolve(schema={**validator.schema, "$ref": f"#/definitions/{kind}"})
    return [
        f"{kind}/{resource.get('id')} at {'/'.join(map(str, e.absolute_path)) or '(root)'}: "
        f"{e.message[:300]}"
        for e in sub.iter_errors(resource)
    ]


def _codings(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        if isinstance(value.get("system"), str) and isinstance(value.get("code"), str):
            yield value["system"], value["code"]
        for inner in value.values():
            yield from _codings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _codings(inner)


def unlisted_codes(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (system, code) in `resource` (Codings and Quantities) not in the reviewed list,
    apart from an imported resource's passed-through `code` (codes.assigned_part)."""
    return [pair for pair in _codings(codes.assigned_part(resource)) if not codes.listed(*pair)]
