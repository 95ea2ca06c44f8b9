"""Plain words for a protocol's keys (sustain.care.labels, issue 13, item 7)."""

import datetime as dt

import pytest

from sustain.care import labels
from sustain_core import measurement, protocols

pytestmark = pytest.mark.core

STANDARD = protocols.PROTOCOLS[("depression-induction", 1)]
CRPS = protocols.PROTOCOLS[("crps-schwartzman-2009", 1)]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("chronic_pain", "Chronic pain"),
        (protocols.Condition.CRPS, "Complex regional pain syndrome (CRPS)"),
        ("per_hour", "A rate per hour (mg/kg/h, with a cap)"),
        ("mood_stabiliser", "Mood stabiliser"),
        ("not a key", "not a key"),
        (3, "3"),
    ],
)
def test_label(value, words):
    assert labels.label(value) == words


def test_every_coded_value_of_a_protocol_has_a_label():
    kinds = (
        protocols.Condition, protocols.RegimenKind, protocols.TitrationTrigger,
        protocols.TitrationAction, protocols.ExtensionFor, protocols.ChairCapability,
        measurement.Anchor,
    )  # fmt: skip
    assert [m for kind in kinds for m in kind if labels.label(m) == m.value] == []


def test_protocol_name_says_the_title_and_version():
    assert labels.protocol_name(CRPS) == (
        "CRPS (Schwartzman 2009): 0.35 mg/kg/h, at most 25 mg/h, 4 h a day on 10 weekdays "
        "(version 1)"
    )
    own = protocols.protocol_from_dict(
        {**protocols.protocol_to_dict(CRPS), "key": "crps-site1", "version": 2}
    )
    assert labels.protocol_name(own).endswith("(clinic version 2)")


def test_measurement_rules_in_words():
    assert [labels.measure_when(rule) for rule in STANDARD.measurement_plan] == [
        "In the 7 days before the first infusion",
        "In the 24 h before each infusion, from infusion 2",
        "24 h after the last induction infusion, ± 24 h",
        "2 weeks after the last induction infusion, ± 3 days",
        "4 weeks after the last induction infusion, ± 3 days",
        "8 weeks after the last induction infusion, ± 3 days",
        "Every week during maintenance, ± 2 days",
    ]
    rule = measurement.MeasurementRule(
        key="odd", anchor=measurement.Anchor.AFTER_LAST_INDUCTION, instruments=("phq9",),
        offset=dt.timedelta(hours=36), window_before=dt.timedelta(hours=12),
        window_after=dt.timedelta(hours=30),
    )  # fmt: skip
    assert labels.measure_when(rule) == (
        "36 h after the last induction infusion, from 12 h before to 30 h after"
    )


@pytest.mark.parametrize(
    ("key", "occasion", "words"),
    [
        ("baseline", 1, "Baseline, before the first infusion"),
        ("pre_infusion", 3, "Before infusion 3"),
        ("post_induction_2w", 1, "2 weeks after the last induction infusion"),
        ("maintenance_weekly", 2, "Maintenance, week 2"),
        ("gone_rule", 1, "gone rule 1"),
    ],
)
def test_a_due_occasion_in_words(key, occasion, words):
    assert labels.due_when(STANDARD, key, occasion) == words


def test_footnotes_number_the_sources_as_the_protocols_list():
    notes = labels.footnotes(STANDARD, STANDARD.contraindications_relative)
    numbers = {c.key: n for n, c in enumerate(STANDARD.citations, start=1)}

    assert notes.items[0].text == "History of psychosis"
    assert [(s.number, s.key) for s in notes.items[0].sources] == [
        (numbers["Sanacora2017-S2"], "Sanacora2017-S2")
    ]
    assert [s.key for s in notes.sources] == sorted(
        {"Sanacora2017-S2", "Ketalar-label", "Cohen2018-GC"}, key=numbers.__getitem__
    )
    assert [(i.text, i.note) for i in notes.notes] == [
        (
            "History of psychosis",
            "unconfirmed as the wording of Sanacora2017-S2, clinical-facts §2a",
        ),
        ("Raised intracranial or intraocular pressure", "grade C"),
        ("Moderate hepatic disease: caution", "grade C"),
    ]
    unknown = labels.sourced(STANDARD, "Something [NotListed]")
    assert unknown.sources == (labels.Source(None, "NotListed", ""),)
