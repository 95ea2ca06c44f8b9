import datetime as dt
from decimal import Decimal

import pytest

from sustain_core.errors import ClinicalValueError
from sustain_core.protocols import (
    DEPRESSION_INDUCTION_V1,
    PROTOCOLS,
    Condition,
    get_protocol,
)

pytestmark = pytest.mark.core


def test_get_protocol_known_key_and_version() -> None:
    assert get_protocol("depression-induction", 1) is DEPRESSION_INDUCTION_V1


@pytest.mark.parametrize(
    ("key", "version"),
    [
        pytest.param("depression-induction", 2, id="unknown-version"),
        pytest.param("ptsd-induction", 1, id="unknown-key"),
    ],
)
def test_get_protocol_unknown_rejected(key: str, version: int) -> None:
    with pytest.raises(ClinicalValueError) as raised:
        get_protocol(key, version)

    assert raised.value.field == "protocol"
    assert raised.value.message == (
        f"unknown protocol {key} v{version}; known: depression-induction v1"
    )


def test_depression_induction_v1_parameters() -> None:
    protocol = DEPRESSION_INDUCTION_V1

    assert (
        protocol.condition,
        protocol.dose_mg_per_kg,
        protocol.infusion_minutes,
        protocol.bag_volume_ml,
        protocol.induction_infusions,
        protocol.min_gap,
        protocol.max_span,
        protocol.instrument,
    ) == (
        Condition.DEPRESSION,
        Decimal("0.5"),
        40,
        Decimal("100"),
        6,
        dt.timedelta(hours=48),
        dt.timedelta(days=21),
        "phq9",
    )


def test_depression_induction_v1_cites_its_sources() -> None:
    cited = [(c.key, c.supports) for c in DEPRESSION_INDUCTION_V1.citations]

    assert cited == [
        ("Murrough2013", "0.5 mg/kg; 6 infusions three times weekly over 12 days"),
        ("Shiroma2014", "0.5 mg/kg over 40 min; 6 infusions Monday–Wednesday–Friday"),
        ("Oliver2022", "6 infusions within 21 days; PHQ-9 as the outcome measure"),
        ("MECP2024", "100 mL 0.9% NaCl over 40 min"),
        ("McInnes2022", "PHQ-9 response (≥50% reduction) and remission (total below 5)"),
    ]


def test_depression_induction_v1_references_carry_their_doi() -> None:
    references = {c.key: c.reference for c in DEPRESSION_INDUCTION_V1.citations}

    assert references["Murrough2013"].endswith(
        "Biol Psychiatry 2013;74(4):250-256. doi:10.1016/j.biopsych.2012.06.022. "
        "https://pmc.ncbi.nlm.nih.gov/articles/PMC3725185"
    )
    assert references["MECP2024"].endswith("doi:10.1186/s43045-024-00420-x")


def test_protocols_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        PROTOCOLS[("x", 1)] = DEPRESSION_INDUCTION_V1  # type: ignore[index]
