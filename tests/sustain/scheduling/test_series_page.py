"""The booking screen: the series as asked, or alternatives saying what they give up."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.utils import timezone

from sustain.care import services as care
from sustain.scheduling.models import Appointment

pytestmark = pytest.mark.api

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def enrolled(pat, ada):
    care.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
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
    kinds = [a.kind for a, _, _ in page.context["alternatives"]]
    html = page.content.decode()
    assert page.context["proposal"] == []
    assert "does not fit as asked" in html
    assert "other_time" in kinds
    for alternative, gives_up, _ in page.context["alternatives"]:
        assert f"Alternative {alternative.rank}: {gives_up}</h2>" in html
    assert "at 08:00 instead of the morning window" in [
        gives_up for _, gives_up, _ in page.context["alternatives"]
    ]

    response = login(sam).post(f"/patients/{enrolled.pk}/series/", query | {"choice": "other_time"})
    visits = list(Appointment.objects.order_by("starts_at"))
    assert response.status_code == 302
    assert len(visits) == 6
    assert visits[0].starts_at.astimezone(NEW_YORK).hour >= 8


@time_machine.travel(NOW, tick=False)
def test_a_preview_holds_its_chairs_until_booked(login, sam, ada, north, enrolled):
    from sustain.scheduling.models import SeriesHold  # noqa: PLC0415 - local to this test
    from tests.sustain.conftest import make_user  # noqa: PLC0415

    north.chairs.exclude(name="Chair 1").delete()  # one chair: holds decide who gets it
    query = {"first_day": "2026-11-30"}
    shown = login(sam).get(f"/patients/{enrolled.pk}/series/", query)
    assert shown.context["proposal"] and SeriesHold.objects.count() == 0  # a GET holds nothing
    first = login(sam).post(f"/patients/{enrolled.pk}/series/", query | {"search": "1"})
    held = [(start, end) for _, start, end in first.context["proposal"]]
    assert SeriesHold.objects.count() == 1 and first.context["held_until"] is not None

    other = care.register_patient(
        by=sam, site=north, given_name="Al", family_name="Other", sex="unknown",
        date_of_birth=dt.date(1990, 1, 1), phone="", email="", primary_condition="depression",
        weight_kg=enrolled.weights.get().weight_kg, today=NOW.date(), now=timezone.now()
    )  # fmt: skip
    care.enrol_patient(
        patient=other,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    colleague = make_user("sue", "scheduler", north)
    second = login(colleague).post(f"/patients/{other.pk}/series/", query | {"search": "1"})
    theirs = [(start, end) for _, start, end in second.context["proposal"]]
    assert not set(theirs) & set(held)  # the held chair time is not offered to another

    login(sam).post(f"/patients/{enrolled.pk}/series/", query | {"choice": "earliest"})
    booked = [
        (v.starts_at.astimezone(NEW_YORK), v.ends_at.astimezone(NEW_YORK))
        for v in Appointment.objects.filter(patient=enrolled).order_by("starts_at")
    ]
    assert booked == held
    assert SeriesHold.objects.filter(course__patient=enrolled).count() == 0


@pytest.mark.parametrize(("minutes", "held"), [(4, True), (6, False)])
def test_a_hold_lasts_five_minutes(login, sam, ada, north, enrolled, minutes, held):
    from sustain.scheduling.services import _busy  # noqa: PLC0415 - the search's own input

    with time_machine.travel(NOW, tick=False):
        login(sam).post(
            f"/patients/{enrolled.pk}/series/", {"first_day": "2026-11-30", "search": "1"}
        )
        other = care.register_patient(
            by=sam, site=north, given_name="Al", family_name="Other", sex="unknown",
            date_of_birth=dt.date(1990, 1, 1), phone="", email="", primary_condition="depression",
            weight_kg=enrolled.weights.get().weight_kg, today=NOW.date(), now=timezone.now()
        )  # fmt: skip
    with time_machine.travel(NOW + dt.timedelta(minutes=minutes), tick=False):
        chair_busy, _ = _busy(north, other, NOW, NOW + dt.timedelta(days=30), now=timezone.now())
    assert bool(chair_busy) is held  # another patient's search sees the hold, then not


@time_machine.travel(NOW, tick=False)
def test_only_a_member_of_the_patients_site_may_hold_its_chairs(sam, carl, enrolled):
    """The service checks the hold's site against the user's sites (issue 14, item 6)."""
    from django.core.exceptions import PermissionDenied  # noqa: PLC0415

    from sustain.scheduling import services  # noqa: PLC0415
    from sustain.scheduling.models import SeriesHold  # noqa: PLC0415

    course = care.active_course(enrolled)
    wanted = services.SeriesRequest(earliest=timezone.now())
    result = services.propose_series(course=course, request=wanted, now=timezone.now())
    with pytest.raises(PermissionDenied):
        services.hold_series(course=course, result=result, by=carl, now=timezone.now())
    assert SeriesHold.objects.count() == 0
    services.hold_series(course=course, result=result, by=sam, now=timezone.now())
    assert SeriesHold.objects.count() >= 1
