"""The one reviewed list of codes (FHIR-07): sustain/interop/fhir/codes.toml records each
code's system, display, where it was checked and what that found. Resources take their Codings
from here by name, never as literals, and tests look every exported Coding up in it."""

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

LOCAL_PREFIX = "urn:sustain:"  # Sustain's own code systems (local codes, not listed)


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
    """Whether (system, code) is in the reviewed list, a listed UCUM unit, or a local code of
    Sustain's own."""
    if system_uri.startswith(LOCAL_PREFIX):
        return True
    if system_uri == system("ucum"):
        return value in _read()[2]
    return any(c.system == system_uri and c.code == value for c in _read()[1].values())


def named(system_name: str, value: str) -> str | None:
    """The name in codes.toml of the listed code `value` in the system `system_name`
    ("rxnorm", …), or None when the list does not hold it (then no Coding may be built)."""
    uri = system(system_name)
    for name, c in _read()[1].items():
        if c.system == uri and c.code == value:
            return name
    return None
