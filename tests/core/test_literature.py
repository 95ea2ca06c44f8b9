"""The seed studies' figures and the definition warnings (sustain_core.literature)."""

from decimal import Decimal

import pytest

from sustain_core import literature, outcomes, protocols

pytestmark = pytest.mark.core

PHQ9 = protocols.PROTOCOLS[("depression-induction", 1)].outcome_rules("phq9")
MADRS = protocols.PROTOCOLS[("murrough-2013", 1)].outcome_rules("madrs")


def test_seed_figures_as_the_reference_states_them() -> None:
    found = {s.key: (s.n, s.response, s.remission) for s in literature.STUDIES}
    assert found == {
        "Murrough2013": (24, Decimal("0.708"), None),
        "Shiroma2014": (12, Decimal("0.916"), Decimal("0.666")),
        "McInnes2022": (None, Decimal("0.536"), Decimal("0.289")),
        "Phillips2019": (None, Decimal("0.59"), None),
        "Ekstrand2022": (None, None, Decimal("0.46")),
        "Feder2021": (30, Decimal("0.67"), None),
    }
    assert literature.MURROUGH_2013.median_relapse_days == 18
    assert literature.SHIROMA_2014.mean_relapse_days == 16
    assert literature.MCINNES_2022.sustained == ((4, Decimal("0.80")), (8, Decimal("0.60")))
    assert literature.PHILLIPS_2019.median_infusions_to_response == 3


def test_definitions_in_words() -> None:
    assert literature.MCINNES_2022.definition == (
        "response: PHQ-9 fall ≥ 50 %; remission: PHQ-9 ≤ 4; 14–31 days post-induction"
    )
    assert literature.FEDER_2021.definition == "response: CAPS-5 fall ≥ 30 %; at week 2"
    odd = literature.Study("X", "X", "bdi2", None, None, None, Decimal("0.5"), None, "t")
    assert odd.definition == "response: BDI2 fall ≥ 50 %; t"


def test_compare_warns_of_another_instrument_mcinnes_against_phq9() -> None:
    assert PHQ9 is not None and MADRS is not None
    assert literature.compare(literature.MCINNES_2022, rules=PHQ9) == (
        "unconfirmed: its relapse definition; the sustained-response figures are approximate (~)",
    )
    assert literature.compare(literature.MURROUGH_2013, rules=PHQ9)[0] == (
        "different instrument: MADRS vs PHQ-9"
    )
    assert literature.compare(literature.SHIROMA_2014, rules=PHQ9)[:2] == (
        "different instrument: MADRS vs PHQ-9",
        "different remission threshold: MADRS ≤ 9 vs PHQ-9 ≤ 4",
    )
    assert literature.compare(literature.PHILLIPS_2019, rules=MADRS) == ()


def test_compare_warns_of_thresholds_and_the_time_point() -> None:
    assert PHQ9 is not None
    ptsd = outcomes.OutcomeRules(
        instrument="pcl5", remission_max=None, response_fraction=Decimal("0.5")
    )
    assert literature.compare(literature.FEDER_2021, rules=ptsd, window_label="day 1–31")[:3] == (
        "different instrument: CAPS-5 vs PCL-5",
        "different response threshold: fall ≥ 30 % vs ≥ 50 %",
        "measured at week 2; here: day 1–31",
    )
    no_remission = outcomes.OutcomeRules(instrument="madrs", remission_max=None)
    assert literature.compare(literature.KETECT_2022, rules=no_remission)[0] == (
        "different remission threshold: MADRS ≤ 10 vs MADRS none"
    )


def test_studies_for_a_condition() -> None:
    assert literature.studies_for("ptsd") == (literature.FEDER_2021,)
    assert literature.studies_for("depression")[0] is literature.MURROUGH_2013
    assert literature.studies_for("chronic_pain") == literature.studies_for("depression")
