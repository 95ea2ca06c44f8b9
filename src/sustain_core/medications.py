"""Medications that matter for a ketamine infusion: a small drug table and interactions by class.

A patient's medication is recorded as a drug of ``DRUGS`` (its RxNorm ingredient code when we
could verify one) or as free text; ``drugs_in`` finds the table's drugs in either, by code first
and then by ingredient name (whole words, so "Lorazepam ER 1 mg" is lorazepam and "dextroamphetamine
/ amphetamine" is both). Brand names are not recognised: the table holds ingredients only.

Each interacting class has one ``Interaction``: its effect with ketamine, in plain words with
its source, and what the clinic does about it. Whatever the class, an interacting medication
on the list is flagged at screening (the contraindication screen and the course card show it
with its effect) and, at the pre-infusion gate, the nurse records when the patient last took
it (``infusion_day.gate_failures``, item ``last_doses``).

Sources (clinical-facts keys where they exist; the others are listed in ``REFERENCES``):

- benzodiazepines, opioids and other CNS depressants (profound sedation, respiratory
  depression), theophylline and aminophylline (seizure threshold), sympathomimetics and
  vasopressin (monitor vital signs) [Ketalar-label] (clinical-facts §5b);
- lamotrigine [Anand2000] [Wilkowska2022]; MAO inhibitors [Ludwig2021] (none of these is in
  clinical-facts);
- mood stabilisers: the bipolar-depression trial's patients were maintained on lithium or
  valproate [Diazgranados2010] (clinical-facts §3d; its abstract, PMC3000408).

RxNorm ingredient codes (RXCUI), each read where ``Drug.code_source`` says; a drug without a
verified code has ``rxcui`` None and is matched by name only:

- [CDC-MME]: the CDC's MME conversion factors, published as a code-system supplement to RxNorm
  (github.com/cqframework/opioid-mme-r4, input/vocabulary/codesystem/
  codesystem-CDCMMEClinicalConversionFactors.json; its OMTKData library's ingredient codes "as
  determined using the RxNav API"): fentanyl 4337, hydrocodone 5489, methadone 6813, morphine
  7052, oxycodone 7804, tramadol 10689, buprenorphine 1819;
- [CPIC-drugs]: the CPIC database's drug table, RxNorm column (github.com/cpicpgx/cpic-data,
  src/main/resources/db/migration/V2__initial_data.sql; buprenorphine in V35__opioid_release.sql),
  whose codes are ingredient-level [elimu-CPIC]: carbamazepine 2002, diazepam 3322, lamotrigine
  28439, methylphenidate 6901, modafinil 30125, valproic acid 11118 (and the six opioids above
  again).

Not verified, so name only: lorazepam, alprazolam, clonazepam, gabapentin, pregabalin,
zolpidem, phenelzine, tranylcypromine, isocarboxazid, selegiline, amphetamine,
dextroamphetamine, lisdexamfetamine, pseudoephedrine, theophylline, aminophylline, lithium,
divalproex sodium (CPIC lists 266856 for it, but whether that concept is an ingredient or a
precise ingredient was not verified).
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from sustain_core.errors import ClinicalValueError

NAME_MAX_CHARACTERS = 200  # a bound against typing errors, not a clinical rule


class DrugClass(StrEnum):
    """A class of drugs the clinic watches for, in the order messages list them."""

    BENZODIAZEPINE = "benzodiazepine"
    OPIOID = "opioid"
    CNS_DEPRESSANT = "cns_depressant"
    LAMOTRIGINE = "lamotrigine"
    MAOI = "maoi"
    SYMPATHOMIMETIC = "sympathomimetic"
    THEOPHYLLINE = "theophylline"
    MOOD_STABILISER = "mood_stabiliser"


# Plain names for messages, e.g. "a mood stabiliser on the medication list".
CLASS_TITLES: Mapping[DrugClass, str] = MappingProxyType(
    {
        DrugClass.BENZODIAZEPINE: "benzodiazepine",
        DrugClass.OPIOID: "opioid",
        DrugClass.CNS_DEPRESSANT: "other CNS depressant",
        DrugClass.LAMOTRIGINE: "lamotrigine",
        DrugClass.MAOI: "MAO inhibitor",
        DrugClass.SYMPATHOMIMETIC: "stimulant or sympathomimetic",
        DrugClass.THEOPHYLLINE: "theophylline or aminophylline",
        DrugClass.MOOD_STABILISER: "mood stabiliser",
    }
)


@dataclass(frozen=True)
class Interaction:
    """What a class of drugs does with ketamine (``effect``, with its sources) and what the
    clinic does about it beyond the flag at screening and the last dose at the gate
    (``action``). ``membership`` says where the class's members come from."""

    drug_class: DrugClass
    title: str
    effect: str
    action: str
    membership: str


