"""Treatment protocol definitions: the published parameters a course is planned from."""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from sustain_core.errors import ClinicalValueError


@dataclass(frozen=True)
class Citation:
    """A published source and the protocol parameter it backs."""

    key: str
    reference: str
    supports: str


class Condition(StrEnum):
    """The condition a protocol treats."""

    DEPRESSION = "depression"
    ANXIETY = "anxiety"
    PTSD = "ptsd"
    CHRONIC_PAIN = "chronic_pain"


@dataclass(frozen=True)
class Protocol:
    """A versioned infusion protocol.

    ``min_gap`` is the least time between the starts of consecutive infusions and
    ``max_span`` the most time from the start of the first to the end of the last.
    ``instrument`` is the key of the questionnaire that measures the outcome.
    """

    key: str
    version: int
    title: str
    condition: Condition
    dose_mg_per_kg: Decimal
    infusion_minutes: int
    bag_volume_ml: Decimal
    induction_infusions: int
    min_gap: dt.timedelta
    max_span: dt.timedelta
    instrument: str
    citations: tuple[Citation, ...]


# Each parameter is backed by a citation below: [Murrough2013] [Shiroma2014] [Oliver2022]
# [MECP2024] [McInnes2022]. Clinics adopt it as a library copy and may version their own.
DEPRESSION_INDUCTION_V1 = Protocol(
    key="depression-induction",
    version=1,
    title="Depression induction: 6 infusions over 2–3 weeks, 0.5 mg/kg over 40 min",
    condition=Condition.DEPRESSION,
    dose_mg_per_kg=Decimal("0.5"),
    infusion_minutes=40,
    bag_volume_ml=Decimal("100"),
    induction_infusions=6,
    # Thrice weekly (Monday–Wednesday–Friday) leaves at least 48 h between starts.
    min_gap=dt.timedelta(hours=48),
    max_span=dt.timedelta(days=21),
    instrument="phq9",
    citations=(
        Citation(
            key="Murrough2013",
            reference=(
                "Murrough JW, Perez AM, Pillemer S, Stern J, Parides MK, aan het Rot M, "
                "Collins KA, Mathew SJ, Charney DS, Iosifescu DV. Rapid and longer-term "
                "antidepressant effects of repeated ketamine infusions in treatment-resistant "
                "major depression. Biol Psychiatry 2013;74(4):250-256. "
                "doi:10.1016/j.biopsych.2012.06.022. "
                "https://pmc.ncbi.nlm.nih.gov/articles/PMC3725185"
            ),
            supports="0.5 mg/kg; 6 infusions three times weekly over 12 days",
        ),
        Citation(
            key="Shiroma2014",
            reference=(
                "Shiroma PR, Johns B, Kuskowski M, Wels J, Thuras P, Albott CS, Lim KO. "
                "Augmentation of response and remission to serial intravenous subanesthetic "
                "ketamine in treatment resistant depression. J Affect Disord 2014;155:123-129. "
                "https://experts.umn.edu/en/publications/"
                "augmentation-of-response-and-remission-to-serial-intravenous-suba"
            ),
            supports="0.5 mg/kg over 40 min; 6 infusions Monday–Wednesday–Friday",
        ),
        Citation(
            key="Oliver2022",
            reference=(
                "Oliver PA, Snyder AD, Feinn R, Malov S, McDiarmid G, Arias AJ. Clinical "
                "effectiveness of IV racemic ketamine infusions in a large community sample… "
                "J Clin Psychiatry 2022;83(6):21m14336. doi:10.4088/JCP.21m14336. PMID 36112599"
            ),
            supports="6 infusions within 21 days; PHQ-9 as the outcome measure",
        ),
        Citation(
            key="MECP2024",
            reference=(
                "Prospective open-label IV ketamine study (0.5 mg/kg in 100 mL NS over 40 min). "
                "Middle East Curr Psychiatry 2024;31:31. doi:10.1186/s43045-024-00420-x"
            ),
            supports="100 mL 0.9% NaCl over 40 min",
        ),
        Citation(
            key="McInnes2022",
            reference=(
                "McInnes LA, Qian JJ, Gargeya RS, DeBattista C, Heifets BD. A retrospective "
                "analysis of ketamine intravenous therapy for depression in real-world care "
                "settings. J Affect Disord 2022. doi:10.1016/j.jad.2021.12.097. PMID 35027209"
            ),
            supports="PHQ-9 response (≥50% reduction) and remission (total below 5)",
        ),
    ),
)

PROTOCOLS: Mapping[tuple[str, int], Protocol] = MappingProxyType(
    {(protocol.key, protocol.version): protocol for protocol in (DEPRESSION_INDUCTION_V1,)}
)


def get_protocol(key: str, version: int) -> Protocol:
    """Return the protocol with this key and version.

    Raises ClinicalValueError naming ``protocol`` when no such protocol exists.
    """
    try:
        return PROTOCOLS[(key, version)]
    except KeyError:
        known = ", ".join(f"{k} v{v}" for k, v in sorted(PROTOCOLS))
        raise ClinicalValueError(
            "protocol", f"unknown protocol {key} v{version}; known: {known}"
        ) from None
