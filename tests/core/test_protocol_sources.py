"""An item's plain words apart from the sources written in it (issue 13, item 7)."""

import pytest

from sustain_core import protocols
from sustain_core.protocols import Sourced, split_sources

pytestmark = pytest.mark.core


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Severe hepatic disease: avoid (grade C) [Cohen2018-GC]",
            Sourced("Severe hepatic disease: avoid", ("Cohen2018-GC",), "grade C"),
        ),
        (
            "History of psychosis (unconfirmed as the wording of [Sanacora2017-S2], "
            "clinical-facts §2a)",
            Sourced(
                "History of psychosis",
                ("Sanacora2017-S2",),
                "unconfirmed as the wording of Sanacora2017-S2, clinical-facts §2a",
            ),
        ),
        (
            "Aneurysm (aortic or intracranial): a rise in blood pressure would be a serious "
            "hazard [Ketalar-label]",
            Sourced(
                "Aneurysm (aortic or intracranial): a rise in blood pressure would be a serious "
                "hazard",
                ("Ketalar-label",),
                "",
            ),
        ),
        (
            "Pregnancy [A] [B] [A]",
            Sourced("Pregnancy", ("A", "B"), ""),
        ),
        ("Aneurysm (aortic)", Sourced("Aneurysm (aortic)", (), "")),
        ("[A]", Sourced("[A]", ("A",), "")),
    ],
)
def test_split_sources(text, expected):
    assert split_sources(text) == expected


def test_no_library_item_keeps_a_source_in_its_words():
    items = {
        item
        for protocol in protocols.PROTOCOLS.values()
        for item in protocol.contraindications_absolute + protocol.contraindications_relative
    }

    plain = [split_sources(item) for item in items]

    assert [
        s.text for s in plain if "[" in s.text or "grade" in s.text or "unconfirmed" in s.text
    ] == []
    assert all(s.keys for s in plain)