_SEDATION = (
    "profound sedation and respiratory depression with ketamine [Ketalar-label] "
    "(clinical-facts §5b)"
)
_WATCH_BREATHING = "watch sedation, breathing and SpO₂ closely during and after the infusion"

INTERACTIONS: Mapping[DrugClass, Interaction] = MappingProxyType(
    {
        interaction.drug_class: interaction
        for interaction in (
            Interaction(
                DrugClass.BENZODIAZEPINE,
                "Benzodiazepines",
                _SEDATION,
                _WATCH_BREATHING,
                "the label names benzodiazepines [Ketalar-label]",
            ),
            Interaction(
                DrugClass.OPIOID,
                "Opioids",
                _SEDATION,
                _WATCH_BREATHING,
                "the label names opioid analgesics [Ketalar-label]",
            ),
            Interaction(
                DrugClass.CNS_DEPRESSANT,
                "Other CNS depressants",
                _SEDATION,
                _WATCH_BREATHING,
                "the label names other CNS depressants [Ketalar-label]; counting gabapentin, "
                "pregabalin and zolpidem among them is ours (unconfirmed)",
            ),
            Interaction(
                DrugClass.LAMOTRIGINE,
                "Lamotrigine",
                "in healthy volunteers, lamotrigine 300 mg 2 h before ketamine lessened its "
                "dissociative and psychotomimetic effects and increased its immediate "
                "mood-elevating effect [Anand2000]; in patients with mood disorders a "
                "lessening of dissociation was not confirmed, and in depression lamotrigine "
                "did not add to ketamine's antidepressant effect [Wilkowska2022]",
                "note the last dose; a prescriber weighs it when reading the dissociation "
                "scores and the response",
                "lamotrigine itself [Anand2000]",
            ),
            Interaction(
                DrugClass.MAOI,
                "MAO inhibitors",
                "blood pressure rose more during esketamine in patients taking "
                "tranylcypromine (dose-related, no hypertensive crisis in 509 "
                "administrations); taking both at once is not recommended for fear of "
                "hypertensive crises [Ludwig2021] (esketamine and tranylcypromine only; for "
                "racemic ketamine and the other MAO inhibitors unconfirmed)",
                "monitor blood pressure closely; a prescriber decides at screening",
                "tranylcypromine [Ludwig2021]; phenelzine, isocarboxazid and selegiline as "
                "MAO inhibitors (unconfirmed as ketamine interactions)",
            ),
            Interaction(
                DrugClass.SYMPATHOMIMETIC,
                "Stimulants and sympathomimetics",
                "ketamine raises blood pressure and heart rate; with sympathomimetics "
                "(and vasopressin) the label asks for close monitoring of vital signs "
                "[Ketalar-label] (clinical-facts §5a, §5b)",
                "monitor vital signs closely",
                "amphetamine, methylphenidate and modafinil are centrally acting "
                "sympathomimetics (ATC N06BA) [WHO-ATC]; dextroamphetamine, lisdexamfetamine "
                "and pseudoephedrine are placed here unconfirmed",
            ),
            Interaction(
                DrugClass.THEOPHYLLINE,
                "Theophylline and aminophylline",
                "may lower the seizure threshold with ketamine [Ketalar-label] "
                "(clinical-facts §5b)",
                "a prescriber weighs the seizure risk at screening",
                "the label names theophylline and aminophylline [Ketalar-label]",
            ),
        )
    }
)


