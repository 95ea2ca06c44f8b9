"""The drug table and the interactions by class (sustain_core.medications)."""

import re

import pytest

from sustain_core import medications
from sustain_core.errors import ClinicalValueError
from sustain_core.medications import (
    CLASS_TITLES,
    DRUGS,
    INTERACTIONS,
    DrugClass,
    drugs_in,
    has_class,
    interactions_of,
    lookup,
    validate_name,
)

pytestmark = pytest.mark.core

# Every RxNorm ingredient code in the table, each as read in its source (module docstring).
VERIFIED_CODES = {
    "diazepam": "3322",
    "oxycodone": "7804",
    "morphine": "7052",
    "hydrocodone": "5489",
    "tramadol": "10689",
    "methadone": "6813",
    "buprenorphine": "1819",
    "fentanyl": "4337",
    "lamotrigine": "28439",
    "methylphenidate": "6901",
    "modafinil": "30125",
    "valproic acid": "11118",
    "carbamazepine": "2002",
}
B, OP, C, L = (
    DrugClass.BENZODIAZEPINE, DrugClass.OPIOID, DrugClass.CNS_DEPRESSANT, DrugClass.LAMOTRIGINE
)  # fmt: skip
M, S, T, MOOD = DrugClass.MAOI, DrugClass.SYMPATHOMIMETIC, DrugClass.THEOPHYLLINE, (
    DrugClass.MOOD_STABILISER
)  # fmt: skip
CLASSES = {
    "lorazepam": {B}, "alprazolam": {B}, "clonazepam": {B}, "diazepam": {B},
    "oxycodone": {OP}, "morphine": {OP}, "hydrocodone": {OP}, "tramadol": {OP}, "methadone": {OP},
    "buprenorphine": {OP}, "fentanyl": {OP},
    "gabapentin": {C}, "pregabalin": {C}, "zolpidem": {C},
    "lamotrigine": {L, MOOD},
    "phenelzine": {M}, "tranylcypromine": {M}, "isocarboxazid": {M}, "selegiline": {M},
    "amphetamine": {S}, "dextroamphetamine": {S}, "lisdexamfetamine": {S},
    "methylphenidate": {S}, "modafinil": {S}, "pseudoephedrine": {S},
    "theophylline": {T}, "aminophylline": {T},
    "lithium": {MOOD}, "valproic acid": {MOOD}, "divalproex sodium": {MOOD},
    "carbamazepine": {MOOD},
}  # fmt: skip


def test_the_table_holds_the_issues_drugs_in_their_classes():
    assert {drug.name: set(drug.classes) for drug in DRUGS} == CLASSES


def test_only_verified_codes_are_in_the_table_each_with_its_source():
    assert {drug.name: drug.rxcui for drug in DRUGS if drug.rxcui} == VERIFIED_CODES
    assert [d.name for d in DRUGS if bool(d.rxcui) != bool(d.code_source)] == []
    cited = {key for d in DRUGS for key in re.findall(r"\[([^\]]+)\]", d.code_source)}
    assert cited == {"CDC-MME", "CPIC-drugs"}
    assert cited <= set(medications.REFERENCES)


def test_every_interacting_class_has_a_cited_effect_and_an_action():
    assert list(INTERACTIONS) == [cls for cls in DrugClass if cls != DrugClass.MOOD_STABILISER]
    for interaction in INTERACTIONS.values():
        keys = re.findall(r"\[([^\]]+)\]", interaction.effect)
        assert keys, interaction.drug_class
        assert interaction.action and interaction.membership
    assert "[Ketalar-label]" in INTERACTIONS[DrugClass.BENZODIAZEPINE].effect
    assert "seizure threshold" in INTERACTIONS[DrugClass.THEOPHYLLINE].effect
    assert "monitoring of vital signs" in INTERACTIONS[DrugClass.SYMPATHOMIMETIC].effect


def test_the_effects_cite_only_sources_we_hold():
    held = set(medications.REFERENCES) | {"Ketalar-label", "Diazgranados2010"}
    text = " ".join(f"{i.effect} {i.membership}" for i in INTERACTIONS.values())
    assert set(re.findall(r"\[([^\]]+)\]", text)) <= held


def test_every_class_has_a_title():
    assert set(CLASS_TITLES) == set(DrugClass)


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("lorazepam", "lorazepam"),
        ("  Lorazepam ", "lorazepam"),
        ("VALPROATE", "valproic acid"),
        ("valproic   acid", "valproic acid"),
        ("Divalproex", "divalproex sodium"),
        ("amfetamine", "amphetamine"),
    ],
)
def test_lookup_finds_the_table_drug_a_name_names(typed, name):
    drug = lookup(typed)
    assert drug is not None and drug.name == name


@pytest.mark.parametrize("typed", ["Ativan", "lorazepam 1 mg", "", "hydromorphone"])
def test_lookup_refuses_anything_but_an_exact_name(typed):
    assert lookup(typed) is None


@pytest.mark.parametrize(
    ("rxcui", "name", "found"),
    [
        ("7804", "whatever was typed", ["oxycodone"]),  # the code decides
        ("999999", "Lorazepam ER 1 mg", ["lorazepam"]),  # an unknown code: by name
        (None, "Lorazepam 1 mg at night", ["lorazepam"]),
        ("", "dextroamphetamine / amphetamine 20 mg", ["amphetamine", "dextroamphetamine"]),
        (None, "buprenorphine-naloxone film", ["buprenorphine"]),
        (None, "sodium valproate", ["valproic acid"]),
        (None, "hydromorphone", []),  # not morphine: whole words only
        (None, "Ativan", []),  # brand names are not recognised
        (None, "", []),
    ],
)
def test_drugs_in_a_recorded_medication(rxcui, name, found):
    assert [drug.name for drug in drugs_in(rxcui=rxcui, name=name)] == found


def test_interactions_come_once_each_in_class_order():
    drugs = drugs_in(rxcui=None, name="tramadol and lorazepam and oxycodone and lamotrigine")
    assert [i.drug_class for i in interactions_of(drugs)] == [B, OP, L]


def test_a_mood_stabiliser_alone_interacts_with_nothing():
    assert interactions_of(drugs_in(rxcui=None, name="lithium carbonate")) == ()
    assert interactions_of(()) == ()


def test_has_class():
    on_lithium = drugs_in(rxcui=None, name="lithium")
    assert has_class(on_lithium, MOOD)
    assert not has_class(on_lithium, B)
    assert has_class(drugs_in(rxcui="28439", name=""), MOOD)  # lamotrigine, by its code
    assert not has_class((), MOOD)


def test_validate_name_trims_and_joins_spaces():
    assert validate_name("  lorazepam   1 mg ") == "lorazepam 1 mg"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", "name the medication (its ingredient, e.g. lorazepam)"),
        ("x" * 201, "a medication's name is at most 200 characters"),
    ],
)
def test_validate_name_refuses(name, message):
    with pytest.raises(ClinicalValueError) as refused:
        validate_name(name)
    assert (refused.value.field, refused.value.message) == ("name", message)
