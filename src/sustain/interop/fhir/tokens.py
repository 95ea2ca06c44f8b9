"""FHIR token search values ("[system]|[code]", "code" or "|code"; FHIR R4 search §3.1.1.4.10)
matched against the Codings a source builds, so `code=` narrows in the database by the row
field that decides the code."""

from collections.abc import Iterable, Mapping


def parse(value: str) -> tuple[str | None, str]:
    """(system, code) of a token; system None: any system ("code"), "" : no system ("|code").
    Raises ValueError for an empty code (the API answers 400)."""
    if "|" in value:
        system, _, code = value.partition("|")
    else:
        system, code = None, value
    if not code:
        raise ValueError(f"{value!r} names no code")
    return system, code


def matches(value: str, codings: Iterable[Mapping[str, str]]) -> bool:
    system, code = parse(value)
    return any(
        c.get("code") == code and (system is None or c.get("system", "") == system) for c in codings
    )


def keys_matching(value: str, by_key: Mapping[str, Iterable[Mapping[str, str]]]) -> list[str]:
    """The keys whose Codings the token `value` matches (each token: one of several values
    separated by commas, any of which may match)."""
    found: list[str] = []
    for one in value.split(","):
        found.extend(key for key, codings in by_key.items() if matches(one, codings))
    return sorted(set(found))