@dataclass(frozen=True)
class Drug:
    """One ingredient of the table: ``names[0]`` is its name (as RxNorm spells the
    ingredient), the others are spellings also recognised. ``rxcui`` is the RxNorm ingredient
    code when verified (``code_source`` says where), else None: matched by name only."""

    names: tuple[str, ...]
    classes: frozenset[DrugClass]
    rxcui: str | None = None
    code_source: str = ""

    @property
    def name(self) -> str:
        return self.names[0]


_CDC = "[CDC-MME] [CPIC-drugs]"
_CPIC = "[CPIC-drugs]"
_B, _O, _C = DrugClass.BENZODIAZEPINE, DrugClass.OPIOID, DrugClass.CNS_DEPRESSANT
_M, _S, _T = DrugClass.MAOI, DrugClass.SYMPATHOMIMETIC, DrugClass.THEOPHYLLINE
_MOOD = DrugClass.MOOD_STABILISER


def _drug(names: tuple[str, ...], *classes: DrugClass, rxcui: str = "", source: str = "") -> Drug:
    return Drug(names, frozenset(classes), rxcui or None, source)


DRUGS: tuple[Drug, ...] = (
    _drug(("lorazepam",), _B),
    _drug(("alprazolam",), _B),
    _drug(("clonazepam",), _B),
    _drug(("diazepam",), _B, rxcui="3322", source=_CPIC),
    _drug(("oxycodone",), _O, rxcui="7804", source=_CDC),
    _drug(("morphine",), _O, rxcui="7052", source=_CDC),
    _drug(("hydrocodone",), _O, rxcui="5489", source="[CDC-MME]"),
    _drug(("tramadol",), _O, rxcui="10689", source=_CDC),
    _drug(("methadone",), _O, rxcui="6813", source=_CDC),
    _drug(("buprenorphine",), _O, rxcui="1819", source=_CDC),
    _drug(("fentanyl",), _O, rxcui="4337", source=_CDC),
    _drug(("gabapentin",), _C),
    _drug(("pregabalin",), _C),
    _drug(("zolpidem",), _C),
    _drug(("lamotrigine",), DrugClass.LAMOTRIGINE, _MOOD, rxcui="28439", source=_CPIC),
    _drug(("phenelzine",), _M),
    _drug(("tranylcypromine",), _M),
    _drug(("isocarboxazid",), _M),
    _drug(("selegiline",), _M),
    _drug(("amphetamine", "amfetamine"), _S),
    _drug(("dextroamphetamine", "dexamfetamine"), _S),
    _drug(("lisdexamfetamine",), _S),
    _drug(("methylphenidate",), _S, rxcui="6901", source=_CPIC),
    _drug(("modafinil",), _S, rxcui="30125", source=_CPIC),
    _drug(("pseudoephedrine",), _S),
    _drug(("theophylline",), _T),
    _drug(("aminophylline",), _T),
    _drug(("lithium",), _MOOD),
    _drug(("valproic acid", "valproate"), _MOOD, rxcui="11118", source=_CPIC),
    _drug(("divalproex sodium", "divalproex"), _MOOD),
    _drug(("carbamazepine",), _MOOD, rxcui="2002", source=_CPIC),
)

