"""Cancel, no-show, day phases, and moving one visit with the rest repaired (issue 5, item 4)."""

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from sustain.care import services as care
from sustain.scheduling import services
from sustain.scheduling.models import Appointment
from sustain_core import series
from sustain_core.errors import ClinicalValueError
from sustain_core.protocols import PROTOCOLS

pytestmark = pytest.mark.db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
MONDAY = dt.datetime(2026, 11, 30, 0, 0, tzinfo=NEW_YORK)
RULES = PROTOCOLS[("depression-induction", 1)].series


@pytest.fixture
def visits(pat, ada, sam):
    course = care.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    return services.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())


def local(visit: Appointment) -> str:
    visit.refresh_from_db()
    return visit.starts_at.astimezone(NEW_YORK).strftime("%a %d %H:%M")


def test_cancel_needs_a_coded_reason_and_bumps_the_calendar_sequence(visits, sam):
    with pytest.raises(ClinicalValueError) as excinfo:
        services.cancel_visit(
            appointment=visits[1], reason="other", note=" ", by=sam, now=timezone.now()
        )
    assert excinfo.value.field == "note"
    visit = services.cancel_visit(
        appointment=visits[1], reason="illness", note="", by=sam, now=timezone.now()
    )
    assert (visit.status, visit.cancel_reason, visit.sequence) == ("cancelled", "illness", 1)


def test_no_show_only_after_the_start_and_frees_the_chair(visits, sam):
    first = visits[0]
    with pytest.raises(ClinicalValueError):
        services.mark_no_show(
            appointment=first, by=sam, now=first.starts_at - dt.timedelta(hours=1)
        )
    services.mark_no_show(appointment=first, by=sam, now=first.starts_at + dt.timedelta(minutes=20))
    first.refresh_from_db()
    assert first.status == "no_show"
    assert not Appointment.objects.filter(
        chair=first.chair, status__in=services.OCCUPYING, starts_at=first.starts_at
    ).exists()


def test_moving_a_visit_repairs_the_rest_of_the_series(visits, sam):
    assert [local(v) for v in visits[:3]] == ["Mon 30 08:00", "Wed 02 08:00", "Fri 04 08:00"]
    wednesday = visits[1]
    thursday = wednesday.starts_at + dt.timedelta(days=1)  # Thu: only 24 h before Friday's visit

    result = services.reschedule_visit(
        appointment=wednesday, starts_at=thursday, by=sam, now=timezone.now()
    )

    assert [v.number for v in result.repaired] == [3, 4, 5, 6]
    assert local(visits[1]) == "Thu 03 08:00"
    assert local(visits[2]) == "Mon 07 08:00"  # 48 h after Thursday at the earliest
    starts = [v.starts_at for v in Appointment.objects.filter(pk__in=[v.pk for v in visits])]
    assert series.check_series(RULES, starts, tz=NEW_YORK) == []
    assert result.overridden == []
    assert {v.sequence for v in Appointment.objects.filter(number__gte=2)} == {1}


def test_a_move_that_cannot_be_repaired_needs_a_prescriber_and_a_reason(visits, sam, ada):
    last = visits[-1]
    too_late = visits[0].starts_at + dt.timedelta(days=24)  # beyond the 21-day span
    with pytest.raises(ClinicalValueError) as excinfo:
        services.reschedule_visit(appointment=last, starts_at=too_late, by=sam, now=timezone.now())
    assert str(excinfo.value).startswith(
        "starts_at: this move breaks the protocol's series rules and the rest cannot be "
        "repaired: max_span:"
    )
    with pytest.raises(ClinicalValueError) as excinfo:
        services.reschedule_visit(
            appointment=last,
            starts_at=too_late,
            by=sam,
            override_reason="holiday",
            now=timezone.now(),
        )
    assert excinfo.value.field == "override_reason"
    result = services.reschedule_visit(
        appointment=last,
        starts_at=too_late,
        by=ada,
        override_reason="Patient away; agreed",
        now=timezone.now(),
    )
    last.refresh_from_db()
    assert result.overridden[0].startswith("max_span:")
    assert last.override_reason == "Patient away; agreed"


def test_a_move_into_a_taken_chair_is_a_conflict(visits, sam, north, ada):
    other = care.register_patient(
        by=sam, site=north, given_name="Oz", family_name="Other", sex="unknown",
        date_of_birth=dt.date(1990, 1, 1), phone="", email="", primary_condition="depression",
        weight_kg=visits[0].patient.weights.get().weight_kg, today=dt.date(2026, 11, 27),
        now=timezone.now(),
    )  # fmt: skip
    course = care.enrol_patient(
        patient=other,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    theirs = services.book_visit(
        course=course,
        chair=visits[0].chair,
        starts_at=MONDAY.replace(hour=12),
        by=sam,
        now=timezone.now(),
    )
    with pytest.raises(services.BookingConflict) as excinfo:
        services.reschedule_visit(
            appointment=visits[0],
            starts_at=theirs.starts_at,
            chair=theirs.chair,
            by=sam,
            now=timezone.now(),
        )
    assert (
        str(excinfo.value) == f"starts_at: chair {theirs.chair.name} is already booked at that time"
    )


def test_views_move_and_cancel_through_the_patient_page(login, visits, sam, pat):
    client = login(sam)
    thursday = visits[1].starts_at.astimezone(NEW_YORK) + dt.timedelta(days=1)
    move = {"chair": visits[1].chair_id, "day": f"{thursday:%Y-%m-%d}", "start_time": "08:00"}
    preview = client.post(f"/visits/{visits[1].pk}/move/", move)
    plan = preview.context["plan"]
    response = client.post(
        f"/visits/{visits[1].pk}/move/", {**move, "expected": plan.fingerprint}, follow=True
    )
    assert "Visits 3, 4, 5, 6 moved too" in next(str(m) for m in response.context["messages"])
    client.post(f"/visits/{visits[5].pk}/cancel/", {"reason": "staffing", "confirm": "1"})
    visits[5].refresh_from_db()
    assert visits[5].status == "cancelled"
    assert login(sam).get(f"/patients/{pat.pk}/").status_code == 200
