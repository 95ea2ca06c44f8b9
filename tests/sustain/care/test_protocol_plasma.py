"""The modelled plasma curve on every protocol page (issue 17, item 5): the curve of one
session at a reference 70 kg, labelled a model, with the measured anchor; or a sentence why
there is none."""

import dataclasses
from decimal import Decimal

import pytest

from sustain.care import pk_chart
from sustain_core import pk, protocols
from sustain_core.protocols.model import DoseRegimen, RegimenKind

pytestmark = pytest.mark.api


@pytest.mark.parametrize(("key", "version"), sorted(protocols.PROTOCOLS))
def test_every_library_protocol_page_shows_its_curve_or_why_not(login, ben, key, version):
    response = login(ben).get(f"/protocols/{key}/v{version}/")
    html = response.content.decode()
    plasma = response.context["plasma"]
    assert response.status_code == 200
    assert "Modelled plasma level (model, not a measurement)" in html
    if plasma.chart:
        assert '<svg xmlns="http://www.w3.org/2000/svg"' in html
        assert "Model, not a measurement: Clements &amp; Nimmo 1981, 2-compartment" in html
        assert "185 ng/mL measured at the end of 0.5 mg/kg over 40 min [Zanos2018-T1]" in html
        assert "dissociative range 100–250 ng/mL [Zanos2018-T1]" in html
        assert plasma.summary.startswith("For a reference 70 kg adult (")
        assert plasma.summary in html
    else:  # pragma: no cover - every library regimen can be modelled today
        assert plasma.reason.startswith("No plasma curve for this regimen: ")
        assert plasma.reason in html


def test_the_depression_page_shows_the_checked_end_of_infusion_level(login, ben):
    """0.5 mg/kg over 40 min at 70 kg: 177 ng/mL (Clements), within ±30 % of the measured
    ~185 ng/mL [Zanos2018-T1]."""
    response = login(ben).get("/protocols/depression-induction/v1/")
    html = response.content.decode()
    assert (
        "For a reference 70 kg adult (35 mg over 40 min). The model puts the level at the end of "
        "the infusion (40 min) at 177 ng/mL; about 185 ng/mL was measured"
    ) in html
    curve = pk_chart.curve_for(
        Decimal(70), pk.regimen_schedule(protocols.PROTOCOLS[("depression-induction", 1)].regimen,
                                          weight_kg=Decimal(70)),
    )  # fmt: skip
    assert abs(curve.end_ng_per_ml - 185) <= 0.3 * 185
    assert curve.peak_at_min == curve.end_min == 40.0


def test_the_crps_page_draws_four_hours_at_its_hourly_rate(login, ben):
    """0.35 mg/kg/h at 70 kg is 24.5 mg/h, under the 25 mg/h cap, for 240 min."""
    html = login(ben).get("/protocols/crps-schwartzman-2009/v1/").content.decode()
    assert "For a reference 70 kg adult (24.5 mg/h for 240 min, 98 mg)" in html
    assert "at the end of the infusion (240 min) at 207 ng/mL" in html
    assert "infusing 0–240 min at 24.50 mg/h" in html


def test_a_regimen_the_model_cannot_take_gets_a_sentence_not_an_error():
    protocol = protocols.PROTOCOLS[("depression-induction", 1)]
    too_long = dataclasses.replace(
        protocol,
        regimen=DoseRegimen(
            kind=RegimenKind.PER_SESSION, mg_per_kg=Decimal("0.5"), infusion_minutes=1500
        ),
    )
    plasma = pk_chart.protocol_plasma(too_long)
    assert plasma.chart == ""
    assert plasma.reason == (
        "No plasma curve for this regimen: stretch 1 (0–1500 min) ends after 1440 min; a "
        "schedule spans at most a day."
    )


def test_a_paused_curve_names_its_peak_before_the_end():
    segments = (
        pk.Segment(Decimal(0), Decimal(30), Decimal("1.5")),
        pk.Segment(Decimal(30), Decimal(60), Decimal("0.1")),
    )
    curve = pk_chart.curve_for(Decimal(70), segments)
    assert curve.peak_at_min == 30.0
    assert "its peak" in pk_chart.summary(curve)
    assert "at 30 min" in pk_chart.summary(curve)
