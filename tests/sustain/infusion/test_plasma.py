"""The infusion as given as the plasma model's schedule (sustain.infusion.plasma) and its curve
on the chair-side record and its PDF (issue 17, item 5): a pause, a rate change, a rate change
the text of which names no rate, the bag running empty, a projection while infusing."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.template.loader import render_to_string
from django.utils import timezone

from sustain.clinic import story
from sustain.infusion import chairside, queries
from sustain.infusion.models import InfusionRecord
from sustain.infusion.plasma import read_rate, record_plasma, record_schedule
from sustain_core import pk
from tests.sustain import clinic_builders as build

pytestmark = pytest.mark.db

FAST, SLOW = Decimal("0.875"), Decimal("0.4375")  # 150 and 75 mL/h of 35 mg in 100 mL


def minutes(visit, m):
    return visit.starts_at + dt.timedelta(minutes=m)


def started(visit, ben):
    """Ready at the visit's start, 0.5 mg/kg × 70 kg = 35 mg in 100 mL at 150 mL/h from +15."""
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    chairside.start_infusion(
        record=record, container=build.vial(visit.site), by=ben, now=minutes(visit, 15)
    )
    record.refresh_from_db()
    return record


def paused_and_slowed(visit, ada, ben):
    """Stopped 10 min in, resumed 5 min later, slowed to 75 mL/h 5 min after that, a rate
    change with no rate, ended 80 min in (the bag ran empty at 70)."""
    record = started(visit, ben)
    chairside.add_event(
        record=record, kind="stop", detail="Emergence reaction", by=ben, now=minutes(visit, 25)
    )
    chairside.resume(record=record, reason="Settled", by=ada, now=minutes(visit, 30))
    chairside.add_event(
        record=record, kind="rate_change", detail="Pump rate to 75 mL/h", by=ben,
        now=minutes(visit, 35),
    )  # fmt: skip
    chairside.add_event(
        record=record, kind="rate_change", detail="slower", by=ben, now=minutes(visit, 40)
    )
    chairside.end_infusion(record=record, by=ben, now=minutes(visit, 95))
    record.refresh_from_db()
    return record


def seg(start, end, rate):
    return pk.Segment(Decimal(start), Decimal(end), rate)


def test_a_pause_and_a_rate_change_become_the_models_stretches(visits, ada, ben):
    visit = visits[0]
    record = paused_and_slowed(visit, ada, ben)
    given = InfusionRecord.objects.get(appointment=visit)
    schedule = record_schedule(
        given=given, record=record, events=list(record.events.all()), tz=visit.site.tz
    )
    assert schedule.weight_kg == Decimal("70.0")
    assert schedule.segments == (seg(0, 10, FAST), seg(15, 20, FAST), seg(20, 70, SLOW))
    assert sum(s.mg for s in schedule.segments) == Decimal(35)
    assert schedule.notes == (
        "The rate change at 08:40 (“slower”) names no single rate in mL/h or mg/h: the model "
        "kept the rate before it.",
        "The bag ran empty at 70 min from the start, before the recorded stop or end: the model "
        "stops the pump there.",
    )
    # The pause lowers the curve and delays the peak against the infusion as planned.
    as_given = pk.plasma_curve(weight_kg=Decimal(70), segments=schedule.segments, times_min=[40])
    planned = pk.plasma_curve(weight_kg=Decimal(70), segments=(seg(0, 40, FAST),), times_min=[40])
    assert as_given.ng_per_ml[0] < planned.ng_per_ml[0]
    assert as_given.peak_ng_per_ml < planned.peak_ng_per_ml