# The sources this module cites that clinical-facts does not hold.
REFERENCES: Mapping[str, str] = MappingProxyType(
    {
        "Anand2000": "Anand A, Charney DS, Oren DA, et al. Attenuation of the neuropsychiatric "
        "effects of ketamine with lamotrigine. Arch Gen Psychiatry 2000;57(3):270-276. "
        "doi:10.1001/archpsyc.57.3.270",
        "Wilkowska2022": "Wilkowska A, Wiglusz MS, Jakuszkowiak-Wojten K, Cubała WJ. Ketamine "
        "and lamotrigine combination in psychopharmacology: systematic review. Cells "
        "2022;11(4):645. doi:10.3390/cells11040645. PMC8869907",
        "Ludwig2021": "Ludwig VM, Sauer C, Young AH, et al. Cardiovascular effects of combining "
        "subcutaneous or intravenous esketamine and the MAO inhibitor tranylcypromine for the "
        "treatment of depression: a retrospective cohort study. CNS Drugs 2021;35(8). "
        "doi:10.1007/s40263-021-00837-6",
        "WHO-ATC": "WHO ATC classification, group N06BA centrally acting sympathomimetics: "
        "amfetamine N06BA01 (openFDA substance record, UNII CK833KGX7E), methylphenidate "
        "N06BA04 and modafinil N06BA07 (CPIC drug table, ATC column)",
        "CDC-MME": "CDC MME clinical conversion factors, a code-system supplement to RxNorm. "
        "github.com/cqframework/opioid-mme-r4 (input/vocabulary/codesystem/"
        "codesystem-CDCMMEClinicalConversionFactors.json; input/cql/OMTKData.cql)",
        "CPIC-drugs": "Clinical Pharmacogenetics Implementation Consortium database, drug "
        "table with RxNorm ids. github.com/cpicpgx/cpic-data (src/main/resources/db/"
        "migration/V2__initial_data.sql, V35__opioid_release.sql)",
        "elimu-CPIC": "Shalaby J. Map from CPIC level A medication ingredient codes to RxNorm "
        "codes (2021): the RxNorm codes PharmGKB assigns are ingredient-level. "
        "https://www.elimu.io/blog/cpic-pgx-value-sets/",
    }
)

_WORDS = re.compile(r"[a-z0-9]+")
_BY_RXCUI = MappingProxyType({drug.rxcui: drug for drug in DRUGS if drug.rxcui})
_BY_NAME = MappingProxyType({name: drug for drug in DRUGS for name in drug.names})


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORDS.findall(text.lower()))


def validate_name(name: str) -> str:
    """Return the medication's name as recorded (trimmed).

    Raises ClinicalValueError naming ``name`` when it is blank or longer than
    ``NAME_MAX_CHARACTERS`` (a bound against typing errors, not a clinical rule).
    """
    text = " ".join(name.split())
    if not text:
        raise ClinicalValueError("name", "name the medication (its ingredient, e.g. lorazepam)")
    if len(text) > NAME_MAX_CHARACTERS:
        raise ClinicalValueError(
            "name", f"a medication's name is at most {NAME_MAX_CHARACTERS} characters"
        )
    return text


def lookup(name: str) -> Drug | None:
    """Return the table's drug that ``name`` names exactly (any of its spellings, ignoring
    case and spacing), or None: the name is then recorded as free text."""
    return _BY_NAME.get(" ".join(_words(name)))


def drugs_in(*, rxcui: str | None, name: str) -> tuple[Drug, ...]:
    """Return the table's drugs a recorded medication contains, in table order.

    A known ``rxcui`` decides; otherwise every drug whose name (any spelling) appears in
    ``name`` as whole words counts, so a combination written out finds each of its drugs and
    "Lorazepam 1 mg at night" finds lorazepam. An unknown code falls back to the name.
    """
    if rxcui and rxcui in _BY_RXCUI:
        return (_BY_RXCUI[rxcui],)
    words = _words(name)
    found = []
    for drug in DRUGS:
        if any(_contains(words, _words(spelling)) for spelling in drug.names):
            found.append(drug)
    return tuple(found)


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(words[start : start + size] == phrase for start in range(len(words) - size + 1))


def interactions_of(drugs: Iterable[Drug]) -> tuple[Interaction, ...]:
    """Return the interactions of these drugs' classes, each once, in ``DrugClass`` order (a
    mood stabiliser as such has none)."""
    classes = set().union(*(drug.classes for drug in drugs))
    return tuple(INTERACTIONS[cls] for cls in DrugClass if cls in classes and cls in INTERACTIONS)


def has_class(drugs: Iterable[Drug], drug_class: DrugClass) -> bool:
    """Whether any of these drugs is of ``drug_class``."""
    return any(drug_class in drug.classes for drug in drugs)
