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
    """R4 token search (§3.1.1.5.5): "system|code", "system|" (any code of the system), "|code"
    (a code without a system) or "code" (any system)."""
    system, bar, code = value.rpartition("|") if "|" in value else ("", "", value)
    for coding in codings:
        if bar and system and coding.get("system") != system:
            continue
        if bar and not system and coding.get("system"):
            continue
        if code == "" or coding.get("code") == code:
            return True
    return False


def keys_matching(value: str, by_key: Mapping[str, Iterable[Mapping[str, str]]]) -> list[str]:
    """The keys whose Codings the token `value` matches (each token: one of several values
    separated by commas, any of which may match)."""
    found: list[str] = []
    for one in value.split(","):
        parse(one)  # a token naming no code is refused here (400)
        found.extend(key for key, codings in by_key.items() if matches(one, codings))
    return sorted(set(found))
