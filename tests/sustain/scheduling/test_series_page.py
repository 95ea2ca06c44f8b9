"""The booking screen: the series as asked, or alternatives saying what they give up."""

import datetime as dt
import zoneinfo

import pytest
import time_machine

from sustain.care import services as care
from sustain.scheduling.models import Appointment

pytestmark = pytest.mark.api

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def enrolled(pat, ada):
    care.enrol_patient(patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada)
    return pat


@time_machine.travel(NOW, tick=False)
def test_series_as_asked_is_shown_in_the_clinics_time(login, sam, enrolled):
    page = login(sam).get(f"/patients/{enrolled.pk}/series/", {"first_day": "2026-11-30"})
    html = page.content.decode()
    assert len(page.context["proposal"]) == 6
    assert "Mon 2026-11-30 08:00–10:00" in html  # New York wall-clock time, not UTC


@time_machine.travel(NOW, tick=False)
def test_an_impossible_window_offers_alternatives_and_one_is_booked(login, sam, enrolled):
    query = {"first_day": "2026-11-30", "window_start": "06:00", "window_end": "07:30"}
    page = login(sam).get(f"/patients/{enrolled.pk}/series/", query)
    kinds = [a.kind for a, _ in page.context["alternatives"]]
    assert page.context["proposal"] == []
    assert "does not fit as asked" in page.content.decode()
    assert "other_time" in kinds

    response = login(sam).post(f"/patients/{enrolled.pk}/series/", query | {"choice": "other_time"})
    visits = list(Appointment.objects.order_by("starts_at"))
    assert response.status_code == 302
    assert len(visits) == 6
    assert visits[0].starts_at.astimezone(NEW_YORK).hour >= 8
