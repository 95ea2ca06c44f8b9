"""The infusion record's PDF draws its vital-signs chart as the chair-side page does: WeasyPrint
draws an inline SVG with the SVG's own stylesheet only, not the page's, so the chart carries
its styles (without them each series' line was a filled black shape over a black infusion)."""

import datetime as dt
import re

import pytest
import time_machine
from django.template.loader import render_to_string
from django.utils import timezone

from sustain.clinic import story
from sustain.infusion import chairside, queries
from sustain.infusion.charts import VITALS_STYLE
from tests.sustain import clinic_builders as build

pytestmark = pytest.mark.db

VITALS_SVG = r'<svg [^>]*class="chart vitals"[^>]*>(<style>[^<]*</style>)?'


def test_the_pdfs_vitals_chart_carries_its_styles_and_the_page_does_not(login, visits, ben):
    visit = visits[0]
    record = story.check_in_and_ready(visit, ben, at=visit.starts_at)
    start = visit.starts_at + dt.timedelta(minutes=15)
    chairside.start_infusion(record=record, container=build.vial(visit.site), by=ben, now=start)
    record.refresh_from_db()
    for m in (15, 30):
        chairside.record_vitals(
            record=record, vitals=story.DURING, by=ben, now=start + dt.timedelta(minutes=m)
        )
    with time_machine.travel(start + dt.timedelta(minutes=35), tick=False):
        view = queries.chairside_view(visit, now=timezone.now())
        page = login(ben).get(f"/visits/{visit.pk}/infusion/").content.decode()
    pdf = render_to_string(
        "infusion/record_pdf.html",
        {"view": view, "appointment": visit, "patient": visit.patient, "tz": visit.site.tz,
         "printed_at": start},
    )  # fmt: skip
    assert re.findall(VITALS_SVG, pdf) == [f"<style>{VITALS_STYLE}</style>"]
    assert ".line{fill:none;" in VITALS_STYLE and ".phase{fill:#7a4bb3;opacity:.08}" in VITALS_STYLE
    # On the page the SVG takes static/sustain.css: a style element there would style it all.
    assert re.findall(VITALS_SVG, page) == [""]


def test_no_reading_no_chart(visits):
    visit = visits[0]  # not checked in: no vital signs yet
    with time_machine.travel(visit.starts_at, tick=False):
        view = queries.chairside_view(visit, now=timezone.now())
    assert view.chart == "" and view.print_chart == ""
