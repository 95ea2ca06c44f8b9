"""The one reviewed list of codes (FHIR-07): sustain/interop/fhir/codes.toml records each
code's system, display, where it was checked and what that found. Resources take their Codings
from here by name, never as literals, and tests look every exported Coding up in it.

Codes Sustain assigns are listed; codes it only passes on are not. A condition imported from
another system (sustain fhir-import, care.RecordedCondition) keeps the code that system gave it
(SNOMED CT, ICD-10-CM, …): that is the record's data, not a code Sustain chose, and it is not
reviewed here. Such a resource says so with the tag IMPORTED in meta.tag, and its `code` element
(`PASSED_THROUGH`) is then left out of the check (`assigned_codings`); everything else in it
(statuses, category, units) is Sustain's and is checked."""

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sustain_core import registration
from sustain_core.errors import ClinicalValueError

LOCAL_PREFIX = "urn:sustain:"  # Sustain's own code systems (local codes, not listed)
# meta.tag of a resource whose `code` came from another system's record (module docstring).
IMPORTED = {"system": "urn:sustain:provenance", "code": "imported", "display": "Imported"}
PASSED_THROUGH = "code"


@dataclass(frozen=True)
class Code:
    system: str  # the code system's URI
    code: str
    display: str
    source: str
    checked: str


@cache
def _read() -> tuple[dict[str, str], dict[str, Code], frozenset[str]]:
    data = tomllib.loads((Path(__file__).parent / "codes.toml").read_text())
    systems: dict[str, str] = data["systems"]
    found = {
        name: Code(systems[c["system"]], c["code"], c["display"], c["source"], c["checked"])
        for name, c in data["code"].items()
    }
    return systems, found, frozenset(data["units"]["codes"])


def code(name: str) -> Code:
    return _read()[1][name]


def system(name: str) -> str:
    """A code system's URI by its name in codes.toml ("loinc", "ucum", …)."""
    return _read()[0][name]


def coding(name: str) -> dict[str, str]:
    """The FHIR Coding of the listed code `name`."""
    c = code(name)
    return {"system": c.system, "code": c.code, "display": c.display}


def concept(*names: str, text: str | None = None) -> dict[str, Any]:
    """A CodeableConcept of the listed codes, with `text` when given."""
    found: dict[str, Any] = {"coding": [coding(n) for n in names]}
    if text is not None:
        found["text"] = text
    return found


def quantity(value: Any, unit: str) -> dict[str, Any]:
    """A FHIR Quantity in the UCUM unit `unit` (one of codes.toml's [units])."""
    if unit not in _read()[2]:
        raise KeyError(f"{unit} is not in codes.toml's [units]")
    return {"value": value, "unit": unit, "system": system("ucum"), "code": unit}


def listed(system_uri: str, value: str) -> bool:
    """Whether (system, code) is in the reviewed list, a listed UCUM unit, a local code of
    Sustain's own, or a well-formed NDC (NDCs are data: a ledger product's own code, checked by
    sustain_core.registration.ndc when the product was entered; codes.toml says so)."""
    if system_uri.startswith(LOCAL_PREFIX):
        return True
    if system_uri == system("ndc"):
        return well_formed_ndc(value)
    if system_uri == system("ucum"):
        return value in _read()[2]
    return any(c.system == system_uri and c.code == value for c in _read()[1].values())


def well_formed_ndc(value: str) -> bool:
    """Whether `value` is an NDC in one of its hyphenated forms (4-4-2, 5-3-2, 5-4-1, 5-4-2)."""
    try:
        return registration.ndc(value) == value
    except ClinicalValueError:
        return False


def imported(resource: dict[str, Any]) -> bool:
    """Whether `resource` carries the IMPORTED tag (its `code` is the source's data)."""
    return any(
        t.get("system") == IMPORTED["system"] and t.get("code") == IMPORTED["code"]
        for t in (resource.get("meta") or {}).get("tag") or []
    )


def assigned_part(resource: dict[str, Any]) -> dict[str, Any]:
    """The part of `resource` whose codes Sustain assigned: all of it, except an imported
    resource's passed-through `code` (module docstring). FHIR-07 checks this part."""
    if not imported(resource):
        return resource
    return {k: v for k, v in resource.items() if k != PASSED_THROUGH}


def named(system_name: str, value: str) -> str | None:
    """The name in codes.toml of the listed code `value` in the system `system_name`
    ("rxnorm", …), or None when the list does not hold it (then no Coding may be built)."""
    uri = system(system_name)
    for name, c in _read()[1].items():
        if c.system == uri and c.code == value:
            return name
    return None
