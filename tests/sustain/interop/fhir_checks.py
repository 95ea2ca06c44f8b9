"""Checks every FHIR test applies to what Sustain exports, with tools we did not write:
the official R4 JSON schema, pinned (FHIR-01; tools/fhir/README.md), and the reviewed code
list (FHIR-07: every Coding and UCUM unit is in sustain/interop/fhir/codes.toml)."""

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sustain.interop.fhir import catalog, codes
from sustain.interop.fhir.registry import Caller, site_resources

# The schema check is the CLI tools/fhir/schema_check.py (CI runs it over the demo's export); the
# tests use the same code, loaded from its file (tools/ is not a package).
_TOOL = Path(__file__).parents[3] / "tools" / "fhir" / "schema_check.py"
_spec = importlib.util.spec_from_file_location("sustain_fhir_schema_check", _TOOL)
assert _spec is not None and _spec.loader is not None
schema_check = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = schema_check  # (dataclasses and pickling look modules up here)
_spec.loader.exec_module(schema_check)

schema_errors = schema_check.schema_errors


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


# The care-side resource types (issue 16, item 1; tests/sustain/interop/test_care_resources.py).
CARE_TYPES = (
    "Organization", "Practitioner", "Condition", "PlanDefinition", "CarePlan", "Consent",
    "MedicationStatement", "Questionnaire", "QuestionnaireResponse", "Observation",
)  # fmt: skip


def care_resources(caller: Caller) -> list[dict[str, Any]]:
    """Every care-side resource of the caller's sites."""
    found: list[dict[str, Any]] = []
    for source in catalog.SOURCES:
        if source.type in CARE_TYPES:
            found.extend(site_resources(source, caller.site_ids()))
    return found