def test_the_chair_page_and_the_pdf_draw_the_curve_as_a_model(login, visits, ada, ben):
    visit = visits[0]
    paused_and_slowed(visit, ada, ben)
    with time_machine.travel(minutes(visit, 100), tick=False):
        html = login(ben).get(f"/visits/{visit.pk}/infusion/").content.decode()
        view = queries.chairside_view(visit, now=timezone.now())
    assert "Modelled plasma level (model, not a measurement)" in html
    assert "Model, not a measurement: Clements &amp; Nimmo 1981, 2-compartment" in html
    assert "At the dosing weight 70 kg, about 35 mg over 3 stretches of infusion." in html
    assert "The model puts the level at the end of the infusion (70 min) at" in html
    assert "(“slower”) names no single rate" in html
    assert "infusing 20–70 min at 26.25 mg/h" in html
    pdf = render_to_string(
        "infusion/record_pdf.html",
        {"view": view, "appointment": visit, "patient": visit.patient, "tz": visit.site.tz,
         "printed_at": timezone.now()},
    )  # fmt: skip
    assert "Modelled plasma level (model, not a measurement)" in pdf
    assert view.plasma.summary in pdf


def test_a_running_infusion_is_projected_until_the_bag_is_empty(visits, ben):
    visit = visits[0]
    record = started(visit, ben)
    chairside.add_event(
        record=record, kind="rate_change", detail="to 13.125 mg/h", by=ben, now=minutes(visit, 35)
    )
    record.refresh_from_db()
    given = InfusionRecord.objects.get(appointment=visit)
    plasma = record_plasma(
        given=given, record=record, events=list(record.events.all()), tz=visit.site.tz
    )
    schedule = record_schedule(
        given=given, record=record, events=list(record.events.all()), tz=visit.site.tz
    )
    # 17.5 mg in 20 min, then 17.5 mg at 13.125 mg/h: 80 min more.
    assert schedule.segments == (seg(0, 20, FAST), seg(20, 100, Decimal("0.21875")))
    assert "Projected: the infusion has no recorded end" in plasma.summary
    assert "(100 min from the start)" in plasma.summary


def test_no_curve_before_the_start_nor_without_time_at_a_rate(visits, ben):
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    assert record_plasma(given=None, record=record, events=[], tz=visit.site.tz).reason == (
        "The model is drawn once the infusion has started."
    )
    chairside.start_infusion(
        record=record, container=build.vial(visit.site), by=ben, now=minutes(visit, 15)
    )
    record.refresh_from_db()
    chairside.add_event(
        record=record, kind="rate_change", detail="0 mL/h", by=ben, now=minutes(visit, 15)
    )
    given = InfusionRecord.objects.get(appointment=visit)
    plasma = record_plasma(
        given=given, record=record, events=list(record.events.all()), tz=visit.site.tz
    )
    assert (plasma.chart, plasma.reason) == (
        "",
        "No plasma curve: the record shows no time at a rate.",
    )


def test_a_record_the_model_refuses_gets_a_sentence(visits, ben):
    visit = visits[0]
    record = started(visit, ben)
    given = InfusionRecord.objects.get(appointment=visit)
    given.weight_kg = Decimal("310.0")  # not saved: a weight the model refuses
    plasma = record_plasma(given=given, record=record, events=[], tz=visit.site.tz)
    assert plasma.chart == ""
    assert plasma.reason.startswith("No plasma curve for this record: weight must be between 30")


def test_record_schedule_needs_a_start(visits, ben):
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    with pytest.raises(Exception, match="the infusion has not started"):
        record_schedule(given=InfusionRecord(), record=record, events=[], tz=visit.site.tz)


@pytest.mark.parametrize(
    ("text", "mg_per_min"),
    [
        ("75 mL/h", Decimal("0.4375")),
        ("Pump to 75 ml / hr", Decimal("0.4375")),
        ("12.6 mg/h", Decimal("0.21")),
        ("from 150 mL/h to 75 mL/h", None),
        ("slower", None),
        ("75", None),
        ("1.5.2 mL/h", None),
    ],
)
def test_only_one_rate_with_its_unit_is_read(text, mg_per_min):
    assert read_rate(text, mg_per_ml=Decimal("0.35")) == mg_per_min
