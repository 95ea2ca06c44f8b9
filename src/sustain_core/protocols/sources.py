"""The sources written inside a protocol's text items, taken out so the item reads plainly.

A contraindication item carries its source in the text, e.g. "Severe hepatic disease: avoid
(grade C) [Cohen2018-GC]" or "History of psychosis (unconfirmed as the wording of
[Sanacora2017-S2], clinical-facts §2a)". A page shows the plain item ("Severe hepatic
disease: avoid") with a footnote to the source, and the note on it ("grade C") with the
source at the foot (issue 13, item 7). The item's full text stays the data: a screen's
answers are keyed by it, so nothing here changes what is stored.
"""

import re
from dataclasses import dataclass

_KEY = re.compile(r"\[([^\[\]]+)\]")
_TRAILING_KEYS = re.compile(r"(?:\s*\[[^\[\]]+\])+\s*$")
_TRAILING_NOTE = re.compile(r"\s*\(([^()]*)\)\s*$")


@dataclass(frozen=True)
class Sourced:
    """An item split into its plain ``text``, the citation ``keys`` it names (in order, each
    once) and the ``note`` said about the source ("grade C"; "" when none)."""

    text: str
    keys: tuple[str, ...]
    note: str


def split_sources(text: str) -> Sourced:
    """Split a protocol item into its plain text, its citation keys and the note on them.

    The keys are every "[Key]" in the text. When there is one, a parenthesis ending the item
    is the note on the source ("(grade B, low certainty)"; a key inside it is kept as its bare
    name), and every "[Key]" leaves the text. An item without a key is returned unchanged, a
    parenthesis and all ("Aneurysm (aortic)" stays as written).
    """
    keys = tuple(dict.fromkeys(_KEY.findall(text)))
    if not keys:
        return Sourced(text=text, keys=(), note="")
    rest = _TRAILING_KEYS.sub("", text)
    note = ""
    trailing = _TRAILING_NOTE.search(rest)
    if trailing:
        note = _KEY.sub(r"\1", trailing.group(1)).strip()
        rest = rest[: trailing.start()]
    plain = re.sub(r"\s+", " ", _KEY.sub("", rest)).strip()
    return Sourced(text=plain or text, keys=keys, note=note)
